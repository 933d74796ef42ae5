"""web: indexes for the command center, the case list and the live map (see pingan.web.models)

Revision ID: 0007_web
Revises: 0001_core
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_web"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_status_received", "cases", ["status", "received_at"], unique=False)
    op.create_index("ix_cases_channel_received", "cases", ["channel", "received_at"], unique=False)
    op.create_index("ix_cases_updated", "cases", ["updated_at"], unique=False)
    op.create_index("ix_case_departments_dept_case", "case_departments", ["department_id", "case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_departments_dept_case", table_name="case_departments")
    op.drop_index("ix_cases_updated", table_name="cases")
    op.drop_index("ix_cases_channel_received", table_name="cases")
    op.drop_index("ix_cases_status_received", table_name="cases")
