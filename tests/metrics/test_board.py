"""Command-center queues match the case list's filters exactly; intake per channel per day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.cases import lifecycle, service
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.queries import list_cases
from pingan.cases.schemas import ActionInput
from pingan.metrics import board
from pingan.orgs.roles import Role
from pingan.timeutil import CST, utcnow
from tests.metrics.scenario import HR, YYL, World, actor_of, build, new_case


@pytest.fixture
def session(db: Any) -> Iterator[Session]:
    with db.session() as s:
        yield s


def _live(session: Session, world: World) -> dict[str, int]:
    """Two cases handled now: one with a pending extension request, one registered (待派遣)."""
    disp = actor_of(session, "paiqian")
    h1 = Actor(None, "岳阳楼区城管局·处置员", Role.HANDLER, world.d1)
    now = utcnow()
    c7 = new_case(session, "M-7", YYL, now - timedelta(hours=2))
    service.act(session, c7, "register", disp, ActionInput(), now - timedelta(hours=2))
    service.act(session, c7, "assign", disp, ActionInput(department_id=world.d1), now - timedelta(hours=2))
    service.act(session, c7, "sign", h1, ActionInput(), now - timedelta(hours=1))
    service.act(session, c7, "request_extension", h1, ActionInput(reason="需协调", amount=2), now)
    c8 = new_case(session, "M-8", HR, now - timedelta(hours=1))
    service.act(session, c8, "register", disp, ActionInput(), now - timedelta(hours=1))
    session.commit()
    return {"c7": c7, "c8": c8}


def _counts(body: dict[str, Any]) -> dict[str, int]:
    return {q["key"]: q["count"] for q in body["queues"]}


def test_queues_count_what_the_case_list_lists(session: Session) -> None:
    world = build(session)
    live = _live(session, world)
    ids = {**world.ids, **live}
    for username in ("paiqian", "yylq", "yylcg"):
        actor = actor_of(session, username)
        body = board.queues(session, actor)
        for q in body["queues"]:
            page = list_cases(session, actor, page_size=200, **q["filter"])
            assert page.total == q["count"], (username, q["key"])
    city = _counts(board.queues(session, actor_of(session, "paiqian")))
    # c3 (signed, deadline in September) and c4 (reopened by the 不满意 revisit, deadline in October) are overdue.
    assert city["overdue"] == 2
    assert city["received"] == 1  # c6
    assert city["registered"] == 1  # c8
    assert city["suspended"] == 1  # c5
    assert city["pending_request"] == 1  # c7
    assert city["closed"] == 0 and city["feedback"] == 0
    district = _counts(board.queues(session, actor_of(session, "yylq")))
    assert district["overdue"] == 1 and district["registered"] == 0  # c4 and c8 are in 华容县
    overdue = list_cases(session, actor_of(session, "paiqian"), overdue=True)
    assert {c.id for c in overdue.items} == {ids["c3"], ids["c4"]}
    pending = list_cases(session, actor_of(session, "paiqian"), pending=True)
    assert [c.id for c in pending.items] == [ids["c7"]]


def test_due_soon_between_urge_and_deadline(session: Session) -> None:
    world = build(session)
    live = _live(session, world)
    c7 = session.get(Case, live["c7"])
    assert c7 is not None and c7.urge_at is not None and c7.deadline_at is not None
    paiqian = actor_of(session, "paiqian")
    assert _counts(board.queues(session, paiqian))["due_soon"] == 0
    at_urge = _counts(board.queues(session, paiqian, now=c7.urge_at + timedelta(seconds=1)))
    assert at_urge["due_soon"] == 1
    after = _counts(board.queues(session, paiqian, now=c7.deadline_at + timedelta(seconds=1)))
    assert after["due_soon"] == 0
    # An independent reading of the same rule over the rows.
    now = c7.urge_at + timedelta(seconds=1)
    rows = session.scalars(select(Case)).all()
    expected = [
        c.id
        for c in rows
        if c.status in lifecycle.WITH_DEPARTMENT and c.urge_at and c.deadline_at and c.urge_at <= now <= c.deadline_at
    ]
    assert expected == [c7.id]


def test_intake_per_channel_per_day(session: Session) -> None:
    now = utcnow()
    today = now.astimezone(CST).date()
    new_case(session, "I-1", YYL, now - timedelta(minutes=5))
    new_case(session, "I-2", YYL, now - timedelta(minutes=4), channel="online")
    new_case(session, "I-3", HR, now - timedelta(days=1))
    new_case(session, "I-4", HR, now - timedelta(days=9))  # outside a 7-day view
    session.commit()
    body = board.intake(session, actor_of(session, "paiqian"), 7)
    rows = body["rows"]
    assert len(rows) == 7 and rows[0]["day"] == today.isoformat()
    assert sum(r["by_channel"]["hotline_12345"] for r in rows) == 2
    assert sum(r["by_channel"]["online"] for r in rows) == 1
    assert body["total"] == 3
    yylq = board.intake(session, actor_of(session, "yylq"), 7)
    assert yylq["total"] == 2  # 华容县's case is not the district's


def test_api_queues_and_intake(api: Any, db: Any) -> None:
    with db.session() as s:
        build(s)
    r = api.get("paiqian", "/api/v1/stats/queues")
    assert r.status_code == 200, r.text
    overdue = next(q for q in r.json()["queues"] if q["key"] == "overdue")
    listed = api.get("paiqian", overdue["list_url"])
    assert listed.status_code == 200 and listed.json()["total"] == overdue["count"] == 2
    received = next(q for q in r.json()["queues"] if q["key"] == "received")
    assert received["label"] == "待立案" and received["list_url"] == "/api/v1/cases?status=received"
    r = api.get("duban", "/api/v1/stats/intake", params={"days": 3})
    assert r.status_code == 200 and len(r.json()["rows"]) == 3
    assert api.get("duban", "/api/v1/stats/intake", params={"days": 0}).status_code == 422
