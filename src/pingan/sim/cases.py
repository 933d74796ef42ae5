"""The demo city's cases: real citizen messages taken in over the last 90 days and driven through the
closed loop by the demo accounts, with backdated times.

Everything goes through the product's own doors — `pingan.intake.pipeline.submit` for intake and
`pingan.cases.service.act` for every later step (the SLA sweeper's urges included, replayed at the
instants it would have fired) — so every timeline is a valid hash chain. Deterministic for a given seed
and `now` (tracking codes aside, which are random by design).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pingan.cases import deadlines, lifecycle, service
from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case, CaseEvent
from pingan.cases.policies import SatisfactionPolicy
from pingan.cases.schemas import ActionInput
from pingan.cases.sla import WorkCalendar
from pingan.cases.sweeper import ESCALATED, OVERDUE, URGED, _sweep_case
from pingan.dispatch import api as dispatch
from pingan.intake import pipeline
from pingan.intake.adapters import IntakeRecord
from pingan.notify.models import OutboxMessage
from pingan.notify.outbox import deliver
from pingan.orgs.roles import Role
from pingan.policy import registry
from pingan.sim import texts
from pingan.sim.messages import Message, counties, load_messages
from pingan.sim.people import Staff, mobile, person_name
from pingan.sim.places import pick_county, sample_point
from pingan.sim.routing import CO, WRONG, Departments, department_code
from pingan.timeutil import CST, utcnow

S = Status
DAYS = 90
WRITER_PAUSE_S = 0.2  # after each committed batch of seeded cases (see seed_cases)
CHANNEL_WEIGHTS = {"hotline_12345": 55, "grid": 20, "online": 13, "police_110": 7, "visit": 5}
GRID_LABELS = ("城乡建设", "环境保护", "交通运输")
SATISFACTION = (("非常满意", 38), ("满意", 34), ("基本满意", 14), ("不满意", 9), ("非常不满意", 5))
# The order of the closed loop, to say "this plan stops at or after that state".
ORDER = [S.RECEIVED, S.REGISTERED, S.ASSIGNED, S.SIGNED, S.IN_PROGRESS, S.FEEDBACK, S.VERIFIED, S.CLOSED, S.REVISITED]
RANK: dict[str, int] = {s: i for i, s in enumerate(ORDER)}
# Where a case rests, by its age in days: (upper age bound, weights).
STOP_BY_AGE: list[tuple[float, dict[str, float]]] = [
    (
        0.5,
        {
            S.RECEIVED: 22,
            S.REGISTERED: 12,
            S.ASSIGNED: 18,
            S.SIGNED: 12,
            S.IN_PROGRESS: 14,
            S.FEEDBACK: 6,
            S.VERIFIED: 2,
            S.CLOSED: 4,
            S.TRANSFER_PENDING: 3,
            S.REJECTED: 3,
            S.MERGED: 2,
            S.TRANSFERRED: 2,
        },
    ),
    (
        3,
        {
            S.RECEIVED: 3,
            S.REGISTERED: 4,
            S.ASSIGNED: 6,
            S.SIGNED: 8,
            S.IN_PROGRESS: 25,
            S.FEEDBACK: 12,
            S.VERIFIED: 8,
            S.CLOSED: 18,
            S.REVISITED: 8,
            S.REJECTED: 3,
            S.MERGED: 3,
            S.TRANSFERRED: 2,
        },
    ),
    (
        15,
        {
            S.IN_PROGRESS: 15,
            S.SUSPENDED: 2,
            S.FEEDBACK: 4,
            S.VERIFIED: 2,
            S.CLOSED: 7,
            S.REVISITED: 62,
            S.REJECTED: 3,
            S.MERGED: 3,
            S.TRANSFERRED: 2,
        },
    ),
    (
        1e9,
        {S.IN_PROGRESS: 3, S.SUSPENDED: 1, S.CLOSED: 1, S.REVISITED: 87, S.REJECTED: 3, S.MERGED: 3, S.TRANSFERRED: 2},
    ),
]
_POLICE = ("传销", "诈骗", "打架", "盗窃", "偷", "赌", "威胁", "殴打", "吸毒", "黑社会")


@dataclass
class Plan:
    stop: str
    revisits: int = 0  # revisits before the case may rest at `stop`
    transfer: str | None = None  # confirmed / refused / pending
    returned: bool = False
    co: bool = False
    rework: int = 0
    extension: str | None = None  # approved / denied / pending
    suspension: str | None = None  # resumed / denied / pending (rests suspended)
    urge: bool = False
    late: bool = False
    reopen: bool = False  # a supervisor reopens after a revisit
    on_spot: bool = False
    start: bool = True  # 开始处置 before the feedback (many departments feed back straight after signing)
    satisfaction: list[tuple[str, bool]] = field(default_factory=list)  # (level, solved) per revisit


@dataclass
class Spec:
    index: int
    message: Message
    channel: str
    received_at: datetime
    county_code: str
    lon: float | None
    lat: float | None
    case_type: str
    urgency: str
    caller_name: str | None
    caller_phone: str | None
    confidential: bool
    plan: Plan
    duplicate_of: int | None = None


@dataclass
class Progress:
    transferred: bool = False
    returned: bool = False
    co_done: set[int] = field(default_factory=set)
    urged: bool = False
    ext: str = ""  # "" / requested / decided
    susp: str = ""
    reworks: int = 0
    revisits: int = 0
    reopened: bool = False


@dataclass
class SeedReport:
    cases: int = 0
    events: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    sweeps: dict[str, int] = field(default_factory=dict)


def _age_weights(age_days: float) -> dict[str, float]:
    for bound, weights in STOP_BY_AGE:
        if age_days < bound:
            return weights
    return STOP_BY_AGE[-1][1]


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _satisfaction(rng: random.Random) -> tuple[str, bool]:
    level = rng.choices([s for s, _ in SATISFACTION], weights=[w for _, w in SATISFACTION])[0]
    solved = level in ("非常满意", "满意", "基本满意") or rng.random() < 0.4
    return level, solved


def _reopens(level: str, solved: bool) -> bool:
    pol = registry.load("satisfaction", SatisfactionPolicy)
    return level in pol.reopen_on or (
        pol.reopen_on_unsatisfied_if_unsolved and level not in pol.satisfied and not solved
    )


def choose_plan(rng: random.Random, age_days: float, channel: str, message: Message) -> tuple[Plan, str]:
    """A plausible life for a matter of this age; returns the plan and the (possibly changed) channel."""
    if channel == "grid" and rng.random() < 0.4:
        plan = Plan(stop=S.CLOSED if age_days < 2 else S.REVISITED, on_spot=True)
        if plan.stop == S.REVISITED:
            plan.revisits = 1
            plan.satisfaction = [(rng.choice(("非常满意", "满意")), True)]
        return plan, channel
    stop = _weighted(rng, _age_weights(age_days))
    plan = Plan(stop=stop)
    police = any(k in message.content for k in _POLICE)
    if stop in (S.TRANSFERRED, S.TRANSFER_PENDING):
        plan.transfer = "confirmed" if stop == S.TRANSFERRED else "pending"
        return plan, "hotline_12345"
    rank = RANK.get(stop, -1)
    if channel == "hotline_12345" and rank >= RANK[S.REGISTERED] and rng.random() < (0.2 if police else 0.01):
        plan.transfer = "refused"
    if rank >= RANK[S.REGISTERED] and rng.random() < 0.06:
        plan.returned = True
    if rank >= RANK[S.ASSIGNED] and rng.random() < 0.10:
        plan.co = True
    if rank >= RANK[S.SIGNED] and rng.random() < 0.05:
        plan.urge = True
    if stop == S.SUSPENDED:
        plan.suspension = "pending"
    elif rank > RANK[S.IN_PROGRESS] and rng.random() < 0.02:
        plan.suspension = rng.choice(("resumed", "resumed", "denied"))
    if rank >= RANK[S.IN_PROGRESS] and rng.random() < 0.07:
        plan.extension = (
            "pending"
            if stop == S.IN_PROGRESS and rng.random() < 0.4
            else rng.choice(("approved", "approved", "denied"))
        )
    if rank >= RANK[S.VERIFIED] and rng.random() < 0.06:
        plan.rework = 2 if rng.random() < 0.15 else 1
    if rank >= RANK[S.FEEDBACK] and rng.random() < 0.08:
        plan.late = True
    if stop == S.REVISITED:
        first = _satisfaction(rng)
        plan.satisfaction = [first]
        plan.revisits = 1
        if _reopens(*first):
            plan.satisfaction.append((rng.choice(("满意", "基本满意", "不满意")), True))
            plan.revisits = 2
        elif first[0] == "不满意" and rng.random() < 0.3:
            plan.reopen = True
            plan.satisfaction.append(("基本满意", True))
            plan.revisits = 2
    elif stop == S.IN_PROGRESS and age_days > 10 and rng.random() < 0.08:
        plan.satisfaction = [("非常不满意", False)]  # reopened after the revisit; in rework now
        plan.revisits = 1
    plan.start = stop == S.IN_PROGRESS or bool(plan.urge or plan.extension or plan.suspension) or rng.random() < 0.5
    return plan, channel


def _case_type(rng: random.Random, channel: str, m: Message) -> str:
    if channel == "grid":
        return "上报"
    t = m.title
    if "举报" in t:
        return "举报"
    if "投诉" in t:
        return "投诉"
    if any(k in t for k in ("建议", "希望", "呼吁")):
        return "建议"
    if any(k in t for k in ("咨询", "请问", "何时", "什么时候", "能否", "是否", "如何", "怎么", "吗", "？", "?")):
        return "咨询"
    if channel == "police_110":
        return "求助"
    return rng.choices(("投诉", "求助", "举报"), weights=(55, 35, 10))[0]


def _received_times(rng: random.Random, n: int, now: datetime) -> list[datetime]:
    """n instants over the last DAYS days: fewer at weekends and at night, a little rising towards today."""
    hours = [0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 1, 2.5, 5, 7, 7, 6, 4, 4.5, 6, 6.5, 6, 5, 4, 3.5, 3, 2.5, 1.5, 0.8]
    today = now.astimezone(CST).date()
    days = [today - timedelta(days=d) for d in range(DAYS)]
    day_w = [(0.7 if d.weekday() >= 5 else 1.0) * (1.0 + 0.25 * (DAYS - i) / DAYS) for i, d in enumerate(days)]
    out: list[datetime] = []
    while len(out) < n:
        day = rng.choices(days, weights=day_w)[0]
        hour = rng.choices(range(24), weights=hours)[0]
        at = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=CST)
        if at < now - timedelta(minutes=3):
            out.append(at.astimezone(now.tzinfo))
    out.sort()
    return out


class MessagePool:
    """Messages in a deterministic shuffled order (full texts first); each used once."""

    def __init__(self, rng: random.Random, used: set[str] | None = None, short_first: bool = False) -> None:
        msgs = list(load_messages())
        full = [m for m in msgs if m.full_text]
        short = [m for m in msgs if not m.full_text]
        rng.shuffle(full)
        rng.shuffle(short)
        used = used or set()
        self.queue = [m for m in (short + full if short_first else full + short) if m.key not in used]
        self.pos = 0

    def take(self, labels: tuple[str, ...] | None = None) -> Message | None:
        if labels:
            for i in range(self.pos, min(self.pos + 200, len(self.queue))):
                m = self.queue[i]
                if m.label in labels:
                    self.queue[i], self.queue[self.pos] = self.queue[self.pos], self.queue[i]
                    break
        if self.pos >= len(self.queue):
            return None
        m = self.queue[self.pos]
        self.pos += 1
        return m


def make_spec(
    rng: random.Random, index: int, message: Message, channel: str, received_at: datetime, now: datetime
) -> Spec:
    county = message.county_code or pick_county(rng)
    position = {"grid": 1.0, "online": 0.7, "police_110": 0.6, "hotline_12345": 0.25, "visit": 0.0}[channel]
    lon, lat = sample_point(rng, county) if rng.random() < position else (None, None)
    urgent = (0.25, 0.05) if channel == "police_110" else (0.08, 0.015)
    r = rng.random()
    urgency = "emergency" if r < urgent[1] else ("urgent" if r < urgent[0] + urgent[1] else "normal")
    age = (now - received_at).total_seconds() / 86400
    plan, channel = choose_plan(rng, age, channel, message)
    anonymous = channel != "grid" and rng.random() < 0.05
    return Spec(
        index=index,
        message=message,
        channel=channel,
        received_at=received_at,
        county_code=county,
        lon=lon,
        lat=lat,
        case_type=_case_type(rng, channel, message),
        urgency=urgency,
        caller_name=None if channel == "grid" or anonymous else person_name(rng),
        caller_phone=None if channel == "grid" or (anonymous and channel != "online") else mobile(rng),
        confidential=channel != "grid" and rng.random() < 0.03,
        plan=plan,
    )


def make_specs(n: int, now: datetime, seed: int = 2026) -> list[Spec]:
    rng = random.Random(seed)
    pool = MessagePool(random.Random(seed + 1))
    times = _received_times(rng, n, now)
    channels = list(CHANNEL_WEIGHTS)
    specs: list[Spec] = []
    for i, at in enumerate(times):
        channel = rng.choices(channels, weights=[CHANNEL_WEIGHTS[c] for c in channels])[0]
        m = pool.take(GRID_LABELS if channel == "grid" else None)
        if m is None:  # more cases than messages: start the pool again
            pool = MessagePool(random.Random(seed + 2 + i))
            m = pool.take()
            assert m is not None
        specs.append(make_spec(rng, i, m, channel, at, now))
    _link_duplicates(rng, specs)
    _ensure_coverage(rng, specs, now)
    return specs


def _needs_desk(plan: Plan) -> bool:
    return plan.stop in _DESK_STOPS or plan.transfer is not None


_DESK_STOPS = {S.RECEIVED, S.REGISTERED, S.REJECTED, S.MERGED, S.TRANSFER_PENDING, S.TRANSFERRED}
_MERGE_TARGET = {S.REGISTERED, S.ASSIGNED, S.SIGNED, S.IN_PROGRESS, S.FEEDBACK, S.VERIFIED, S.CLOSED, S.SUSPENDED}


def _link_duplicates(rng: random.Random, specs: list[Spec]) -> None:
    """A merged case repeats an earlier, still open matter (a second call about the same thing)."""
    for i, sp in enumerate(specs):
        if sp.plan.stop != S.MERGED:
            continue
        targets = [j for j in range(max(0, i - 60), i) if specs[j].plan.stop in _MERGE_TARGET]
        if not targets:
            sp.plan = Plan(stop=S.REJECTED)
            continue
        j = rng.choice(targets)
        sp.duplicate_of = j
        sp.message = specs[j].message
        sp.county_code, sp.lon, sp.lat = specs[j].county_code, specs[j].lon, specs[j].lat
        if sp.channel == "grid":
            sp.channel = "hotline_12345"
            sp.case_type = _case_type(rng, sp.channel, sp.message)
            sp.caller_name, sp.caller_phone = person_name(rng), mobile(rng)


# What the demo must show, each with a plan that shows it; forced onto a case if chance did not provide it.
def _coverage(now: datetime) -> list[tuple[str, Callable[[Spec], bool], Callable[[Spec], None], float, float]]:
    def stop(status: str, **kw: object) -> Callable[[Spec], None]:
        def apply(sp: Spec) -> None:
            plan = Plan(stop=status)
            for k, v in kw.items():
                setattr(plan, k, v)
            if status == S.REVISITED and not plan.satisfaction:
                plan.satisfaction, plan.revisits = [("满意", True)], 1
            sp.plan = plan
            if plan.transfer or status in (S.TRANSFERRED, S.TRANSFER_PENDING):
                sp.channel = "hotline_12345"
            if plan.on_spot:
                sp.channel, sp.case_type, sp.caller_name, sp.caller_phone = "grid", "上报", None, None
                if sp.lon is None:
                    sp.lon, sp.lat = sample_point(random.Random(sp.index), sp.county_code)
            elif sp.channel == "grid" and status in (S.TRANSFERRED, S.TRANSFER_PENDING):
                sp.channel = "hotline_12345"

        return apply

    def has(status: str, pred: Callable[[Plan], bool] = lambda p: True) -> Callable[[Spec], bool]:
        return lambda sp: sp.plan.stop == status and pred(sp.plan)

    past = {S.SIGNED, S.IN_PROGRESS, S.FEEDBACK, S.VERIFIED, S.CLOSED, S.REVISITED}
    return [
        # name, present?, make it so, min age days, max age days
        ("received", has(S.RECEIVED), stop(S.RECEIVED), 0, 0.3),
        ("registered", has(S.REGISTERED), stop(S.REGISTERED), 0, 0.5),
        ("assigned", has(S.ASSIGNED), stop(S.ASSIGNED), 0, 0.5),
        ("signed", has(S.SIGNED), stop(S.SIGNED), 0, 1),
        ("in_progress", has(S.IN_PROGRESS), stop(S.IN_PROGRESS), 1, 5),
        ("feedback", has(S.FEEDBACK), stop(S.FEEDBACK), 0.5, 3),
        ("verified", has(S.VERIFIED), stop(S.VERIFIED), 0.5, 3),
        ("closed", has(S.CLOSED, lambda p: not p.on_spot), stop(S.CLOSED), 1, 4),
        ("revisited", has(S.REVISITED), stop(S.REVISITED), 10, 90),
        ("rejected", has(S.REJECTED), stop(S.REJECTED), 1, 90),
        ("transfer_pending", has(S.TRANSFER_PENDING), stop(S.TRANSFER_PENDING, transfer="pending"), 0, 0.3),
        ("transferred", has(S.TRANSFERRED), stop(S.TRANSFERRED, transfer="confirmed"), 1, 90),
        ("refused_transfer", lambda sp: sp.plan.transfer == "refused", stop(S.REVISITED, transfer="refused"), 10, 90),
        ("suspended", has(S.SUSPENDED), stop(S.SUSPENDED, suspension="pending"), 5, 40),
        (
            "pending_extension",
            has(S.IN_PROGRESS, lambda p: p.extension == "pending"),
            stop(S.IN_PROGRESS, extension="pending"),
            2,
            8,
        ),
        ("returned", lambda sp: sp.plan.returned and sp.plan.stop in past, stop(S.REVISITED, returned=True), 10, 90),
        ("reworked", lambda sp: sp.plan.rework > 0 and sp.plan.stop in past, stop(S.REVISITED, rework=1), 10, 90),
        ("overdue", has(S.IN_PROGRESS, lambda p: p.extension is None), stop(S.IN_PROGRESS), 30, 90),
        ("on_spot", lambda sp: sp.plan.on_spot, stop(S.REVISITED, on_spot=True), 5, 90),
        ("co_handled", lambda sp: sp.plan.co and sp.plan.stop in past, stop(S.REVISITED, co=True), 10, 90),
        (
            "reopened_by_revisit",
            lambda sp: sp.plan.revisits >= 1 and sp.plan.stop == S.IN_PROGRESS,
            stop(S.IN_PROGRESS, revisits=1, satisfaction=[("非常不满意", False)]),
            20,
            90,
        ),
    ]


_BEFORE_DISPATCH = {"received", "registered", "rejected", "transfer_pending", "transferred", "refused_transfer"}


def _ensure_coverage(rng: random.Random, specs: list[Spec], now: datetime) -> None:
    taken: set[int] = set()
    targets = {sp.duplicate_of for sp in specs if sp.duplicate_of is not None}
    ages = [_age(sp, now) for sp in specs]
    for name, present, apply, lo, hi in _coverage(now):
        # States before dispatch three times over: a confident router may dispatch one of them on intake.
        need = 3 if name in _BEFORE_DISPATCH else 1
        found = [sp for sp in specs if present(sp) and sp.duplicate_of is None and lo <= ages[sp.index] <= hi]
        taken.update(sp.index for sp in found[:need])
        for _ in range(need - len(found[:need])):
            free = [sp for sp in specs if sp.index not in taken and sp.duplicate_of is None and sp.index not in targets]
            if not free:
                break
            # The case whose age is closest to the window.
            best = min(free, key=lambda sp: _distance(ages[sp.index], lo, hi) + rng.random() * 1e-6)
            apply(best)
            taken.add(best.index)
    # A merged case needs an open earlier case to be merged into.
    if not any(sp.plan.stop == S.MERGED for sp in specs):
        for i in range(len(specs) - 1, 0, -1):
            sp = specs[i]
            if sp.index in taken or sp.index in targets:
                continue
            sp.plan = Plan(stop=S.MERGED)
            _link_duplicates(rng, specs[: i + 1])
            if sp.duplicate_of is not None and specs[sp.duplicate_of].index not in taken:
                taken.update({sp.index, sp.duplicate_of})
                break
            sp.plan, sp.duplicate_of = Plan(stop=S.REJECTED), None


def _age(sp: Spec, now: datetime) -> float:
    return (now - sp.received_at).total_seconds() / 86400


def _distance(age: float, lo: float, hi: float) -> float:
    return 0.0 if lo <= age <= hi else min(abs(age - lo), abs(age - hi))


# ---------------------------------------------------------------------------------------------------- driving


@dataclass
class Step:
    action: str
    actor: Actor
    inp: ActionInput
    at: datetime


class Driver:
    """Takes one case at a time from its intake to where its plan says it rests, with plausible timing."""

    def __init__(self, session: Session, now: datetime, rng: random.Random) -> None:
        self.session = session
        self.now = now
        self.rng = rng
        self.staff = Staff(session)
        self.deps = Departments(session)
        self.cal: WorkCalendar = deadlines.calendar(session)
        self.supervise = deadlines.policy().supervise_when_overdue
        self.sweeps: Counter[str] = Counter()
        # Plans that need the desk (立案, 不予立案, 并案, 转110 …) whose case the router dispatched on intake:
        # they go to the next case that waits for the desk.
        self.deferred: list[Plan] = []
        self.open_ids: list[int] = []  # recent cases another one may be merged into
        self.spare: MessagePool | None = None  # unused messages, for matters the desk must see

    # -- time --------------------------------------------------------------------------------------------
    def later(self, prev: datetime, lo_h: float, hi_h: float, office: bool = False) -> datetime:
        at = prev + timedelta(hours=self.rng.uniform(lo_h, hi_h))
        if office:
            at = self._office(at)
        return at

    def _office(self, at: datetime) -> datetime:
        """Move an instant into working hours (departments act in office time)."""
        local = at.astimezone(CST)
        for _ in range(15):
            work, _prov = self.cal.is_workday(local.date())
            start = local.replace(hour=8, minute=30, second=0, microsecond=0)
            end = local.replace(hour=18, minute=0, second=0, microsecond=0)
            if work and start <= local < end:
                return local.astimezone(at.tzinfo)
            if work and local < start:
                local = start + timedelta(minutes=self.rng.uniform(0, 90))
                continue
            nxt = (local + timedelta(days=1)).replace(hour=8, minute=30, second=0, microsecond=0)
            local = nxt + timedelta(minutes=self.rng.uniform(0, 90))
        return local.astimezone(at.tzinfo)

    def fit(self, prev: datetime, at: datetime) -> datetime:
        """Keep every event in the past and after the previous one (recent cases move faster)."""
        limit = self.now - timedelta(seconds=30)
        if at <= prev:
            at = prev + timedelta(seconds=self.rng.uniform(20, 120))
        if at >= limit:
            span = max((limit - prev).total_seconds(), 2.0)
            at = prev + timedelta(seconds=span * self.rng.uniform(0.15, 0.5))
        return at

    # -- the sweeper, replayed ---------------------------------------------------------------------------
    def _next_due(self, case: Case) -> datetime | None:
        if case.status not in lifecycle.WITH_DEPARTMENT:
            return None
        cands = []
        if case.sweep_stage < URGED:
            if case.urge_at:
                cands.append(case.urge_at)
            if case.status == S.ASSIGNED and case.sign_deadline_at:
                cands.append(case.sign_deadline_at)
        if case.sweep_stage < OVERDUE and case.deadline_at:
            cands.append(case.deadline_at)
        if case.sweep_stage < ESCALATED and case.escalate_at:
            cands.append(case.escalate_at)
        return min(cands) if cands else None

    def catch_up(self, case: Case, until: datetime) -> None:
        """Urge, supervise and escalate at the instants the SLA sweeper would have, up to `until`."""
        counts = {"urged": 0, "supervised": 0, "escalated": 0}
        for _ in range(4):
            due = self._next_due(case)
            if due is None or due > until:
                break
            at = max(due, case.updated_at + timedelta(seconds=1))
            if at > until:
                break
            _sweep_case(self.session, case, at, self.supervise, counts)
        self.sweeps.update(counts)

    # -- intake ------------------------------------------------------------------------------------------
    def record(self, sp: Spec, external_id: str) -> tuple[IntakeRecord, Actor]:
        m = sp.message
        county = next((c.name for c in counties() if c.code == sp.county_code), "")
        extra: dict[str, object] = {"demo": True, "message": m.key, "label": m.label}
        reporter: int | None = None
        on_spot: str | None = None
        content = m.content
        if sp.channel == "grid":
            actor = self.staff.grid_worker(sp.county_code)
            reporter = actor.id
            content = f"网格巡查发现（群众反映）：{content}"
            extra["handled_on_spot"] = sp.plan.on_spot
            if sp.plan.on_spot:
                on_spot = self.rng.choice(texts.ON_SPOT)
        elif sp.channel in ("hotline_12345", "police_110"):
            actor = self.staff.channel(sp.channel) if self.rng.random() < 0.7 else self.staff.operator
            if sp.channel == "police_110":
                extra.update(incident_no=external_id, operator_note="非警务类求助，转12345办理")
        elif sp.channel == "online":
            actor = Actor(id=None, name="群众自报", role=Role.CHANNEL, channel="online")
        else:
            actor = self.staff.operator
            reporter = actor.id
        rec = IntakeRecord(
            channel=sp.channel,
            external_id=external_id,
            case_type=sp.case_type,
            title=m.title,
            content=content[:4000],
            address=f"岳阳市{county}" if county else "岳阳市",
            lon=sp.lon,
            lat=sp.lat,
            urgency=sp.urgency,
            caller_name=actor.name if sp.channel == "grid" else sp.caller_name,
            caller_phone=sp.caller_phone,
            confidential=sp.confidential,
            received_at=sp.received_at,
            reporter_id=reporter,
            on_spot_result=on_spot,
            extra=extra,
        )
        return rec, actor

    # -- the next step of a plan -------------------------------------------------------------------------
    def department_for(self, case: Case, label: str) -> int:
        code = department_code(label, case.title + case.content)
        return self.deps.get(code, case.county_code).id

    def next_step(self, case: Case, plan: Plan, pr: Progress, label: str, merge_into: Case | None) -> Step | None:
        s = case.status
        prev = case.updated_at
        rng = self.rng
        if s == plan.stop and pr.revisits >= plan.revisits and self._rest_ok(case, plan, pr):
            return None
        if s == S.RECEIVED:
            op = self.staff.operator
            if plan.transfer and not pr.transferred:
                reason = rng.choice(texts.TRANSFER)
                return Step(
                    "transfer_110",
                    op,
                    ActionInput(reason=reason, three_way_call=texts.THREE_WAY),
                    self.later(prev, 0.05, 0.3),
                )
            if plan.stop == S.REJECTED:
                return Step("reject", op, ActionInput(reason=rng.choice(texts.REJECT)), self.later(prev, 0.2, 3))
            if plan.stop == S.MERGED and merge_into is not None:
                at = max(self.later(prev, 0.3, 6), merge_into.updated_at + timedelta(seconds=5))
                return Step(
                    "merge",
                    self.staff.dispatcher(case.county_code),
                    ActionInput(target_case_id=merge_into.id, note="同一事项重复反映，并案办理"),
                    at,
                )
            actor = (
                op if case.channel in ("hotline_12345", "visit", "online") else self.staff.dispatcher(case.county_code)
            )
            return Step("register", actor, ActionInput(note="诉求清楚，予以立案"), self.later(prev, 0.05, 1.5))
        if s == S.TRANSFER_PENDING:
            ch = self.staff.channel("police_110")
            if plan.transfer == "refused":
                pr.transferred = True
                return Step(
                    "refuse_transfer",
                    ch,
                    ActionInput(reason=rng.choice(texts.REFUSE), three_way_call=texts.THREE_WAY),
                    self.later(prev, 0.2, 2),
                )
            return Step("confirm_transfer", ch, ActionInput(incident_no=f"110-{case.id:06d}"), self.later(prev, 0.1, 1))
        if s in (S.REJECTED, S.MERGED, S.TRANSFERRED):
            return None
        if s == S.REGISTERED:
            right = self.department_for(case, label)
            fast = case.urgency != "normal"
            at = self.later(prev, 0.05, 0.3) if fast else self.later(prev, 0.1, 3)
            if plan.returned and not pr.returned:
                code = department_code(label, case.title + case.content)
                wrong = self.deps.get(WRONG.get(code, "zj"), case.county_code).id
                return Step("assign", self.staff.dispatcher(case.county_code), ActionInput(department_id=wrong), at)
            co: list[int] = []
            if plan.co:
                code = department_code(label, case.title + case.content)
                co_id = self.deps.get(CO.get(code, "cg"), case.county_code).id
                co = [co_id] if co_id != right else []
            note = "协调件：请主办单位牵头，协办单位配合" if co else ""
            return Step(
                "assign",
                self.staff.dispatcher(case.county_code),
                ActionInput(department_id=right, co_department_ids=co, note=note),
                at,
            )
        lead = case.department_id
        if s == S.ASSIGNED:
            assert lead is not None
            handler = self.staff.handler(lead)
            if plan.returned and not pr.returned:
                pr.returned = True
                right_dep = self.deps.get(department_code(label, case.title + case.content), case.county_code)
                return Step(
                    "return",
                    handler,
                    ActionInput(reason=texts.returned(right_dep.name)),
                    self.later(prev, 0.2, 4, office=True),
                )
            lo, hi = (1.5, 6.0) if rng.random() < 0.15 else (0.05, 1.5)
            if case.urgency == "emergency":
                lo, hi = 0.02, 0.3
            return Step("sign", handler, ActionInput(), self.later(prev, lo, hi, office=case.urgency == "normal"))
        office = case.urgency == "normal"
        if s in (S.SIGNED, S.IN_PROGRESS, S.SUSPENDED):
            assert lead is not None
            handler = self.staff.handler(lead)
        if s in (S.SIGNED, S.IN_PROGRESS):
            co_pending = [
                d.department_id
                for d in case.departments
                if d.active and d.role == "co" and d.department_id not in pr.co_done and d.feedback is None
            ]
            if co_pending and (s == S.IN_PROGRESS or plan.stop != S.SIGNED):
                dep = co_pending[0]
                pr.co_done.add(dep)
                return Step(
                    "co_feedback",
                    self.staff.handler(dep),
                    ActionInput(result=rng.choice(texts.CO_RESULTS)),
                    self.later(prev, 1, 24, office=office),
                )
        if s == S.SIGNED:
            if not plan.start and plan.stop != S.SIGNED:
                result = ActionInput(result=texts.result(rng, label))
                return Step("feedback", handler, result, self._feedback_at(case, plan))
            return Step("start", handler, ActionInput(note="已安排人员处置"), self.later(prev, 0.2, 6, office=office))
        if s == S.IN_PROGRESS:
            sup = self.staff.supervisor
            if plan.urge and not pr.urged:
                pr.urged = True
                return Step("urge", sup, ActionInput(note=rng.choice(texts.URGE)), self.later(prev, 2, 30))
            if plan.extension and not pr.ext:
                pr.ext = "requested"
                days = rng.choice((2, 3, 5))
                return Step(
                    "request_extension",
                    handler,
                    ActionInput(reason=rng.choice(texts.EXTENSION), amount=days, unit="work_days"),
                    self.later(prev, 2, 48, office=office),
                )
            if pr.ext == "requested" and plan.extension != "pending":
                pr.ext = "decided"
                if plan.extension == "approved":
                    return Step("approve_extension", sup, ActionInput(note="同意延期"), self.later(prev, 0.5, 8))
                return Step("deny_extension", sup, ActionInput(reason=rng.choice(texts.DENY)), self.later(prev, 0.5, 8))
            if plan.suspension and not pr.susp:
                pr.susp = "requested"
                return Step(
                    "request_suspension",
                    handler,
                    ActionInput(reason=rng.choice(texts.SUSPENSION)),
                    self.later(prev, 4, 48, office=office),
                )
            if pr.susp == "requested":
                pr.susp = "decided"
                if plan.suspension == "denied":
                    return Step("deny_suspension", sup, ActionInput(reason="请继续办理"), self.later(prev, 1, 8))
                return Step("approve_suspension", sup, ActionInput(note="同意缓办"), self.later(prev, 1, 8))
            if plan.stop == S.IN_PROGRESS and pr.revisits >= plan.revisits:
                return None
            result = ActionInput(result=texts.result(rng, label))
            return Step("feedback", handler, result, self._feedback_at(case, plan))
        if s == S.SUSPENDED:
            if plan.stop == S.SUSPENDED:
                return None
            return Step(
                "resume", self.staff.supervisor, ActionInput(note="缓办情形消除，恢复办理"), self.later(prev, 48, 240)
            )
        checker = (
            self.staff.grid_worker(case.county_code)
            if case.channel == "grid"
            else self.staff.dispatcher(case.county_code)
        )
        if s == S.FEEDBACK:
            if pr.reworks < plan.rework:
                pr.reworks += 1
                return Step(
                    "verify_fail", checker, ActionInput(reason=rng.choice(texts.VERIFY_FAIL)), self.later(prev, 1, 24)
                )
            return Step("verify_pass", checker, ActionInput(note="经核查，处置到位"), self.later(prev, 1, 24))
        if s == S.VERIFIED:
            return Step(
                "close", self.staff.dispatcher(case.county_code), ActionInput(note="办结"), self.later(prev, 0.5, 12)
            )
        if s == S.CLOSED:
            level, solved = plan.satisfaction[pr.revisits] if pr.revisits < len(plan.satisfaction) else ("满意", True)
            pr.revisits += 1
            return Step(
                "revisit",
                self.staff.operator,
                ActionInput(satisfaction=level, solved=solved, note="电话回访来电人"),
                self.later(prev, 4, 72),
            )
        if s == S.REVISITED and plan.reopen and not pr.reopened:
            pr.reopened = True
            return Step(
                "reopen", self.staff.supervisor, ActionInput(reason=rng.choice(texts.REOPEN)), self.later(prev, 2, 48)
            )
        return None

    def _rest_ok(self, case: Case, plan: Plan, pr: Progress) -> bool:
        if case.status == S.IN_PROGRESS:
            ext_done = (
                plan.extension is None or pr.ext == "decided" or (plan.extension == "pending" and pr.ext == "requested")
            )
            return ext_done and (not plan.urge or pr.urged)
        if case.status == S.SIGNED and plan.co:
            return True
        return True

    def _feedback_at(self, case: Case, plan: Plan) -> datetime:
        prev = case.updated_at
        if case.deadline_at is None or case.deadline_at <= prev:
            return self.later(prev, 1, 24, office=case.urgency == "normal")
        span = (case.deadline_at - prev).total_seconds()
        if plan.late:
            return case.deadline_at + timedelta(hours=self.rng.uniform(2, 72))
        return prev + timedelta(seconds=span * self.rng.uniform(0.15, 0.85))

    # -- one case ----------------------------------------------------------------------------------------
    def run(self, sp: Spec, external_id: str, merge_into_id: int | None = None) -> Case:
        rec, actor = self.record(sp, external_id)
        if _needs_desk(sp.plan) and sp.duplicate_of is None and self.spare is not None:
            # A matter the desk handles is one the router is not sure about: ask it, as intake will.
            for _ in range(30):
                decision = dispatch.route(
                    self.session,
                    title=rec.title,
                    content=rec.content,
                    channel=rec.channel,
                    county_code=sp.county_code,
                    region_code=sp.county_code,
                    lon=rec.lon,
                    lat=rec.lat,
                )
                msg = self.spare.take() if decision.auto else None
                if msg is None:
                    break
                sp.message = msg
                rec, actor = self.record(sp, external_id)
        result = pipeline.submit(self.session, rec, actor, sp.received_at)
        case = service.get_case(self.session, result.case_id)
        self._adapt(sp, case)
        if sp.plan.stop == S.MERGED and merge_into_id is None and self.open_ids:
            merge_into_id = self.open_ids[-1]
        merge_into = self.session.get(Case, merge_into_id) if merge_into_id else None
        if merge_into is not None and merge_into.status not in _MERGE_TARGET:
            merge_into = None
        pr = Progress()
        for _ in range(40):
            step = self.next_step(case, sp.plan, pr, sp.message.label, merge_into)
            if step is None:
                break
            at = self.fit(case.updated_at, step.at)
            self.catch_up(case, at)
            at = self.fit(case.updated_at, at)
            if step.action == "merge" and merge_into is not None:
                # The main case's timeline must stay in time order too.
                at = max(at, merge_into.updated_at + timedelta(seconds=1))
            service.act(self.session, case.id, step.action, step.actor, step.inp, at)
        self.catch_up(case, self.now - timedelta(seconds=5))
        self.ensure_handlers(case)
        if case.status in _MERGE_TARGET:
            self.open_ids = [*self.open_ids[-50:], case.id]
        return case

    def _adapt(self, sp: Spec, case: Case) -> None:
        """Follow what the product did on intake: a case the router dispatched cannot wait for the desk."""
        if case.status != S.RECEIVED:
            if _needs_desk(sp.plan):
                self.deferred.append(sp.plan)
                age = (self.now - sp.received_at).total_seconds() / 86400
                sp.plan = (
                    Plan(stop=S.REVISITED, revisits=1, satisfaction=[("满意", True)])
                    if age > 3
                    else Plan(stop=S.IN_PROGRESS)
                )
                sp.duplicate_of = None
        elif self.deferred and not _needs_desk(sp.plan) and sp.channel != "grid":
            sp.plan = self.deferred.pop(0)

    def ensure_handlers(self, case: Case) -> None:
        """Every department holding a case has a demo account that can sign it."""
        for link in case.departments:
            self.staff.handler(link.department_id)


def external_id(sp: Spec) -> str:
    day = sp.received_at.astimezone(CST).strftime("%Y%m%d")
    prefix = {"hotline_12345": "YY12345-", "police_110": "JJ", "grid": "WG-", "online": "WEB-", "visit": "LF-"}
    return f"{prefix[sp.channel]}{day}-{sp.index:05d}"


# Loggers that may say the same thing for every one of thousands of seeded cases (e.g. "no routing model").
_REPEATING_LOGGERS = ("pingan.dispatch.api",)


class _Once(logging.Filter):
    """Lets each distinct message through once while seeding."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class _Archive:
    """Marks notifications of the backdated past as delivered without sending them."""

    name = "archive"

    def send(self, msg: OutboxMessage) -> None:
        return None


def seed_cases(
    factory: sessionmaker[Session],
    n: int = 5000,
    now: datetime | None = None,
    seed: int = 2026,
    batch: int = 100,
    on_progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Seed n cases (the caller checks that the database has none yet). Returns what was made."""
    t0 = time.perf_counter()
    now = now or utcnow()
    specs = make_specs(n, now, seed)
    rng = random.Random(seed + 7)
    case_ids: dict[int, int] = {}
    session = factory()
    quiet = _Once()
    noisy = [logging.getLogger(name) for name in _REPEATING_LOGGERS]
    for lg in noisy:
        lg.addFilter(quiet)
    try:
        driver = Driver(session, now, rng)
        # Spare messages for the desk: subject-only ones first (vaguer, so the router is less often sure).
        driver.spare = MessagePool(random.Random(seed + 99), {sp.message.key for sp in specs}, short_first=True)
        # Every service call flushes what it changed; autoflush before each read would only flush twice.
        with session.no_autoflush:
            for i, sp in enumerate(specs):
                target = case_ids.get(sp.duplicate_of) if sp.duplicate_of is not None else None
                case = driver.run(sp, external_id(sp), target)
                case_ids[sp.index] = case.id
                if (i + 1) % batch == 0 or i + 1 == len(specs):
                    session.flush()
                    session.commit()
                    session.expunge_all()
                    # SQLite hands its write lock to whoever asks first, not to who waited longest: pause so
                    # the server's sweeper and the requests of someone already using the demo get their turn.
                    time.sleep(WRITER_PAUSE_S)
                if on_progress and ((i + 1) % 10 == 0 or i + 1 == len(specs)):
                    on_progress(i + 1)
            # Desk plans the router took away at the very end: a few more recent matters carry them.
            extra = 0
            while driver.deferred and extra < 10 and driver.spare is not None:
                msg = driver.spare.take()
                if msg is None:
                    break
                at = now - timedelta(minutes=rng.uniform(10, 360))
                sp = make_spec(rng, len(specs) + extra, msg, "hotline_12345", at, now)
                sp.plan = driver.deferred.pop(0)
                driver.run(sp, external_id(sp))
                extra += 1
            session.flush()
            session.commit()
        sweeps = dict(driver.sweeps)
    finally:
        session.close()
        for lg in noisy:
            lg.removeFilter(quiet)
    while deliver(factory, [_Archive()], limit=2000):
        pass
    report = SeedReport(seconds=time.perf_counter() - t0, sweeps=sweeps)
    with factory() as s:
        report.cases = s.scalar(select(func.count()).select_from(Case)) or 0
        report.statuses = {k: v for k, v in s.execute(select(Case.status, func.count()).group_by(Case.status))}
        report.events = s.scalar(select(func.count()).select_from(CaseEvent)) or 0
    return report
