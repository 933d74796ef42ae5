"""Deadlines of a case from the deadline policy and the working calendar (with administrators' notices)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.cases.models import Case, HolidayNotice
from pingan.cases.policies import DeadlinePolicy, Limit
from pingan.cases.sla import Notice, WorkCalendar, notice_from_lists
from pingan.policy import registry
from pingan.timeutil import as_utc


def policy() -> DeadlinePolicy:
    return registry.load("deadlines", DeadlinePolicy)


_CALENDAR = "pingan.calendar"
_NOTICES = select(HolidayNotice.year, HolidayNotice.holidays, HolidayNotice.workdays)


def calendar(session: Session, fresh: bool = False) -> WorkCalendar:
    """The working calendar with the administrator's holiday notices, read once per transaction (an intake
    batch hands hundreds of cases over in one); `fresh`: read again (a notice was just written)."""
    conn = session.connection()  # begins the transaction when none has begun yet
    tx = session.get_transaction()
    hit = session.info.get(_CALENDAR)
    if not fresh and hit is not None and hit[0] is tx:
        return hit[1]
    notices: dict[int, Notice] = {
        int(year): notice_from_lists(holidays, workdays) for year, holidays, workdays in conn.execute(_NOTICES)
    }
    cal = WorkCalendar.from_policy(policy().working_hours, notices)
    session.info[_CALENDAR] = (tx, cal)
    return cal


def set_deadlines(
    case: Case,
    start: datetime,
    cal: WorkCalendar,
    extensions: list[dict[str, Any]] | None = None,
    limit: Limit | None = None,
) -> None:
    """(Re)compute sign, handling, urge and escalation instants of a case handed over at `start`."""
    pol = policy()
    limit = limit or pol.limit_for(case.case_type, case.urgency)
    extensions = extensions or []
    case.sla_basis = {
        "start": as_utc(start).isoformat(),
        "amount": limit.amount,
        "unit": limit.unit,
        "extensions": extensions,
    }
    sign_at, p1 = cal.add(start, pol.sign_limit)
    deadline, p2 = cal.add(start, limit)
    provisional = p1 or p2
    for ext in extensions:
        deadline, p = cal.add(deadline, Limit(amount=ext["amount"], unit=ext["unit"]))
        provisional = provisional or p
    share = Limit(amount=limit.amount * pol.urge_at_share, unit=limit.unit)
    urge_at, p3 = cal.add(start, share)
    escalate_at, p4 = cal.add(deadline, pol.escalate_after)
    case.sign_deadline_at = sign_at
    case.deadline_at = deadline
    case.urge_at = min(urge_at, deadline)
    case.escalate_at = escalate_at
    case.deadline_provisional = provisional or p3 or p4
    case.sweep_stage = 0


def recompute_provisional(session: Session) -> int:
    """After a holiday notice is added: recompute every open provisional deadline. Returns how many."""
    cal = calendar(session, fresh=True)
    n = 0
    for case in session.scalars(select(Case).where(Case.deadline_provisional.is_(True))):
        basis = case.sla_basis
        if not basis:
            continue
        limit = Limit(amount=basis["amount"], unit=basis["unit"])
        set_deadlines(case, datetime.fromisoformat(basis["start"]), cal, basis.get("extensions"), limit)
        n += 1
    return n
