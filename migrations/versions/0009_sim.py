"""sim: index cases.merged_into_id (looked up on every close)

Revision ID: 0009_sim
Revises: 0001_core
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_sim"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_merged_into_id", "cases", ["merged_into_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_merged_into_id", table_name="cases")
