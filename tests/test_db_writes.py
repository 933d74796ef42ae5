"""Batch writes: an intake batch's timeline events go out by COPY on PostgreSQL (one short executemany
INSERT on SQLite), never as one INSERT … RETURNING with a parameter per value; `db.insert_new` writes new
objects without the unit of work and still runs the flush listeners; ids follow the order the rows were made."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.models import Case, CaseDepartment, CaseEvent
from pingan.db import COPY_FROM, insert_new
from pingan.notify.models import OutboxMessage
from pingan.orgs.models import Department
from pingan.orgs.roles import Role
from tests.helpers import hotline_body

T0 = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
DESK = Actor(id=None, name="测试坐席", role=Role.DISPATCHER)


def test_a_batch_writes_its_events_with_ids_drawn_in_order(api: Any, db: Any) -> None:
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO case_events"):
            seen.append((statement, many))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        body = [
            hotline_body(f"ids-{i}", title=f"路灯损坏第{i}处", content=f"第{i}处路灯损坏，夜间出行不便。")
            for i in range(24)
        ]
        r = api.post("zuoxi", "/api/v1/intake/hotline_12345/batch", json=body)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 24
    if db.kind == "postgresql":
        assert seen == []  # COPY: no statement with a parameter per value
    else:
        assert seen and all(many and "RETURNING" not in stmt and len(stmt) < 1000 for stmt, many in seen), seen
    with db.session() as s:
        rows = s.execute(select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.id).order_by(CaseEvent.id)).all()
    assert len(rows) >= 24
    # Ids follow the order the events were made in: within a case, by seq.
    by_case: dict[int, list[int]] = {}
    for case_id, seq, _ in rows:
        by_case.setdefault(case_id, []).append(seq)
    assert all(seqs == sorted(seqs) for seqs in by_case.values())
    assert len({i for _, _, i in rows}) == len(rows)


def _staged(session: Session, n: int, external_id: str | None = None) -> list[Case]:
    cases = [
        Case(
            channel="hotline_12345",
            external_id=external_id or uuid.uuid4().hex[:16],
            case_type="投诉",
            title=f"路灯损坏第{i}处",
            content="夜间出行不便",
            region_code="430602",
            county_code="430602",
            received_at=T0,
            caller_phone="13812341234",
            extra={"n": i},
        )
        for i in range(n)
    ]
    service.stage_cases(session, [(c, DESK, T0, {"channel": "hotline_12345"}) for c in cases])
    return cases


def test_insert_new_writes_the_objects_and_runs_the_flush_listeners(db: Any) -> None:
    with db.session() as session:
        dep = session.scalars(select(Department)).first()
        assert dep is not None
        cases = _staged(session, COPY_FROM)  # PostgreSQL: COPY for the cases, their events and the messages
        cases[0].departments.append(CaseDepartment(department_id=dep.id, role="lead"))  # case_id from the link
        key = f"t:{uuid.uuid4().hex}"
        payload = {"a": [1, "二"]}
        for i in range(COPY_FROM):  # status and attempts left to their defaults
            session.add(
                OutboxMessage(dedupe_key=f"{key}{i}", kind="notify", recipient="grid:1", payload=payload, created_at=T0)
            )
        heard: list[int] = []

        def listener(s: Session, _ctx: Any) -> None:
            heard.append(sum(isinstance(o, Case) for o in s.new))

        event.listen(Session, "after_flush", listener)
        try:
            insert_new(session)
        finally:
            event.remove(Session, "after_flush", listener)
        assert heard == [COPY_FROM]  # the listeners saw the new objects, once
        assert not session.new and all(inspect(c).transient for c in cases)
        session.commit()
        ids = [c.id for c in cases]
        stored = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(ids)))}
        assert set(stored) == set(ids)
        for c in cases:
            got = stored[c.id]
            assert (got.title, got.extra, got.status, got.version, got.event_count) == (
                c.title,
                c.extra,
                "received",
                1,
                1,
            )
            assert got.caller_phone == "13812341234" and got.caller_phone_last4 == "1234" and got.kind == "承诺件"
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids))).all()
        assert sorted(e.case_id for e in events) == sorted(ids) and all(
            e.hash == stored[e.case_id].head_hash for e in events
        )
        link = session.scalars(select(CaseDepartment).where(CaseDepartment.case_id == ids[0])).one()
        assert (link.department_id, link.role, link.active) == (dep.id, "lead", True)
        msg = session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"{key}7")).one()
        assert (msg.status, msg.attempts, msg.payload, msg.created_at, msg.sent_at) == (
            "pending",
            0,
            {"a": [1, "二"]},
            T0,
            None,
        )


def test_insert_new_leaves_mixed_work_to_a_flush(db: Any) -> None:
    with db.session() as session:
        old = _staged(session, 1)[0]
        session.commit()
        new = _staged(session, 1)[0]
        old.title = "改过的标题"  # dirty: the unit of work must write it
        assert old in session.dirty
        insert_new(session)
        assert inspect(new).persistent and inspect(old).persistent
        session.commit()
        session.expire_all()
        assert session.get(Case, old.id).title == "改过的标题"  # type: ignore[union-attr]


def test_insert_new_fails_whole_and_the_savepoint_undoes_it(db: Any) -> None:
    with db.session() as session:
        taken = uuid.uuid4().hex[:16]
        _staged(session, 1, external_id=taken)
        session.commit()
        before = session.scalars(select(Case.id)).all()
        with pytest.raises(IntegrityError), session.begin_nested():
            _staged(session, 20)  # with the one below, enough rows for COPY on PostgreSQL
            _staged(session, 1, external_id=taken)  # the (channel, external id) of a stored case
            insert_new(session)
        assert not session.new
        session.commit()
        assert session.scalars(select(Case.id)).all() == before
