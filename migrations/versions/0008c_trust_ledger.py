"""trust: the global anchor ledger over every case timeline and the security log

Revision ID: 0008c_trust
Revises: 0008b_trust
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pingan.db

revision: str = "0008c_trust"
down_revision: str | Sequence[str] | None = "0008b_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("subject_seq", sa.Integer(), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index(op.f("ix_audit_ledger_case_id"), "audit_ledger", ["case_id"], unique=False)
    op.create_table(
        "audit_ledger_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("event_cursor", sa.BigInteger(), nullable=False),
        sa.Column("settled_id", sa.BigInteger(), nullable=False),
        sa.Column("pending_id", sa.BigInteger(), nullable=False),
        sa.Column("pending_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("security_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("audit_ledger_head")
    op.drop_index(op.f("ix_audit_ledger_case_id"), table_name="audit_ledger")
    op.drop_table("audit_ledger")
