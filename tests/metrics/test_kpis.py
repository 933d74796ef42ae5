"""Every figure's numerator and denominator on a known scenario, and the drill-down lists exactly those cases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.metrics import kpis
from pingan.metrics.policies import METRIC_IDS, MetricsPolicy
from pingan.orgs.models import User
from pingan.orgs.roles import Role
from tests.metrics.scenario import SINCE, UNTIL, World, build

# The truth of the scenario (see scenario.py), whole city: metric → (numerator cases, denominator cases).
CITY: dict[str, tuple[set[str], set[str]]] = {
    "response_rate": ({"c1", "c3", "c4", "c5"}, {"c1", "c2", "c3", "c4", "c5"}),
    "accurate_dispatch_rate": ({"c1", "c2", "c4", "c5"}, {"c1", "c2", "c3", "c4", "c5"}),
    "solved_rate": ({"c1"}, {"c1", "c2", "c4"}),
    "satisfaction_rate": ({"c1", "c2"}, {"c1", "c2", "c4"}),
    "closure_rate": ({"c1", "c2"}, {"c1", "c2", "c3", "c5"}),
    "ontime_closure_rate": ({"c1"}, {"c1", "c2", "c3"}),
    "rework_rate": ({"c2"}, {"c1", "c2", "c4"}),
}


def actor_of(session: Session, username: str) -> Actor:
    u = session.scalars(select(User).where(User.username == username)).one()
    return Actor(u.id, u.display_name, Role(u.role), u.department_id, u.region_code, u.channel)


def ctx(session: Session, actor: Actor, group_by: str = "total", pol: MetricsPolicy | None = None) -> kpis.Ctx:
    return kpis.Ctx(session, actor, kpis.Window.of(SINCE, UNTIL), group_by, pol or kpis.policy())


def ids_of(w: World, names: set[str]) -> list[int]:
    return sorted(w.ids[n] for n in names)


def drill_all(c: kpis.Ctx, metric: str, part: str, group: str) -> list[int]:
    total, ids = kpis.drill(c, metric, part, group, 1, 500)
    assert total == len(ids)
    return ids


@pytest.fixture
def session(db: Any) -> Iterator[Session]:
    """A transactional session (the shared `session` fixture is autocommit, for watching only)."""
    with db.session() as s:
        yield s


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def test_city_figures_and_drill_down(session: Session, world: World) -> None:
    c = ctx(session, actor_of(session, "paiqian"))
    data = kpis.compute(c)
    for metric, (num, den) in CITY.items():
        assert data[metric] == {kpis.TOTAL_KEY: (len(num), len(den))}, metric
        assert drill_all(c, metric, "numerator", kpis.TOTAL_KEY) == ids_of(world, num), metric
        assert drill_all(c, metric, "denominator", kpis.TOTAL_KEY) == ids_of(world, den), metric


def test_by_department(session: Session, world: World) -> None:
    c = ctx(session, actor_of(session, "paiqian"), "department")
    data = kpis.compute(c)
    d1, d2 = str(world.d1), str(world.d2)
    # Dispatch figures follow the department of each dispatch: c3's return is D2's, its on-time sign D1's.
    assert data["response_rate"] == {d1: (3, 4), d2: (1, 2)}
    assert drill_all(c, "accurate_dispatch_rate", "denominator", d2) == ids_of(world, {"c3", "c4"})
    assert drill_all(c, "accurate_dispatch_rate", "numerator", d2) == ids_of(world, {"c4"})
    assert data["accurate_dispatch_rate"] == {d1: (4, 4), d2: (1, 2)}
    # Outcome figures follow the case's department.
    assert data["satisfaction_rate"] == {d1: (2, 2), d2: (0, 1)}
    assert data["closure_rate"] == {d1: (2, 4)}
    assert drill_all(c, "ontime_closure_rate", "denominator", d1) == ids_of(world, {"c1", "c2", "c3"})
    assert data["rework_rate"] == {d1: (1, 2), d2: (0, 1)}


def test_by_county_channel_month(session: Session, world: World) -> None:
    paiqian = actor_of(session, "paiqian")
    data = kpis.compute(ctx(session, paiqian, "county"))
    assert data["response_rate"] == {"430602": (3, 4), "430623": (1, 1)}
    assert data["solved_rate"] == {"430602": (1, 2), "430623": (0, 1)}
    data = kpis.compute(ctx(session, paiqian, "channel"))
    assert data["closure_rate"] == {"hotline_12345": (2, 4)}
    data = kpis.compute(ctx(session, paiqian, "month"))
    assert data["rework_rate"] == {"2026-09": (1, 3)}
    c = ctx(session, paiqian, "category")
    # No routing model is installed: every case is uncategorised (key "-").
    assert kpis.compute(c)["response_rate"] == {kpis.NULL_KEY: (4, 5)}


def test_district_dispatcher_sees_only_its_district(session: Session, world: World) -> None:
    c = ctx(session, actor_of(session, "yylq"))
    data = kpis.compute(c)
    for metric, (num, den) in CITY.items():
        num, den = num - {"c4"}, den - {"c4"}
        assert data[metric] == {kpis.TOTAL_KEY: (len(num), len(den))}, metric
        assert drill_all(c, metric, "denominator", kpis.TOTAL_KEY) == ids_of(world, den), metric


def test_handler_sees_only_its_department(session: Session, world: World) -> None:
    # 岳阳楼区城管局 (D1) sees c3's dispatch to D1 but not D2's return of it.
    c = ctx(session, actor_of(session, "yylcg"))
    data = kpis.compute(c)
    assert data["accurate_dispatch_rate"] == {kpis.TOTAL_KEY: (4, 4)}
    assert data["satisfaction_rate"] == {kpis.TOTAL_KEY: (2, 2)}
    assert drill_all(c, "response_rate", "denominator", kpis.TOTAL_KEY) == ids_of(world, {"c1", "c2", "c3", "c5"})


def test_policy_changes_the_satisfied_levels(session: Session, world: World) -> None:
    strict = kpis.policy().model_copy(update={"satisfied_levels": ["非常满意", "满意"]})
    c = ctx(session, actor_of(session, "paiqian"), pol=strict)
    assert kpis.compute(c, ["satisfaction_rate"])["satisfaction_rate"] == {kpis.TOTAL_KEY: (1, 3)}
    assert drill_all(c, "satisfaction_rate", "numerator", kpis.TOTAL_KEY) == ids_of(world, {"c1"})
    with_reopen = kpis.policy().model_copy(update={"rework_actions": ["verify_fail", "reopen"]})
    c = ctx(session, actor_of(session, "paiqian"), pol=with_reopen)
    assert kpis.compute(c, ["rework_rate"])["rework_rate"] == {kpis.TOTAL_KEY: (1, 3)}


def test_window_excludes_events_outside(session: Session, world: World) -> None:
    from datetime import datetime

    from pingan.timeutil import CST

    # 7–8 September: c1/c4 verified on the 8th, c2 verified (fail) on the 8th too; revisits are later.
    c = kpis.Ctx(
        session,
        actor_of(session, "paiqian"),
        kpis.Window.of(datetime(2026, 9, 8, tzinfo=CST), datetime(2026, 9, 9, tzinfo=CST)),
        "total",
        kpis.policy(),
    )
    data = kpis.compute(c)
    assert data["response_rate"] == {}  # every dispatch was on the 7th
    assert data["solved_rate"] == {}
    assert data["rework_rate"] == {kpis.TOTAL_KEY: (1, 3)}


def test_timeline_is_the_truth(session: Session, world: World) -> None:
    """Cross-check the response figure against the events read one by one (small data only)."""
    from pingan.cases.models import CaseEvent

    events = session.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)).all()
    dispatched: set[int] = set()
    on_time: set[int] = set()
    last_assign: dict[int, bool] = {}
    for e in events:
        if e.action == "assign":
            dispatched.add(e.case_id)
            last_assign[e.case_id] = True
        if e.action == "sign" and last_assign.get(e.case_id) and e.data.get("on_time"):
            on_time.add(e.case_id)
    c = ctx(session, actor_of(session, "paiqian"))
    assert kpis.counts(c, "response_rate") == {kpis.TOTAL_KEY: (len(on_time), len(dispatched))}
    assert session.get(Case, world.ids["c4"]).status == "in_progress"  # type: ignore[union-attr]


def _get(api: Any, user: str, url: str, **params: Any) -> dict[str, Any]:
    r = api.get(user, url, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_api_kpis_and_drill_down(api: Any, db: Any) -> None:
    with db.session() as s:
        world = build(s)
    window = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    body = _get(api, "lingdao", "/api/v1/stats/kpis", group_by="department", **window)
    assert set(body["definitions"]) == set(METRIC_IDS)
    total = body["total"]["figures"]
    for metric, (num, den) in CITY.items():
        f = total[metric]
        assert (f["numerator"], f["denominator"]) == (len(num), len(den))
        assert f["formula"].endswith(f"{len(num)} / {len(den)} = {100 * len(num) / len(den):.1f}%")
        listed = _get(api, "lingdao", f["drill"]["numerator"].split("?")[0], **_params(f["drill"]["numerator"]))
        assert listed["case_ids"] == ids_of(world, num)
        assert [i["id"] for i in listed["items"]] == ids_of(world, num)
    groups = {g["key"]: g for g in body["groups"]}
    d2 = groups[str(world.d2)]
    assert d2["label"].endswith("住房和城乡建设局")
    assert (d2["figures"]["response_rate"]["numerator"], d2["figures"]["response_rate"]["denominator"]) == (1, 2)
    den = _get(
        api,
        "lingdao",
        "/api/v1/stats/kpis/response_rate/cases",
        **_params(d2["figures"]["response_rate"]["drill"]["denominator"]),
    )
    assert den["case_ids"] == ids_of(world, {"c3", "c4"})
    paged = _get(
        api,
        "lingdao",
        "/api/v1/stats/kpis/closure_rate/cases",
        part="denominator",
        page=2,
        page_size=1,
        ids_only="true",
        **window,
    )
    assert paged["total"] == 4 and paged["case_ids"] == ids_of(world, CITY["closure_rate"][1])[1:2]
    assert "items" not in paged
    assert d2["score"]["band"] in {"A", "B", "C", "D", "E"}
    assert "综合得分" in d2["score"]["formula"]


def _params(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))


def test_api_scope_and_access(api: Any, db: Any) -> None:
    with db.session() as s:
        build(s)
    window = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    body = _get(api, "yylq", "/api/v1/stats/kpis", group_by="county", **window)
    assert [g["key"] for g in body["groups"]] == ["430602"]
    assert body["groups"][0]["label"] == "岳阳楼区"
    assert body["total"]["figures"]["response_rate"]["denominator"] == 4
    assert api.get("wangge", "/api/v1/stats/kpis").status_code == 403
    assert api.get("api12345", "/api/v1/stats/queues").status_code == 403
    r = api.get("paiqian", "/api/v1/stats/kpis", params={"group_by": "weekday"})
    assert r.status_code == 422
    r = api.get("paiqian", "/api/v1/stats/kpis", params={"since": UNTIL.isoformat(), "until": SINCE.isoformat()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "window_empty"
    r = api.get("paiqian", "/api/v1/stats/kpis/made_up/cases")
    assert r.status_code == 422
    defs = _get(api, "paiqian", "/api/v1/stats/definitions")
    sat = next(m for m in defs["metrics"] if m["metric"] == "satisfaction_rate")
    assert "非常满意+满意+基本满意" in sat["formula"]
