"""The SLA sweeper: 催办 before the deadline, 督办 when overdue, 升级 to the level above after that.

Runs inside every server process. Each pass claims due cases with FOR UPDATE SKIP LOCKED (PostgreSQL),
so two processes never urge the same case twice; on SQLite the single writer lock does the same.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from pingan.cases import deadlines, lifecycle, service
from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case
from pingan.cases.schemas import ActionInput
from pingan.db import is_sqlite
from pingan.errors import PinganError
from pingan.timeutil import utcnow

log = logging.getLogger("pingan.sweeper")
SWEEPER = Actor.system("时限监控")

URGED, OVERDUE, ESCALATED = 1, 2, 3


def due_query(now: datetime) -> Select[Any]:
    return (
        select(Case)
        .where(
            Case.status.in_(lifecycle.WITH_DEPARTMENT),
            or_(
                and_(
                    Case.sweep_stage < URGED,
                    or_(Case.urge_at <= now, and_(Case.status == Status.ASSIGNED, Case.sign_deadline_at <= now)),
                ),
                and_(Case.sweep_stage < OVERDUE, Case.deadline_at <= now),
                and_(Case.sweep_stage < ESCALATED, Case.escalate_at <= now),
            ),
        )
        .order_by(Case.deadline_at)
        .limit(200)
    )


def sweep_once(factory: sessionmaker[Session], now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    counts = {"urged": 0, "supervised": 0, "escalated": 0}
    pol = deadlines.policy()
    with factory() as session, session.begin():
        q = due_query(now)
        if not is_sqlite(session):
            q = q.with_for_update(skip_locked=True)
        for case in session.scalars(q).all():
            try:
                _sweep_case(session, case, now, pol.supervise_when_overdue, counts)
            except PinganError as exc:  # a case changed under us: the next pass sees its new state
                log.info("sweeper skipped case %s: %s", case.id, exc.en)
    return counts


def _sweep_case(session: Session, case: Case, now: datetime, supervise: bool, counts: dict[str, int]) -> None:
    if case.escalate_at and case.escalate_at <= now and case.sweep_stage < ESCALATED:
        service.act(session, case.id, "escalate", SWEEPER, ActionInput(note="超期未办结，升级至上一级"), now)
        case.sweep_stage = ESCALATED
        counts["escalated"] += 1
    elif case.deadline_at and case.deadline_at <= now and case.sweep_stage < OVERDUE:
        service.act(session, case.id, "urge", SWEEPER, ActionInput(note="已超期，请立即办理"), now)
        if supervise:
            service.act(session, case.id, "supervise", SWEEPER, ActionInput(note="超期督办"), now)
            counts["supervised"] += 1
        case.sweep_stage = OVERDUE
        counts["urged"] += 1
    elif case.sweep_stage < URGED:
        note = (
            "超时未签收，请及时签收"
            if case.status == Status.ASSIGNED and case.sign_deadline_at and case.sign_deadline_at <= now
            else "即将超期，请抓紧办理"
        )
        service.act(session, case.id, "urge", SWEEPER, ActionInput(note=note), now)
        case.sweep_stage = URGED
        counts["urged"] += 1
