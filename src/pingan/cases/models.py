"""Cases (案件/工单), their departments, timeline events and attachments.

Only `pingan.cases.service` writes these tables; everything else reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from pingan.db import Base
from pingan.security.crypto import EncryptedText


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_cases_channel_external"),
        Index("ix_cases_status_deadline", "status", "deadline_at"),
        Index("ix_cases_county_status", "county_code", "status"),
        Index("ix_cases_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    case_type: Mapped[str] = mapped_column(String(10))  # 咨询/求助/投诉/举报/建议/上报
    kind: Mapped[str] = mapped_column(String(10), default="承诺件")  # 即办件/承诺件/协调件
    urgency: Mapped[str] = mapped_column(String(10), default="normal")  # normal/urgent/emergency
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    # Region codes, most specific first; county_code is the partitioning key of a province-scale deployment.
    region_code: Mapped[str] = mapped_column(String(15), index=True)
    county_code: Mapped[str] = mapped_column(String(6))
    town_code: Mapped[str | None] = mapped_column(String(9), index=True)
    village_code: Mapped[str | None] = mapped_column(String(12))
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    locate_level: Mapped[str] = mapped_column(String(10), default="city")
    category: Mapped[str | None] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20))
    # Personal information, encrypted by the application (pingan.security.crypto); masked on display.
    caller_name: Mapped[str | None] = mapped_column(EncryptedText("cases.caller_name"))
    caller_phone: Mapped[str | None] = mapped_column(EncryptedText("cases.caller_phone"))
    caller_id_number: Mapped[str | None] = mapped_column(EncryptedText("cases.caller_id_number"))
    # Kept in clear so that the public tracking lookup needs no decryption (set from caller_phone).
    caller_phone_last4: Mapped[str | None] = mapped_column(String(4))
    confidential: Mapped[bool] = mapped_column(default=False)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # No index of its own: ix_cases_department_deadline leads with it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # 首接负责: the platform that owns the matter until the other one accepts a transfer.
    owner_platform: Mapped[str] = mapped_column(String(10), default="12345")
    received_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    sign_deadline_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    deadline_provisional: Mapped[bool] = mapped_column(default=False)
    # What the deadline was computed from (start, amount, unit, extensions), so that it can be recomputed
    # when an administrator adds a year's holiday notice.
    sla_basis: Mapped[dict[str, Any] | None]
    urge_at: Mapped[datetime | None] = mapped_column(index=True)
    escalate_at: Mapped[datetime | None]
    # Sweeper progress for the current deadline: 0 none, 1 urged, 2 overdue (督办), 3 escalated.
    sweep_stage: Mapped[int] = mapped_column(default=0)
    signed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    pending_request: Mapped[dict[str, Any] | None]
    resume_status: Mapped[str | None] = mapped_column(String(20))
    return_count: Mapped[int] = mapped_column(default=0)
    rework_count: Mapped[int] = mapped_column(default=0)
    urge_count: Mapped[int] = mapped_column(default=0)
    supervised: Mapped[bool] = mapped_column(default=False)
    escalation_level: Mapped[int] = mapped_column(default=0)
    satisfaction: Mapped[str | None] = mapped_column(String(10))
    routing: Mapped[dict[str, Any] | None]
    # The text vector duplicate search computed at intake (pingan.dispatch.duplicates.TextModel.pack), so
    # that other server processes' indexes read it instead of computing it; loaded only when asked for.
    dup_vector: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    event_count: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    departments: Mapped[list[CaseDepartment]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseDepartment.id"
    )

    @validates("caller_phone")
    def _phone_last4(self, _key: str, value: str | None) -> str | None:
        self.caller_phone_last4 = value[-4:] if value else None
        return value


class CaseDepartment(Base):
    """Departments handling a case: one lead (主办) and, for 协调件, co-handlers (协办)."""

    __tablename__ = "case_departments"
    __table_args__ = (UniqueConstraint("case_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))  # indexed by the unique pair
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # lead / co
    active: Mapped[bool] = mapped_column(default=True)
    feedback: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="departments")


class CaseEvent(Base):
    """One entry of a case's timeline; `hash` covers the event and the previous event's hash."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Neither column has an index of its own: uq_case_events_seq leads with case_id, and
    # ix_case_events_action_at (pingan.metrics.models) with action.
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int]
    action: Mapped[str] = mapped_column(String(30))
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


class Attachment(Base):
    """An uploaded photo or document, checked by content; stored on disk by its SHA-256."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    filename: Mapped[str] = mapped_column(String(200), default="")
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class HolidayNotice(Base):
    """A year's official holiday notice (国务院办公厅关于放假安排的通知), added by an administrator.

    Overrides chinese-calendar for that year; years neither knows are provisional (Mon–Fri).
    """

    __tablename__ = "holiday_notices"

    year: Mapped[int] = mapped_column(primary_key=True)
    holidays: Mapped[list[Any]]  # ISO dates that are days off
    workdays: Mapped[list[Any]]  # ISO dates of adjusted working weekends (调休上班)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


# Tables derived from the timeline keep in step with it in the same transaction (the KPI rollup).
from pingan.metrics import rollup as _rollup  # noqa: E402

_rollup.install()
