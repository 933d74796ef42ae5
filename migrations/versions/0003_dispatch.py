"""dispatch: routing corrections (dispatcher overrides the next training learns from)

Revision ID: 0003_dispatch
Revises: 0001_core
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pingan.db

revision: str = "0003_dispatch"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("suggested_category", sa.String(length=20), nullable=True),
        sa.Column("suggested_department_id", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("created_at", pingan.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["suggested_department_id"], ["departments.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_routing_corrections_case_id"), "routing_corrections", ["case_id"], unique=False)
    op.create_index(op.f("ix_routing_corrections_created_at"), "routing_corrections", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_routing_corrections_created_at"), table_name="routing_corrections")
    op.drop_index(op.f("ix_routing_corrections_case_id"), table_name="routing_corrections")
    op.drop_table("routing_corrections")
