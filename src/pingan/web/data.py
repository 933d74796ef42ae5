"""What the pages read: queue counts, today's intake, filtered case lists, KPIs with their drill-down.

Every query goes through `pingan.cases.queries.scoped`, so a page never shows more than the API would.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, event, func, or_, select
from sqlalchemy.orm import Session

from pingan.cases import lifecycle
from pingan.cases.actors import Actor
from pingan.cases.models import Case, CaseDepartment, CaseEvent
from pingan.cases.queries import scoped
from pingan.errors import Invalid
from pingan.orgs.roles import Role
from pingan.timeutil import utcnow
from pingan.web import kpi

CST = ZoneInfo("Asia/Shanghai")
CHANNELS = ["hotline_12345", "police_110", "grid", "online", "visit"]
CHANNEL_LABELS = {
    "hotline_12345": ("12345", "12345"),
    "police_110": ("110", "110"),
    "grid": ("网格", "Grid"),
    "online": ("线上", "Online"),
    "visit": ("来访", "Walk-in"),
}
DUE_SOON = timedelta(hours=24)
SORTS = ("-received_at", "received_at", "deadline_at", "-deadline_at", "-updated_at", "id")


def today_start(now: datetime | None = None) -> datetime:
    local = (now or utcnow()).astimezone(CST)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _intake_today(session: Session, actor: Actor) -> dict[str, int]:
    base: Any = select(Case.channel, func.count()).where(Case.received_at >= today_start())
    q = scoped(base, actor).group_by(Case.channel)
    counts = {str(c): int(n) for c, n in session.execute(q)}
    return {ch: counts.get(ch, 0) for ch in CHANNELS}


# Queue name → predicate over Case (given now).
def queue_predicates(now: datetime) -> dict[str, ColumnElement[bool]]:
    with_dep = Case.status.in_(lifecycle.WITH_DEPARTMENT)
    return {
        "received": Case.status == lifecycle.Status.RECEIVED,
        "registered": Case.status == lifecycle.Status.REGISTERED,
        "assigned": Case.status == lifecycle.Status.ASSIGNED,
        "in_progress": Case.status.in_([lifecycle.Status.SIGNED, lifecycle.Status.IN_PROGRESS]),
        "due_soon": and_(with_dep, Case.deadline_at >= now, Case.deadline_at < now + DUE_SOON),
        "overdue": and_(with_dep, Case.deadline_at < now),
        "feedback": Case.status == lifecycle.Status.FEEDBACK,
        "closed": Case.status == lifecycle.Status.CLOSED,
        "returned": and_(Case.status.not_in(lifecycle.TERMINAL), or_(Case.return_count > 0, Case.rework_count > 0)),
    }


HOME_QUEUES = ["received", "registered", "assigned", "due_soon", "overdue", "feedback", "closed"]
WORKBENCH_QUEUES = ["assigned", "in_progress", "due_soon", "overdue", "returned"]


BOARD_COUNT_CAP = int(os.environ.get("PINGAN_BOARD_COUNT_CAP", "9999"))


def fmt_count(n: int) -> str:
    """A board count as shown: above the cap, "9999+" (the list it links to has the exact total)."""
    return f"{BOARD_COUNT_CAP}+" if n > BOARD_COUNT_CAP else str(n)


def _queue_counts(session: Session, actor: Actor, names: list[str]) -> dict[str, int]:
    """How many cases of the actor's scope each queue holds.

    A department's scope (its ~30,000 of a million cases, through case_departments) is read once for all the
    queues, exactly. A wider scope counts each queue from its own index and stops at BOARD_COUNT_CAP + 1: a
    tile says "9999+" rather than make every screen count a million-case table (the list shows the exact
    total).
    """
    now = utcnow()
    preds = queue_predicates(now)
    out: dict[str, int] = {}
    if actor.role != Role.HANDLER:
        for n in names:
            pred = Case.status == _STATUS_OF[n] if n in _STATUS_OF else preds[n]
            inner = scoped(select(Case.id), actor).where(pred).limit(BOARD_COUNT_CAP + 1).subquery()
            out[n] = int(session.scalar(select(func.count()).select_from(inner)) or 0)
        return out
    cols = [func.sum(case((preds[n], 1), else_=0)).label(n) for n in names]
    q: Any = select(*cols).select_from(Case)
    row = session.execute(scoped(q, actor).where(or_(*[preds[n] for n in names]))).one()
    return {n: int(row[i] or 0) for i, n in enumerate(names)}


_STATUS_OF = {
    "received": lifecycle.Status.RECEIVED.value,
    "registered": lifecycle.Status.REGISTERED.value,
    "assigned": lifecycle.Status.ASSIGNED.value,
    "feedback": lifecycle.Status.FEEDBACK.value,
    "closed": lifecycle.Status.CLOSED.value,
}


def routing_queue(session: Session, actor: Actor, limit: int = 6) -> list[Case]:
    q = (
        scoped(select(Case), actor)
        .where(Case.status == lifecycle.Status.REGISTERED)
        .order_by(Case.received_at.desc())
        .limit(limit)
    )
    return list(session.scalars(q))


# --- Short-lived memo of the board's counts ---
#
# The command center's tiles (today's intake, queue counts) and the workbench's rates are read by every screen
# that opens or reloads the home page or the workbench. An answer is kept for at most BOARD_TTL_S seconds per
# data scope (role, region, department, channel, and a grid worker's own id: everything `scoped` looks at) and
# database, and only while the timeline has not moved: it is dropped when this process writes a case, and when
# the newest timeline event (any process's) is not the one it was computed at. Every change of a case appends
# an event, so a memo is at most BOARD_TTL_S seconds behind only the passing of time (即将超期/已超期).

BOARD_TTL_S = float(os.environ.get("PINGAN_BOARD_TTL_S", "10"))
_memo: dict[tuple[Any, ...], tuple[float, tuple[int, int], Any]] = {}
_memo_lock = threading.Lock()
_generation = [0]


def _scope_key(actor: Actor) -> tuple[Any, ...]:
    own = actor.id if actor.role == Role.GRID_WORKER else None
    return (str(actor.role), actor.region_code, actor.department_id, actor.channel, own)


def memoised(session: Session, what: tuple[Any, ...], actor: Actor, compute: Any) -> Any:
    engine = session.get_bind().engine
    key = (id(engine), str(engine.url), what, _scope_key(actor))
    now = time.monotonic()
    stamp = (_generation[0], int(session.scalar(select(func.max(CaseEvent.id))) or 0))
    hit = _memo.get(key)
    if hit is not None and hit[1] == stamp and now - hit[0] < BOARD_TTL_S:
        return hit[2]
    value = compute()
    with _memo_lock:
        if len(_memo) > 10_000:
            _memo.clear()
        _memo[key] = (now, stamp, value)
    return value


def _forget_on_write(session: Session, _ctx: Any) -> None:
    if any(isinstance(o, Case | CaseDepartment | CaseEvent) for o in (*session.new, *session.dirty, *session.deleted)):
        _generation[0] += 1


if not event.contains(Session, "after_flush", _forget_on_write):
    event.listen(Session, "after_flush", _forget_on_write)


def intake_today(session: Session, actor: Actor) -> dict[str, int]:
    """Cases received today (China time) per channel, in the actor's scope."""
    day = today_start().date().isoformat()
    return dict(memoised(session, ("intake", day), actor, lambda: _intake_today(session, actor)))


def queue_counts(session: Session, actor: Actor, names: list[str]) -> dict[str, int]:
    return dict(memoised(session, ("queues", *names), actor, lambda: _queue_counts(session, actor, names)))


# --- The case list with the page's filters ---


@dataclass
class Filters:
    status: list[str] = field(default_factory=list)
    channel: str = ""
    region: str = ""
    department_id: int | None = None
    category: str = ""
    overdue: str = ""  # "", "1", "0"
    queue: str = ""
    since: str = ""
    until: str = ""
    q: str = ""
    kpi: str = ""
    part: str = ""  # num / den
    by: str = ""
    group: str = ""
    sort: str = "-received_at"
    page: int = 1
    page_size: int = 50

    def query_string(self, **override: Any) -> str:
        from urllib.parse import urlencode

        d = {**self.__dict__, **override}
        pairs: list[tuple[str, Any]] = []
        for k, v in d.items():
            if k == "status":
                pairs += [("status", s) for s in v]
            elif v not in ("", None) and not (k == "page" and v == 1) and not (k == "page_size" and v == 50):
                pairs.append((k, v))
        return urlencode(pairs)


def local_dt(value: str, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            d = datetime.fromisoformat(value).replace(tzinfo=CST)
            return d + timedelta(days=1) if end else d
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid("bad_date", f"日期格式不正确：{value}", f"bad date: {value}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=CST)


def filtered(f: Filters, actor: Actor, dialect: str) -> Select[Any]:
    q = scoped(select(Case), actor)
    now = utcnow()
    if f.status:
        q = q.where(Case.status.in_(f.status))
    if f.channel:
        q = q.where(Case.channel == f.channel)
    if f.region:
        code = f.region
        col = {6: Case.county_code, 9: Case.town_code, 12: Case.village_code, 15: Case.grid_code}.get(len(code))
        if col is None or not code.isdigit():
            raise Invalid("bad_region", "区域代码应为 6/9/12/15 位数字", "region code must have 6/9/12/15 digits")
        q = q.where(col == code)
    if f.department_id:
        q = q.where(Case.id.in_(select(CaseDepartment.case_id).where(CaseDepartment.department_id == f.department_id)))
    if f.category:
        q = q.where(Case.category == f.category)
    preds = queue_predicates(now)
    if f.overdue == "1":
        q = q.where(preds["overdue"])
    elif f.overdue == "0":
        q = q.where(~preds["overdue"] | Case.deadline_at.is_(None))
    if f.queue:
        if f.queue not in preds:
            raise Invalid("bad_queue", "未知的队列", "unknown queue")
        q = q.where(preds[f.queue])
    since, until = local_dt(f.since), local_dt(f.until, end=True)
    if since:
        q = q.where(Case.received_at >= since)
    if until:
        q = q.where(Case.received_at < until)
    if f.q:
        q = q.where(or_(Case.title.like(f"%{f.q}%"), Case.tracking_code == f.q.upper(), Case.external_id == f.q))
    return q


def case_page(session: Session, actor: Actor, f: Filters, count: bool = True) -> tuple[list[Case], int | None]:
    """One page of the list. With `kpi` set, the cases counted in that figure (pingan.metrics drill-down)."""
    if f.kpi:
        w = kpi.window(local_dt(f.since), local_dt(f.until, end=True))
        total, ids = kpi.drill(session, actor, f.kpi, f.part or "numerator", f.by, f.group, w, f.page, f.page_size)
        by_id = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(ids)))} if ids else {}
        return [by_id[i] for i in ids if i in by_id], total
    dialect = session.get_bind().dialect.name
    q = filtered(f, actor, dialect)
    sort = f.sort if f.sort in SORTS else "-received_at"
    col = {"received_at": Case.received_at, "deadline_at": Case.deadline_at, "updated_at": Case.updated_at}.get(
        sort.lstrip("-"), Case.id
    )
    order = col.desc() if sort.startswith("-") else col.asc()
    rows = list(
        session.scalars(q.order_by(order, Case.id.desc()).offset((f.page - 1) * f.page_size).limit(f.page_size))
    )
    n = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) if count else None
    return rows, (int(n) if n is not None else None)
