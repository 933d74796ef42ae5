"""mediation: disputes, parties, sessions, documents, timeline; roster and rota; petitions

Revision ID: 0006_mediation
Revises: 0001_core
Create Date: 2026-11-29 18:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import pingan.db

revision: str = "0006_mediation"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mediators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("center", sa.String(length=40), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", pingan.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mediators", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mediators_center"), ["center"], unique=False)
        batch_op.create_index(batch_op.f("ix_mediators_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_mediators_user_id"), ["user_id"], unique=False)

    op.create_table(
        "rota_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rota_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rota_events_center"), ["center"], unique=False)

    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("dispute_type", sa.String(length=20), nullable=False),
        sa.Column("scale", sa.String(length=10), nullable=False),
        sa.Column("people_count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("town_code", sa.String(length=9), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_ref", sa.String(length=100), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("way", sa.String(length=10), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("mediator_id", sa.Integer(), nullable=True),
        sa.Column("center", sa.String(length=40), nullable=False),
        sa.Column("family_kind", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("risk_level", sa.String(length=10), nullable=False),
        sa.Column(
            "risk_reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "risk_factors", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("peak_risk", sa.String(length=10), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("group_incident", sa.Boolean(), nullable=False),
        sa.Column("registered_at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("accepted_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("deadline_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("agreed_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("signed_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("performed_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column(
            "agreement", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.Column("signed_document_id", sa.Integer(), nullable=True),
        sa.Column("routes", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("cooling_off_until", sa.Date(), nullable=True),
        sa.Column("judicial_deadline", sa.Date(), nullable=True),
        sa.Column("judicial_applied_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("judicial_result", sa.String(length=10), nullable=True),
        sa.Column("session_count", sa.Integer(), nullable=False),
        sa.Column("revisit_count", sa.Integer(), nullable=False),
        sa.Column("evaluation", sa.String(length=10), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["mediator_id"],
            ["mediators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_disputes_center_registered", ["center", "registered_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_county_code"), ["county_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_dispute_type"), ["dispute_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_mediator_id"), ["mediator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_status"), ["status"], unique=False)
        batch_op.create_index("ix_disputes_status_deadline", ["status", "deadline_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_disputes_town_code"), ["town_code"], unique=False)

    op.create_table(
        "duty_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mediator_id", sa.Integer(), nullable=False),
        sa.Column("swapped_from_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mediator_id"],
            ["mediators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["swapped_from_id"],
            ["mediators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("center", "day", "mediator_id", name="uq_duty_slots"),
    )
    with op.batch_alter_table("duty_slots", schema=None) as batch_op:
        batch_op.create_index("ix_duty_slots_center_day", ["center", "day"], unique=False)
        batch_op.create_index(batch_op.f("ix_duty_slots_mediator_id"), ["mediator_id"], unique=False)

    op.create_table(
        "mediator_unavailability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mediator_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["mediator_id"],
            ["mediators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mediator_id", "day", name="uq_mediator_unavailability"),
    )
    with op.batch_alter_table("mediator_unavailability", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mediator_unavailability_mediator_id"), ["mediator_id"], unique=False)

    op.create_table(
        "dispute_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("mime", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", pingan.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dispute_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispute_documents_dispute_id"), ["dispute_id"], unique=False)

    op.create_table(
        "dispute_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dispute_id", "seq", name="uq_dispute_events_seq"),
    )
    with op.batch_alter_table("dispute_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispute_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_events_dispute_id"), ["dispute_id"], unique=False)

    op.create_table(
        "dispute_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("person_key", sa.String(length=64), nullable=True),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dispute_parties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispute_parties_dispute_id"), ["dispute_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_parties_person_key"), ["person_key"], unique=False)

    op.create_table(
        "mediation_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("held_at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column(
            "participants", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("risk_level", sa.String(length=10), nullable=False),
        sa.Column(
            "risk_reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dispute_id", "seq", name="uq_mediation_sessions_seq"),
    )
    with op.batch_alter_table("mediation_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mediation_sessions_dispute_id"), ["dispute_id"], unique=False)

    op.create_table(
        "petitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("form", sa.String(length=10), nullable=False),
        sa.Column("petitioner_name", sa.String(length=64), nullable=False),
        sa.Column("petitioner_phone", sa.String(length=32), nullable=True),
        sa.Column("petitioner_id_number", sa.String(length=18), nullable=True),
        sa.Column("person_key", sa.String(length=64), nullable=True),
        sa.Column("people_count", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("received_level", sa.String(length=10), nullable=False),
        sa.Column("proper_level", sa.String(length=10), nullable=False),
        sa.Column("skip_level", sa.Boolean(), nullable=False),
        sa.Column("repeat_of_id", sa.Integer(), nullable=True),
        sa.Column("repeat_index", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("accept_deadline", sa.Date(), nullable=True),
        sa.Column("reply_deadline", sa.Date(), nullable=True),
        sa.Column("accepted_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("replied_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("backlog", sa.Boolean(), nullable=False),
        sa.Column("backlog_since", pingan.db.UTCDateTime(), nullable=True),
        sa.Column("backlog_owner", sa.String(length=100), nullable=True),
        sa.Column("backlog_deadline", sa.Date(), nullable=True),
        sa.Column("updated_at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["repeat_of_id"],
            ["petitions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.create_index("ix_petitions_backlog", ["backlog", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_county_code"), ["county_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_dispute_id"), ["dispute_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_person_key"), ["person_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_status"), ["status"], unique=False)

    op.create_table(
        "petition_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("at", pingan.db.UTCDateTime(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("petition_id", "seq", name="uq_petition_events_seq"),
    )
    with op.batch_alter_table("petition_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_petition_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_petition_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_petition_events_petition_id"), ["petition_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("petition_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_petition_events_petition_id"))
        batch_op.drop_index(batch_op.f("ix_petition_events_at"))
        batch_op.drop_index(batch_op.f("ix_petition_events_action"))

    op.drop_table("petition_events")
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_petitions_status"))
        batch_op.drop_index(batch_op.f("ix_petitions_region_code"))
        batch_op.drop_index(batch_op.f("ix_petitions_person_key"))
        batch_op.drop_index(batch_op.f("ix_petitions_dispute_id"))
        batch_op.drop_index(batch_op.f("ix_petitions_county_code"))
        batch_op.drop_index("ix_petitions_backlog")

    op.drop_table("petitions")
    with op.batch_alter_table("mediation_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mediation_sessions_dispute_id"))

    op.drop_table("mediation_sessions")
    with op.batch_alter_table("dispute_parties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_parties_person_key"))
        batch_op.drop_index(batch_op.f("ix_dispute_parties_dispute_id"))

    op.drop_table("dispute_parties")
    with op.batch_alter_table("dispute_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_events_dispute_id"))
        batch_op.drop_index(batch_op.f("ix_dispute_events_at"))
        batch_op.drop_index(batch_op.f("ix_dispute_events_action"))

    op.drop_table("dispute_events")
    with op.batch_alter_table("dispute_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_documents_dispute_id"))

    op.drop_table("dispute_documents")
    with op.batch_alter_table("mediator_unavailability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mediator_unavailability_mediator_id"))

    op.drop_table("mediator_unavailability")
    with op.batch_alter_table("duty_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_slots_mediator_id"))
        batch_op.drop_index("ix_duty_slots_center_day")

    op.drop_table("duty_slots")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_town_code"))
        batch_op.drop_index("ix_disputes_status_deadline")
        batch_op.drop_index(batch_op.f("ix_disputes_status"))
        batch_op.drop_index(batch_op.f("ix_disputes_region_code"))
        batch_op.drop_index(batch_op.f("ix_disputes_mediator_id"))
        batch_op.drop_index(batch_op.f("ix_disputes_dispute_type"))
        batch_op.drop_index(batch_op.f("ix_disputes_county_code"))
        batch_op.drop_index("ix_disputes_center_registered")
        batch_op.drop_index(batch_op.f("ix_disputes_case_id"))

    op.drop_table("disputes")
    with op.batch_alter_table("rota_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rota_events_center"))

    op.drop_table("rota_events")
    with op.batch_alter_table("mediators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mediators_user_id"))
        batch_op.drop_index(batch_op.f("ix_mediators_region_code"))
        batch_op.drop_index(batch_op.f("ix_mediators_center"))

    op.drop_table("mediators")
