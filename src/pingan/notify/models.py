"""The notification outbox: written in the same transaction as the event that caused it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db import Base


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique key of what caused the message: a second sweeper process inserting the same urge fails here.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # urge / supervise / escalate / assigned / closed / notify
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(120))  # "department:12", "user:3", "grid:430602...", "caller"
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending / sent / failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
