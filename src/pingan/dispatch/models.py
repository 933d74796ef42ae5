"""Dispatch tables: the dispatcher corrections that the next training learns from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db import Base


class RoutingCorrection(Base):
    """A dispatcher assigned a case to another department or category than the routing suggested."""

    __tablename__ = "routing_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # The message as the classifier saw it (kept here so that training needs no join and survives redaction).
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    county_code: Mapped[str] = mapped_column(String(6))
    suggested_category: Mapped[str | None] = mapped_column(String(20))
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    confidence: Mapped[float | None]
    category: Mapped[str | None] = mapped_column(String(20))  # the category the dispatcher chose
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(index=True)
