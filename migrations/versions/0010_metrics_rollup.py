"""metrics: the KPI rollup (metric_facts) and its catch-up state

Revision ID: 0010_metrics_rollup
Revises: 0005_metrics

A database without cases gets the state row at once (an empty rollup is complete); a database with a
timeline keeps computing figures from the raw timeline until `pingan metrics rebuild` has run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pingan.db

revision: str = "0010_metrics_rollup"
down_revision: str | Sequence[str] | None = "0005_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("signed_on_time", sa.Boolean(), nullable=False),
        sa.Column("returned", sa.Boolean(), nullable=False),
        sa.Column("solved", sa.Boolean(), nullable=False),
        sa.Column("satisfaction", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "seq", name="uq_metric_facts_case_seq"),
    )
    op.create_index("ix_metric_facts_family_at", "metric_facts", ["family", "at"], unique=False)
    op.create_table(
        "metric_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("rebuilt_at", pingan.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "INSERT INTO metric_rollup_state (id, last_event_id) "
        "SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM case_events)"
    )


def downgrade() -> None:
    op.drop_table("metric_rollup_state")
    op.drop_index("ix_metric_facts_family_at", table_name="metric_facts")
    op.drop_table("metric_facts")
