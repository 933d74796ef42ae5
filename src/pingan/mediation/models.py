"""Disputes (矛盾纠纷), their parties, mediation sessions, documents and hash-chained timeline; the mediator
roster with its duty rota; petitions (信访) with their own timeline.

Only `pingan.mediation.service` (and `pingan.mediation.rota` for the rota) writes these tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pingan.db import Base


class Mediator(Base):
    """A person on a mediation roster: a town's people's mediator, or a volunteer of a mediation center."""

    __tablename__ = "mediators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # lawyer 律师 / mediator 调解员 / counsellor 心理咨询师 / officer 综治干部 / judge 法官 …
    kind: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(100))
    # The center whose duty rota this person is on ("" for none), e.g. "marriage:430621".
    center: Mapped[str] = mapped_column(String(40), default="", index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class MediatorUnavailability(Base):
    """A day a roster member cannot be on duty (leave, court, training)."""

    __tablename__ = "mediator_unavailability"
    __table_args__ = (UniqueConstraint("mediator_id", "day", name="uq_mediator_unavailability"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mediator_id: Mapped[int] = mapped_column(ForeignKey("mediators.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")


class DutySlot(Base):
    """One person on duty at a center on one day (值班)."""

    __tablename__ = "duty_slots"
    __table_args__ = (
        UniqueConstraint("center", "day", "mediator_id", name="uq_duty_slots"),
        Index("ix_duty_slots_center_day", "center", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    center: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    mediator_id: Mapped[int] = mapped_column(ForeignKey("mediators.id"), index=True)
    # Who was scheduled before a swap (None: as generated).
    swapped_from_id: Mapped[int | None] = mapped_column(ForeignKey("mediators.id"))


class RotaEvent(Base):
    """Append-only record of rota generation and swaps (调班)."""

    __tablename__ = "rota_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    center: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(20))  # generate / swap
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Dispute(Base):
    """A dispute record with GB/T 31000-style fields and the state of its mediation."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_status_deadline", "status", "deadline_at"),
        Index("ix_disputes_center_registered", "center", "registered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    dispute_type: Mapped[str] = mapped_column(String(20), index=True)  # 婚姻家庭/邻里/土地山林/…
    scale: Mapped[str] = mapped_column(String(10), default="一般")  # 一般/较大/重大
    people_count: Mapped[int] = mapped_column(default=2)
    amount: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    place: Mapped[str] = mapped_column(String(300), default="")
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    town_code: Mapped[str | None] = mapped_column(String(9), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15))
    description: Mapped[str] = mapped_column(Text)
    # Where it came from: case / sweep (排查) / court (法院委派) / walk_in (来访) / petition (信访)
    source: Mapped[str] = mapped_column(String(10))
    source_ref: Mapped[str] = mapped_column(String(100), default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    way: Mapped[str] = mapped_column(String(10), default="人民调解")  # 人民调解/行政调解/司法调解/诉调对接
    organisation: Mapped[str] = mapped_column(String(100), default="")
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("mediators.id"), index=True)
    # A mediation center's key ("marriage:430621") when the center handles it; "" otherwise.
    center: Mapped[str] = mapped_column(String(40), default="")
    family_kind: Mapped[str | None] = mapped_column(String(20))  # divorce / domestic_violence / minors
    status: Mapped[str] = mapped_column(String(20), index=True)
    risk_level: Mapped[str] = mapped_column(String(10), default="low")
    risk_reasons: Mapped[list[Any]] = mapped_column(default=list)
    risk_factors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The highest level ever assessed: what "escalations prevented" counts from.
    peak_risk: Mapped[str] = mapped_column(String(10), default="low")
    escalated: Mapped[bool] = mapped_column(default=False)  # 激化 recorded (民转刑 / 群体性事件 / 越级上访)
    group_incident: Mapped[bool] = mapped_column(default=False)
    registered_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    agreed_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    performed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(10))  # 达成协议/和好/协议离婚/转诉讼/调解终止/拒绝调解
    agreement: Mapped[dict[str, Any] | None]  # facts, terms, performance manner and time
    signed_document_id: Mapped[int | None]
    routes: Mapped[list[Any]] = mapped_column(default=list)  # 调解终止: 诉讼/仲裁/行政
    cooling_off_until: Mapped[date | None] = mapped_column(Date)
    judicial_deadline: Mapped[date | None] = mapped_column(Date)
    judicial_applied_at: Mapped[datetime | None]
    judicial_result: Mapped[str | None] = mapped_column(String(10))  # 确认有效 / 驳回
    session_count: Mapped[int] = mapped_column(default=0)
    revisit_count: Mapped[int] = mapped_column(default=0)
    evaluation: Mapped[str | None] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime]
    event_count: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    parties: Mapped[list[DisputeParty]] = relationship(
        back_populates="dispute", cascade="all, delete-orphan", order_by="DisputeParty.id"
    )
    sessions: Mapped[list[MediationSession]] = relationship(
        back_populates="dispute", cascade="all, delete-orphan", order_by="MediationSession.seq"
    )


class DisputeParty(Base):
    """A party (当事人); name, phone and ID number are personal data, masked in API output."""

    __tablename__ = "dispute_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # 申请人/被申请人/第三人
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(18))
    address: Mapped[str] = mapped_column(String(200), default="")
    minor: Mapped[bool] = mapped_column(default=False)
    # SHA-256 of the ID number (or phone): links a party to their petitions without storing it twice.
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    refused: Mapped[bool] = mapped_column(default=False)

    dispute: Mapped[Dispute] = relationship(back_populates="parties")


class MediationSession(Base):
    """One mediation session (调解): when, where, who, what happened and the risk re-assessed."""

    __tablename__ = "mediation_sessions"
    __table_args__ = (UniqueConstraint("dispute_id", "seq", name="uq_mediation_sessions_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]
    held_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    participants: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text)
    risk_level: Mapped[str] = mapped_column(String(10))
    risk_reasons: Mapped[list[Any]] = mapped_column(default=list)
    recorded_by: Mapped[str] = mapped_column(String(64))

    dispute: Mapped[Dispute] = relationship(back_populates="sessions")


class DisputeDocument(Base):
    """An uploaded document of a dispute (the signed agreement scan, a court referral letter …)."""

    __tablename__ = "dispute_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # signed_agreement / referral / other
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(80))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class DisputeEvent(Base):
    """One entry of a dispute's timeline; `hash` covers the event and the previous event's hash."""

    __tablename__ = "dispute_events"
    __table_args__ = (UniqueConstraint("dispute_id", "seq", name="uq_dispute_events_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    seq: Mapped[int]
    action: Mapped[str] = mapped_column(String(30), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Petition(Base):
    """A petition (信访): a letter, a visit or an online submission."""

    __tablename__ = "petitions"
    __table_args__ = (Index("ix_petitions_backlog", "backlog", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    form: Mapped[str] = mapped_column(String(10))  # 来信/来访/网上
    petitioner_name: Mapped[str] = mapped_column(String(64))
    petitioner_phone: Mapped[str | None] = mapped_column(String(32))
    petitioner_id_number: Mapped[str | None] = mapped_column(String(18))
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    people_count: Mapped[int] = mapped_column(default=1)
    subject: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    # The level the petition was brought to, and the level with authority over the matter.
    received_level: Mapped[str] = mapped_column(String(10))  # town/county/city/province/national
    proper_level: Mapped[str] = mapped_column(String(10))
    skip_level: Mapped[bool] = mapped_column(default=False)  # 越级上访
    # The earlier petition of the same person on the same matter (重复信访), and how many came before.
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("petitions.id"))
    repeat_index: Mapped[int] = mapped_column(default=0)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    received_at: Mapped[datetime]
    accept_deadline: Mapped[date | None] = mapped_column(Date)
    reply_deadline: Mapped[date | None] = mapped_column(Date)
    accepted_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolved: Mapped[bool | None]  # 息访 / 案结事了 at closing
    reply: Mapped[str | None] = mapped_column(Text)
    backlog: Mapped[bool] = mapped_column(default=False)  # 积案
    backlog_since: Mapped[datetime | None]
    backlog_owner: Mapped[str | None] = mapped_column(String(100))  # 包案领导 / 责任单位
    backlog_deadline: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime]
    event_count: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PetitionEvent(Base):
    """One entry of a petition's timeline, hash-chained like the dispute timeline."""

    __tablename__ = "petition_events"
    __table_args__ = (UniqueConstraint("petition_id", "seq", name="uq_petition_events_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id"), index=True)
    seq: Mapped[int]
    action: Mapped[str] = mapped_column(String(30), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
