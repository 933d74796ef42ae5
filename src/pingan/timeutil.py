"""Time helpers. Pingan stores UTC and reasons about working time in China Standard Time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as China Standard Time: that is what callers in Yueyang mean."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=CST)
    return value.astimezone(UTC)


def to_cst(value: datetime) -> datetime:
    return as_utc(value).astimezone(CST)
