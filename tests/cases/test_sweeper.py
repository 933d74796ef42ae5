"""The SLA sweeper: 催办 at 80%, 督办 when overdue, 升级 after that; never twice, even with two processes."""

from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta

from sqlalchemy import func, select

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.models import Case, CaseEvent
from pingan.cases.schemas import ActionInput
from pingan.cases.sweeper import sweep_once
from pingan.db import make_engine, make_session_factory, session_scope
from pingan.intake import pipeline
from pingan.intake.adapters import IntakeRecord
from pingan.orgs.roles import Role
from pingan.timeutil import utcnow
from tests.helpers import dep_id

DISPATCHER = Actor(id=None, name="测试派遣员", role=Role.DISPATCHER)


def _assigned_cases(db, n: int, at, prefix: str, urgency: str = "normal") -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    with session_scope(db.factory) as s:
        cg = dep_id(s, "cg")
        for i in range(n):
            rec = IntakeRecord(
                channel="hotline_12345",
                external_id=f"{prefix}-{i}",
                case_type="咨询",
                title="咨询事项",
                content="咨询办事流程",
                urgency=urgency,
                received_at=at,
            )
            res = pipeline.submit(s, rec, DISPATCHER, at)
            service.act(s, res.case_id, "register", DISPATCHER, at=at)
            service.act(s, res.case_id, "assign", DISPATCHER, ActionInput(department_id=cg), at=at)
            ids.append(res.case_id)
    return ids


def _actions(session, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))


def test_urge_supervise_escalate(db, session) -> None:  # type: ignore[no-untyped-def]
    start = utcnow() - timedelta(days=60)
    [cid] = _assigned_cases(db, 1, start, "SW")
    case = session.get(Case, cid)
    assert case.urge_at < case.deadline_at < case.escalate_at
    # Before anything is due: nothing happens.
    assert sweep_once(db.factory, now=case.sign_deadline_at - timedelta(minutes=1)) == {
        "urged": 0,
        "supervised": 0,
        "escalated": 0,
    }
    # Sign deadline passed: urged to sign.
    assert sweep_once(db.factory, now=case.sign_deadline_at + timedelta(minutes=1))["urged"] == 1
    assert sweep_once(db.factory, now=case.sign_deadline_at + timedelta(minutes=2))["urged"] == 0
    counts = sweep_once(db.factory, now=case.deadline_at + timedelta(minutes=1))
    assert counts == {"urged": 1, "supervised": 1, "escalated": 0}
    counts = sweep_once(db.factory, now=case.escalate_at + timedelta(minutes=1))
    assert counts["escalated"] == 1
    assert sweep_once(db.factory, now=case.escalate_at + timedelta(days=5)) == {
        "urged": 0,
        "supervised": 0,
        "escalated": 0,
    }
    assert _actions(session, cid) == ["intake", "register", "assign", "urge", "urge", "supervise", "escalate"]
    session.expire_all()
    case = session.get(Case, cid)
    assert case.urge_count == 2 and case.supervised and case.escalation_level == 1


def test_urge_at_eighty_percent(db, session) -> None:  # type: ignore[no-untyped-def]
    start = utcnow() - timedelta(days=30)
    [cid] = _assigned_cases(db, 1, start, "SW80")
    with session_scope(db.factory) as s:
        service.act(
            s,
            cid,
            "sign",
            Actor(id=None, name="h", role=Role.HANDLER, department_id=dep_id(s, "cg")),
            at=start + timedelta(minutes=5),
        )
    case = session.get(Case, cid)
    assert sweep_once(db.factory, now=case.urge_at - timedelta(seconds=1))["urged"] == 0
    assert sweep_once(db.factory, now=case.urge_at + timedelta(seconds=1))["urged"] == 1
    notes = session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == cid, CaseEvent.action == "urge")).all()
    assert notes == ["即将超期，请抓紧办理"]


def _sweep_in_process(url: str, when_iso: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from datetime import datetime

    engine = make_engine(url)
    factory = make_session_factory(engine)
    total = {"urged": 0, "supervised": 0, "escalated": 0}
    for _ in range(5):
        for k, v in sweep_once(factory, now=datetime.fromisoformat(when_iso)).items():
            total[k] += v
    engine.dispose()
    out.put(total)


def test_two_processes_never_urge_twice(db, session) -> None:  # type: ignore[no-untyped-def]
    start = utcnow() - timedelta(days=60)
    ids = _assigned_cases(db, 120, start, "SW2P")
    when = max(session.scalars(select(Case.deadline_at).where(Case.id.in_(ids)))) + timedelta(minutes=1)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_sweep_in_process, args=(db.url, when.isoformat(), out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(r["urged"] for r in results) == 120
    assert sum(r["supervised"] for r in results) == 120
    per_case = session.execute(
        select(CaseEvent.case_id, func.count())
        .where(CaseEvent.case_id.in_(ids), CaseEvent.action == "urge")
        .group_by(CaseEvent.case_id)
    ).all()
    assert len(per_case) == 120 and all(n == 1 for _, n in per_case)
