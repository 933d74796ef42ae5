"""The command center's live board: work queues (待立案 … 待审批) and intake per channel per day.

Each queue says which case-list filter (`GET /api/v1/cases?…`) lists exactly the cases it counts; the
predicates here are the ones `pingan.cases.queries.list_cases` applies for those filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from pingan.cases import lifecycle
from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case
from pingan.cases.queries import scoped
from pingan.intake.adapters import CHANNEL_LABELS, CHANNELS
from pingan.metrics.kpis import day_of
from pingan.timeutil import CST, utcnow


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    label_en: str
    filter: dict[str, Any]

    def predicate(self, now: datetime) -> ColumnElement[bool]:
        f = self.filter
        if "status" in f:
            return Case.status.in_(f["status"])
        if f.get("overdue"):
            return and_(Case.status.in_(lifecycle.WITH_DEPARTMENT), Case.deadline_at < now)
        if f.get("due_soon"):
            return and_(Case.status.in_(lifecycle.WITH_DEPARTMENT), Case.urge_at <= now, Case.deadline_at >= now)
        if f.get("pending"):
            return Case.pending_request["type"].as_string().is_not(None)
        raise AssertionError(f"queue {self.key} has no predicate")

    def list_url(self) -> str:
        params: list[tuple[str, str]] = []
        for k, v in self.filter.items():
            for item in v if isinstance(v, list) else [v]:
                params.append((k, str(item).lower() if isinstance(item, bool) else str(item)))
        return "/api/v1/cases?" + urlencode(params)


QUEUES = [
    Queue("received", "待立案", "to register", {"status": [Status.RECEIVED.value]}),
    Queue("registered", "待派遣", "to dispatch", {"status": [Status.REGISTERED.value]}),
    Queue("assigned", "待签收", "to sign for", {"status": [Status.ASSIGNED.value]}),
    Queue("due_soon", "即将超期", "due soon (urge time passed, not yet overdue)", {"due_soon": True}),
    Queue("overdue", "已超期", "overdue", {"overdue": True}),
    Queue("feedback", "待核查", "to verify", {"status": [Status.FEEDBACK.value]}),
    Queue("verified", "待结案", "to close", {"status": [Status.VERIFIED.value]}),
    Queue("closed", "待回访", "to revisit", {"status": [Status.CLOSED.value]}),
    Queue("suspended", "缓办", "suspended", {"status": [Status.SUSPENDED.value]}),
    Queue("pending_request", "待审批", "requests to approve (extension, suspension)", {"pending": True}),
]

# Every queue counts only cases in these states (terminal cases are in no queue).
_LIVE = sorted(s.value for s in lifecycle.OPEN | {Status.CLOSED})


def queues(session: Session, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    cols = [func.sum(case((q.predicate(now), 1), else_=0)).label(q.key) for q in QUEUES]
    q: Any = select(*cols).select_from(Case)
    row = session.execute(scoped(q, actor).where(Case.status.in_(_LIVE))).one()
    return {
        "at": now.isoformat(),
        "queues": [
            {
                "key": q.key,
                "label": q.label,
                "label_en": q.label_en,
                "count": int(getattr(row, q.key) or 0),
                "filter": q.filter,
                "list_url": q.list_url(),
            }
            for q in QUEUES
        ],
    }


def intake(session: Session, actor: Actor, days: int, now: datetime | None = None) -> dict[str, Any]:
    """Cases received per channel per day (China time), today first."""
    now = now or utcnow()
    today = now.astimezone(CST).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=CST)
    day = day_of(session, Case.received_at)
    q: Any = select(day.label("day"), Case.channel, func.count()).select_from(Case)
    rows = session.execute(
        scoped(q, actor).where(Case.received_at >= start, Case.received_at <= now).group_by(day, Case.channel)
    ).all()
    table: dict[str, dict[str, int]] = {}
    for d, ch, n in rows:
        table.setdefault(str(d), {})[str(ch)] = int(n)
    channels = list(CHANNELS) + sorted({ch for per in table.values() for ch in per} - set(CHANNELS))
    out = []
    for i in range(days):
        d = (today - timedelta(days=i)).isoformat()
        per = table.get(d, {})
        out.append({"day": d, "total": sum(per.values()), "by_channel": {ch: per.get(ch, 0) for ch in channels}})
    return {
        "days": days,
        "since": start.isoformat(),
        "channels": [{"channel": ch, "label": CHANNEL_LABELS.get(ch, ch)} for ch in channels],
        "rows": out,
        "total": sum(r["total"] for r in out),
    }
