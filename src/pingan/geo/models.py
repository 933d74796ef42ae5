"""Administrative divisions (行政区划) by NBS code: city → county → town/street → village/community."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db import Base

LEVELS = ("city", "county", "township", "village")


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    subtype: Mapped[str] = mapped_column(String(20), default="")
