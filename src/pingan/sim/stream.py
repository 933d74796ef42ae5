"""A light live stream for the demo: every call takes in 0–2 new matters (from messages not used yet) and
moves a few open cases one plausible step on (sign, feedback, verify, close, revisit …), as the right
demo accounts, at the current time. The server's background thread calls it every few seconds; the SLA
sweeper runs there as well, so urges appear on their own.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pingan.cases import lifecycle, service
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case
from pingan.db import make_engine, make_session_factory
from pingan.errors import PinganError
from pingan.intake import pipeline
from pingan.sim.cases import (
    CHANNEL_WEIGHTS,
    GRID_LABELS,
    Driver,
    MessagePool,
    Plan,
    Progress,
    _satisfaction,
    make_spec,
)
from pingan.timeutil import CST, utcnow

log = logging.getLogger("pingan.sim.stream")
S = Status
_PREFIX = {"hotline_12345": "YY12345-", "police_110": "JJ", "grid": "WG-", "online": "WEB-", "visit": "LF-"}


def plan_for(case: Case) -> tuple[Plan, Progress]:
    """A plan for an existing case (stable per case), and how far it already got."""
    rng = random.Random(f"stream:{case.id}")
    plan = Plan(stop=S.REJECTED if rng.random() < 0.03 else S.REVISITED)
    if case.channel == "hotline_12345" and rng.random() < 0.03:
        plan.transfer = rng.choice(("confirmed", "refused"))
    plan.returned = rng.random() < 0.05
    plan.co = rng.random() < 0.1
    plan.rework = 1 if rng.random() < 0.1 else 0
    level, solved = _satisfaction(rng)
    if case.rework_count:
        level, solved = "满意", True
    plan.satisfaction = [(level, solved)]
    pr = Progress(
        transferred=not (case.status == S.RECEIVED and case.event_count == 1),
        returned=case.return_count > 0,
        urged=True,
        reworks=case.rework_count,
    )
    pr.co_done = {d.department_id for d in case.departments if d.feedback is not None}
    req = case.pending_request or {}
    if req.get("type") == "extension":
        plan.extension, pr.ext = rng.choice(("approved", "denied")), "requested"
    elif req.get("type") == "suspension":
        plan.suspension, pr.susp = "resumed", "requested"
    else:
        pr.ext = pr.susp = "decided"
    return plan, pr


class Stream:
    """Callable background job; one call is one tick."""

    def __init__(
        self,
        db_url: str | None = None,
        factory: sessionmaker[Session] | None = None,
        seed: int | None = None,
        max_actions: int = 4,
    ) -> None:
        if factory is None:
            assert db_url is not None
            factory = make_session_factory(make_engine(db_url))
        self.factory = factory
        self.rng = random.Random(seed if seed is not None else time.time_ns())
        self.max_actions = max_actions
        self.pool: MessagePool | None = None
        self.ticks = 0

    def _pool(self, session: Session) -> MessagePool:
        if self.pool is None:
            used = {str((extra or {}).get("message")) for extra in session.scalars(select(Case.extra))}
            self.pool = MessagePool(random.Random(self.rng.random()), used)
        return self.pool

    def __call__(self, now: datetime | None = None, new: int | None = None) -> dict[str, int]:
        now = now or utcnow()
        self.ticks += 1
        out = {"new": 0, "actions": 0}
        with self.factory() as session:
            driver = Driver(session, now, self.rng)
            n_new = new if new is not None else self.rng.choices((0, 1, 2), weights=(45, 40, 15))[0]
            for _ in range(n_new):
                if self._intake(session, driver, now):
                    out["new"] += 1
            session.commit()
            for case in self._pick(session):
                if self._advance(session, driver, case, now):
                    out["actions"] += 1
            session.commit()
        return out

    def _intake(self, session: Session, driver: Driver, now: datetime) -> bool:
        pool = self._pool(session)
        channels = list(CHANNEL_WEIGHTS)
        channel = self.rng.choices(channels, weights=[CHANNEL_WEIGHTS[c] for c in channels])[0]
        msg = pool.take(GRID_LABELS if channel == "grid" else None)
        if msg is None:
            self.pool = MessagePool(random.Random(self.rng.random()))
            msg = self.pool.take()
            if msg is None:
                return False
        spec = make_spec(self.rng, 0, msg, channel, now, now)
        ext = f"{_PREFIX[spec.channel]}{now.astimezone(CST):%Y%m%d}-L{time.time_ns() % 10**12:012d}"
        rec, actor = driver.record(spec, ext)
        try:
            with session.begin_nested():
                result = pipeline.submit(session, rec, actor, now)
                driver.ensure_handlers(service.get_case(session, result.case_id))
        except PinganError as exc:
            log.info("stream intake skipped: %s", exc.en)
            return False
        return True

    def _pick(self, session: Session) -> list[Case]:
        """A few unfinished cases: some waiting longest, some just touched (so that what moved keeps moving)."""
        open_states = [s.value for s in lifecycle.OPEN | {S.CLOSED}]  # 待回访 too: revisits are part of the loop
        oldest = list(
            session.scalars(select(Case).where(Case.status.in_(open_states)).order_by(Case.updated_at).limit(40))
        )
        newest = list(
            session.scalars(select(Case).where(Case.status.in_(open_states)).order_by(Case.updated_at.desc()).limit(40))
        )
        k = self.rng.randint(1, self.max_actions)
        picked: dict[int, Case] = {}
        for group in (newest, oldest, newest, oldest):
            if group and len(picked) < k:
                c = self.rng.choice(group)
                picked.setdefault(c.id, c)
        return list(picked.values())

    def _advance(self, session: Session, driver: Driver, case: Case, now: datetime) -> bool:
        plan, pr = plan_for(case)
        label = str((case.extra or {}).get("label") or "城乡建设")
        try:
            step = driver.next_step(case, plan, pr, label, None)
            if step is None:
                return False
            with session.begin_nested():
                service.act(session, case.id, step.action, step.actor, step.inp, max(now, case.updated_at))
                driver.ensure_handlers(case)
        except PinganError as exc:  # someone acted on the case meanwhile: try again next tick
            log.info("stream skipped case %s: %s", case.id, exc.en)
            return False
        return True
