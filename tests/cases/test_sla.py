"""Working-time deadlines on China's statutory calendar (policy working hours 08:30–12:00, 14:30–18:00)."""

from __future__ import annotations

from datetime import datetime

import pytest

from pingan.cases.policies import Limit
from pingan.cases.sla import WorkCalendar, notice_from_lists
from pingan.timeutil import CST, to_cst

HOURS = [("08:30", "12:00"), ("14:30", "18:00")]


def cal(**notices: tuple[list[str], list[str]]) -> WorkCalendar:
    return WorkCalendar.from_policy(HOURS, {int(y[1:]): notice_from_lists(*n) for y, n in notices.items()})


def local(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=CST)


def test_day_is_seven_working_hours() -> None:
    assert cal().day_hours == 7


def test_golden_week_2025_and_the_adjusted_saturday() -> None:
    # Tue 30 Sep 10:00 + 3 working days (21 h): 5.5 h that day, 1–8 Oct off, Thu 9 and Fri 10 (14 h),
    # then Saturday 11 Oct is an adjusted working day (调休上班): 1.5 h → 10:00.
    deadline, provisional = cal().add(local("2025-09-30T10:00"), Limit(amount=3, unit="work_days"))
    assert to_cst(deadline) == local("2025-10-11T10:00")
    assert provisional is False


def test_sunday_28_september_2025_is_a_working_day() -> None:
    deadline, _ = cal().add(local("2025-09-27T09:00"), Limit(amount=2, unit="work_hours"))
    assert to_cst(deadline) == local("2025-09-28T10:30")


def test_golden_week_2026() -> None:
    # Wed 30 Sep 2026 17:00 + 2 working hours: 1 h left that day; 1–7 Oct off; Thu 8 Oct 09:30.
    deadline, _ = cal().add(local("2026-09-30T17:00"), Limit(amount=2, unit="work_hours"))
    assert to_cst(deadline) == local("2026-10-08T09:30")


def test_weekend_and_lunch_break() -> None:
    c = cal()
    deadline, _ = c.add(local("2026-11-27T17:00"), Limit(amount=2, unit="work_hours"))  # a Friday
    assert to_cst(deadline) == local("2026-11-30T09:30")
    deadline, _ = c.add(local("2026-11-30T11:00"), Limit(amount=2, unit="work_hours"))
    assert to_cst(deadline) == local("2026-11-30T15:30")


def test_start_outside_working_hours_counts_from_the_next_opening() -> None:
    deadline, _ = cal().add(local("2026-11-30T20:00"), Limit(amount=1, unit="work_hours"))
    assert to_cst(deadline) == local("2026-12-01T09:30")


def test_natural_hours_ignore_the_calendar() -> None:
    deadline, provisional = cal().add(local("2026-10-01T23:00"), Limit(amount=2, unit="hours"))
    assert to_cst(deadline) == local("2026-10-02T01:00")
    assert provisional is False


def test_unknown_year_is_provisional_monday_to_friday() -> None:
    # Wed 30 Dec 2026 10:00 + 13 working days (91 h): 12.5 h in 2026; 2027 is unknown to the library, so
    # Mon–Fri counts (1 Jan 2027 included): Jan 1, 4–8, 11–15 = 11 days (77 h), 1.5 h on Mon 18 Jan.
    deadline, provisional = cal().add(local("2026-12-30T10:00"), Limit(amount=13, unit="work_days"))
    assert to_cst(deadline) == local("2027-01-18T10:00")
    assert provisional is True


def test_a_holiday_notice_makes_it_final() -> None:
    c = cal(y2027=(["2027-01-01"], []))
    deadline, provisional = c.add(local("2026-12-30T10:00"), Limit(amount=13, unit="work_days"))
    assert to_cst(deadline) == local("2027-01-19T10:00")
    assert provisional is False


def test_notice_workdays_override_weekends() -> None:
    c = cal(y2027=([], ["2027-01-02"]))
    deadline, _ = c.add(local("2027-01-01T17:00"), Limit(amount=2, unit="work_hours"))
    assert to_cst(deadline) == local("2027-01-02T09:30")


def test_work_hours_between() -> None:
    c = cal()
    assert c.work_hours_between(local("2026-11-30T08:30"), local("2026-12-01T08:30")) == pytest.approx(7)
    assert c.work_hours_between(local("2026-12-01T08:30"), local("2026-11-30T08:30")) == pytest.approx(-7)


def test_remembered_deadlines_equal_the_walk_and_the_memo_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from pingan.cases import sla

    monkeypatch.setattr(sla, "SUMS_KEPT", 50)
    c = cal()
    start = datetime(2025, 9, 26, 9, 30, tzinfo=CST)
    for i in range(120):
        at = start + timedelta(hours=7 * i, minutes=13 * i)
        for hours in (2.0, 21.0, 91.0):
            first = c.add_work_hours(at, hours)
            assert first == c.add_work_hours(at, hours) == c._walk(at, hours)
    assert 0 < len(c._sums) <= 50
