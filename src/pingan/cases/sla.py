"""Working time on China's statutory calendar (法定节假日 and 调休 working weekends).

chinese-calendar knows the official notices up to its release; an administrator adds later years'
notices (HolidayNotice). A year neither knows falls back to Monday–Friday and every deadline that
touches it is marked provisional, to be recomputed when the notice arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import chinese_calendar

from pingan.cases.policies import Limit
from pingan.timeutil import CST, as_utc

MAX_DAYS = 3 * 366
SUMS_KEPT = 4096


@dataclass(frozen=True)
class Notice:
    holidays: frozenset[date]
    workdays: frozenset[date]


@dataclass
class WorkCalendar:
    segments: list[tuple[time, time]]
    notices: Mapping[int, Notice] = field(default_factory=dict)
    # Answers by day: chinese-calendar validates its argument on every call, and a deadline asks about each
    # day it walks; that was a tenth of a real-text intake batch's time. The notices never change in place: a
    # new notice builds a new calendar (deadlines.calendar).
    _days: dict[date, tuple[bool, bool]] = field(default_factory=dict, repr=False, compare=False)
    # Deadlines by (start, working hours): the cases of an intake batch share their start, and a 13-working-day
    # deadline walks some twenty days (3 % of a real-text batch's CPU).
    _sums: dict[tuple[datetime, float], tuple[datetime, bool]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_policy(
        cls, working_hours: Iterable[tuple[str, str]], notices: Mapping[int, Notice] | None = None
    ) -> WorkCalendar:
        segs = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in working_hours]
        return cls(segments=segs, notices=dict(notices or {}))

    @property
    def day_hours(self) -> float:
        return sum(_hours(a, b) for a, b in self.segments)

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is it a working day, is that answer provisional)."""
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._workday(day)
        return known

    def _workday(self, day: date) -> tuple[bool, bool]:
        notice = self.notices.get(day.year)
        if notice is not None:
            if day in notice.workdays:
                return True, False
            if day in notice.holidays:
                return False, False
            return day.weekday() < 5, False
        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:
            return day.weekday() < 5, True

    def add(self, start: datetime, limit: Limit) -> tuple[datetime, bool]:
        """The instant `limit` after `start`, and whether an unknown year made it provisional."""
        start = as_utc(start)
        if limit.unit == "hours":
            return start + timedelta(hours=limit.amount), False
        hours = limit.amount * (self.day_hours if limit.unit == "work_days" else 1)
        return self.add_work_hours(start, hours)

    def add_work_hours(self, start: datetime, hours: float) -> tuple[datetime, bool]:
        key = (start, hours)
        known = self._sums.get(key)
        if known is None:
            if len(self._sums) >= SUMS_KEPT:
                self._sums.clear()
            known = self._sums[key] = self._walk(start, hours)
        return known

    def _walk(self, start: datetime, hours: float) -> tuple[datetime, bool]:
        remaining = timedelta(hours=hours)
        local = as_utc(start).astimezone(CST)
        day = local.date()
        provisional = False
        for _ in range(MAX_DAYS):
            work, prov = self.is_workday(day)
            if work:
                provisional = provisional or prov
                for seg_start, seg_end in self.segments:
                    a = datetime.combine(day, seg_start, CST)
                    b = datetime.combine(day, seg_end, CST)
                    a = max(a, local)
                    if a >= b:
                        continue
                    if b - a >= remaining:
                        return as_utc(a + remaining), provisional
                    remaining -= b - a
            day += timedelta(days=1)
        raise ValueError("deadline is more than three years away")

    def work_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours in [start, end); used to show how much working time is left."""
        a_local, b_local = as_utc(start).astimezone(CST), as_utc(end).astimezone(CST)
        if b_local <= a_local:
            return -self.work_hours_between(end, start)
        total = 0.0
        day = a_local.date()
        while day <= b_local.date():
            if self.is_workday(day)[0]:
                for seg_start, seg_end in self.segments:
                    a = max(datetime.combine(day, seg_start, CST), a_local)
                    b = min(datetime.combine(day, seg_end, CST), b_local)
                    if b > a:
                        total += (b - a).total_seconds() / 3600
            day += timedelta(days=1)
        return total


def _hours(a: time, b: time) -> float:
    return (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 3600


def notice_from_lists(holidays: Iterable[str], workdays: Iterable[str]) -> Notice:
    return Notice(
        holidays=frozenset(date.fromisoformat(d) for d in holidays),
        workdays=frozenset(date.fromisoformat(d) for d in workdays),
    )
