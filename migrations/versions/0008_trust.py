"""trust: security-event log (hash chain, no delete), TOTP, encrypted caller data

Revision ID: 0008_trust
Revises: 0001_core
Create Date: 2026-11-29 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import pingan.db

revision: str = "0008_trust"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETENTION_DAYS = 183

PG_GUARD = f"""
CREATE OR REPLACE FUNCTION pingan_security_events_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'security events cannot be changed';
    END IF;
    IF OLD.at > (now() AT TIME ZONE 'utc') - interval '{RETENTION_DAYS} days' THEN
        RAISE EXCEPTION 'security events are kept for at least {RETENTION_DAYS} days';
    END IF;
    RETURN OLD;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER security_events_guard BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION pingan_security_events_guard();
"""

SQLITE_GUARD = [
    """CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events
       BEGIN SELECT RAISE(ABORT, 'security events cannot be changed'); END""",
    f"""CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events
       WHEN OLD.at > datetime('now', '-{RETENTION_DAYS} days')
       BEGIN SELECT RAISE(ABORT, 'security events are kept for at least {RETENTION_DAYS} days'); END""",
]


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_events_kind"), ["kind"], unique=False)
    head = op.create_table(
        "security_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table(
        "user_totp",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("created_at", pingan.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.add_column("cases", sa.Column("caller_id_number", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("caller_phone_last4", sa.String(length=4), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Ciphertext is longer than the plain values were (SQLite does not enforce lengths).
        op.alter_column("cases", "caller_name", type_=sa.Text(), existing_nullable=True)
        op.alter_column("cases", "caller_phone", type_=sa.Text(), existing_nullable=True)
        op.execute(PG_GUARD)
    else:
        for stmt in SQLITE_GUARD:
            op.execute(stmt)
    _encrypt_existing(bind)


def _encrypt_existing(bind: sa.Connection) -> None:
    """Rows written before this revision hold plain text: encrypt them and fill caller_phone_last4."""
    from pingan.security import crypto

    rows = bind.execute(
        sa.text(
            "SELECT id, caller_name, caller_phone FROM cases WHERE caller_name IS NOT NULL OR caller_phone IS NOT NULL"
        )
    ).all()
    for case_id, name, phone in rows:
        params = {
            "id": case_id,
            "name": crypto.encrypt(name, "cases.caller_name") if name and not name.startswith(crypto.PREFIX) else name,
            "phone": crypto.encrypt(phone, "cases.caller_phone")
            if phone and not phone.startswith(crypto.PREFIX)
            else phone,
            "last4": phone[-4:] if phone and not phone.startswith(crypto.PREFIX) else None,
        }
        bind.execute(
            sa.text(
                "UPDATE cases SET caller_name = :name, caller_phone = :phone, caller_phone_last4 = :last4"
                " WHERE id = :id"
            ),
            params,
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS security_events_guard ON security_events")
        op.execute("DROP FUNCTION IF EXISTS pingan_security_events_guard()")
    op.drop_column("cases", "caller_phone_last4")
    op.drop_column("cases", "caller_id_number")
    op.drop_table("user_totp")
    op.drop_table("security_chain_head")
    with op.batch_alter_table("security_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_events_kind"))
        batch_op.drop_index(batch_op.f("ix_security_events_at"))
    op.drop_table("security_events")
