"""metrics: index for the KPI queries (timeline events by action and time)

Revision ID: 0005_metrics
Revises: 0001_core
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_metrics"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_events_action_at", "case_events", ["action", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_events_action_at", table_name="case_events")
