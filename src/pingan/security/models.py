"""The security-event log (安全审计): its own hash chain, separate from the case timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db import Base


class SecurityEvent(Base):
    """One security event. `hash` = SHA-256(prev_hash ‖ canonical JSON of the event).

    The application has no code path that updates or deletes these rows; the database refuses DELETE of
    rows younger than the retention period (migration 0008's triggers).
    """

    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    outcome: Mapped[str] = mapped_column(String(10), default="ok")  # ok / denied / failed
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(120), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SecurityChainHead(Base):
    """One row (id 1): the last sequence number and hash. Writers lock it, so the chain stays linear,
    and a deleted tail is caught because the head no longer matches."""

    __tablename__ = "security_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))


class RateCounter(Base):
    """Rate-limit counters shared by every server process (security/http.py): one row per (rule, client
    address), a two-window sliding estimate. Rows whose windows have passed are deleted."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)  # "rule|address"
    window_start: Mapped[int] = mapped_column(BigInteger)  # epoch seconds, a multiple of the rule's window
    hits: Mapped[int] = mapped_column(default=0)  # allowed requests in the current window
    prev_hits: Mapped[int] = mapped_column(default=0)  # … in the window before it
    last_ok: Mapped[int] = mapped_column(default=1)  # 1 when the latest request was allowed
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch seconds; deletable after this
