"""The KPI rollup (metric_facts) gives exactly the figures and drill-downs computed from the raw timeline:
on the scenario, after new events arrive, after a rebuild, and after the background catch-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.schemas import ActionInput
from pingan.metrics import kpis, rollup
from pingan.metrics.models import MetricFact, MetricRollupState
from pingan.metrics.policies import METRIC_IDS
from pingan.orgs.roles import Role
from tests.metrics.scenario import CITY, SINCE, T0, UNTIL, World, actor_of, build, ids_of

ACTORS = ("paiqian", "chengguan")  # the city, and a department (its own units only)


@pytest.fixture
def built(db: Any) -> Iterator[tuple[Any, World]]:
    with db.session() as s:
        world = build(s)
    yield db, world


def figures(session: Session, actor: Actor, source: str, group_by: str) -> dict[str, Any]:
    c = kpis.Ctx(session, actor, kpis.Window.of(SINCE, UNTIL), group_by, kpis.policy(), source)
    data = kpis.compute(c)
    drills: dict[tuple[str, str, str], list[int]] = {}
    for m in METRIC_IDS:
        for key in data[m]:
            for part in ("numerator", "denominator"):
                total, ids = kpis.drill(c, m, part, key, 1, 500)
                assert total == len(ids)
                drills[(m, part, key)] = ids
    return {"data": data, "drills": drills}


def assert_same(session: Session) -> dict[str, Any]:
    """Rollup == timeline for every group_by and both actors; returns the city total from the rollup."""
    for username in ACTORS:
        actor = actor_of(session, username)
        for group_by in kpis.GROUP_BYS:
            r, e = figures(session, actor, "rollup", group_by), figures(session, actor, "events", group_by)
            assert r == e, (username, group_by)
    return figures(session, actor_of(session, "paiqian"), "rollup", "total")["data"]


def test_rollup_equals_the_timeline_also_after_new_events(built: tuple[Any, World]) -> None:
    db, w = built
    with db.session() as s:
        # 6 dispatches (c3 twice), 3 revisits, 4 verifications
        assert s.scalar(select(func.count()).select_from(MetricFact)) == 13
        assert rollup.is_built(s)
        before = assert_same(s)
        for metric, (num, den) in CITY.items():
            assert before[metric] == {kpis.TOTAL_KEY: (len(num), len(den))}, metric
        # New events arrive (through the case service, as the server appends them).
        disp = actor_of(s, "paiqian")
        h1 = Actor(None, "岳阳楼区城管局·处置员", Role.HANDLER, w.d1)
        h2 = Actor(None, "市住建局·处置员", Role.HANDLER, w.d2)
        d = timedelta(days=1)
        c3 = w.ids["c3"]
        service.act(s, c3, "feedback", h1, ActionInput(result="已修复"), T0 + 5 * d)
        service.act(s, c3, "verify_fail", disp, ActionInput(reason="仍未修好"), T0 + 5 * d + timedelta(hours=1))
        c6 = w.ids["c6"]
        service.act(s, c6, "register", disp, None, T0 + 6 * d)
        service.act(s, c6, "assign", disp, ActionInput(department_id=w.d2), T0 + 6 * d + timedelta(hours=1))
        service.act(s, c6, "return", h2, ActionInput(reason="非本部门"), T0 + 6 * d + timedelta(hours=2))
        s.commit()
        after = assert_same(s)
        assert after["rework_rate"] == {kpis.TOTAL_KEY: (2, 4)}  # c3 verified and sent back too
        assert after["accurate_dispatch_rate"] == {kpis.TOTAL_KEY: (4, 6)}  # c6 dispatched and returned
        assert after["response_rate"] == {kpis.TOTAL_KEY: (4, 6)}
        # An uncommitted event is not in the figures of another session; a rolled-back one never is.
        service.act(s, w.ids["c5"], "comment", disp, ActionInput(note="无关"), T0 + 7 * d)
        service.act(s, c6, "assign", disp, ActionInput(department_id=w.d1), T0 + 7 * d)
        s.rollback()
        assert assert_same(s) == after


def test_rebuild_and_catch_up_restore_the_rollup(built: tuple[Any, World]) -> None:
    db, w = built
    with db.session() as s:
        truth = figures(s, actor_of(s, "paiqian"), "events", "department")
        # Facts lost or stale (e.g. events loaded around the ORM): the rebuild recomputes them from the timeline.
        s.execute(delete(MetricFact))
        s.commit()
        assert figures(s, actor_of(s, "paiqian"), "rollup", "department") != truth
        n = rollup.rebuild(s.connection())
        s.commit()
        assert n == 13
        assert figures(s, actor_of(s, "paiqian"), "rollup", "department") == truth
        # The background catch-up reads events past its mark and refreshes their cases.
        s.execute(delete(MetricFact).where(MetricFact.case_id == w.ids["c2"]))
        s.execute(update(MetricRollupState).values(last_event_id=0))
        s.commit()
        assert figures(s, actor_of(s, "paiqian"), "rollup", "department") != truth
    assert rollup.catch_up(db.factory) == 5  # c1–c5 have dispatch, revisit or verify events
    with db.session() as s:
        assert figures(s, actor_of(s, "paiqian"), "rollup", "department") == truth
        top = s.scalar(select(func.max(MetricFact.id)))
    assert rollup.catch_up(db.factory) == 0  # nothing new: nothing recomputed
    with db.session() as s:
        assert s.scalar(select(func.max(MetricFact.id))) == top
        # No state row (an old database migrated forward): the figures come from the timeline.
        s.execute(delete(MetricRollupState))
        s.commit()
        c = kpis.Ctx(s, actor_of(s, "paiqian"), kpis.Window.of(SINCE, UNTIL), "total", kpis.policy())
        assert not c.from_rollup()
        assert kpis.counts(c, "response_rate") == {kpis.TOTAL_KEY: (len(CITY["response_rate"][0]), 5)}
        assert ids_of(w, CITY["response_rate"][0]) == kpis.drill(c, "response_rate", "numerator", "all", 1, 50)[1]
        rollup.rebuild(s.connection())
        s.commit()
