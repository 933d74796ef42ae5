"""The hash-chained timeline: `pingan audit verify` names every edited or deleted event."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from pingan.audit.chain import verify_all
from pingan.cases.models import CaseEvent
from pingan.cli import app
from tests.helpers import act, dep_id, new_case


def _loop(api, session, no: str) -> int:  # type: ignore[no-untyped-def]
    cid = new_case(api, no)["case_id"]
    act(api, "zuoxi", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
    act(api, "chengguan", cid, "sign")
    act(api, "chengguan", cid, "feedback", result="已处理")
    return int(cid)


def test_intact_chain_verifies(api, session, db) -> None:  # type: ignore[no-untyped-def]
    _loop(api, session, "AU-0")
    n_cases, n_events, problems = verify_all(session)
    assert (n_cases, n_events, problems) == (1, 5, [])
    result = CliRunner().invoke(app, ["audit", "verify", "--db", db.url])
    assert result.exit_code == 0, result.output
    assert "chain intact" in result.output


def test_edited_event_is_named(api, session, db) -> None:  # type: ignore[no-untyped-def]
    cid = _loop(api, session, "AU-1")
    other = _loop(api, session, "AU-2")
    session.execute(update(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.seq == 4).values(note="其实没有签收"))
    session.commit()
    _, _, problems = verify_all(session)
    assert [(p.case_id, p.seq) for p in problems] == [(cid, 4), (cid, 5)] or [(p.case_id, p.seq) for p in problems][
        0
    ] == (cid, 4)
    assert all(p.case_id != other for p in problems)
    assert "edited" in str(problems[0])
    result = CliRunner().invoke(app, ["audit", "verify", "--db", db.url])
    assert result.exit_code == 1
    assert f"case {cid} event #4" in result.output


def test_deleted_events_are_named(api, session) -> None:  # type: ignore[no-untyped-def]
    mid = _loop(api, session, "AU-3")
    last = _loop(api, session, "AU-4")
    session.execute(delete(CaseEvent).where(CaseEvent.case_id == mid, CaseEvent.seq == 2))
    session.execute(delete(CaseEvent).where(CaseEvent.case_id == last, CaseEvent.seq == 5))
    session.commit()
    _, _, problems = verify_all(session)
    texts = [str(p) for p in problems]
    assert any(f"case {mid} event #2" in t and "missing" in t for t in texts), texts
    assert any(f"case {last}" in t and "trailing" in t for t in texts), texts


def test_rehashing_an_edit_still_breaks_the_link(api, session) -> None:  # type: ignore[no-untyped-def]
    from pingan.audit.chain import hash_of

    cid = _loop(api, session, "AU-5")
    ev = session.scalars(select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.seq == 3)).one()
    ev.note = "改写"
    ev.hash = hash_of(ev)  # a forger recomputes this event's hash …
    session.commit()
    _, _, problems = verify_all(session)
    assert any(p.case_id == cid and p.seq == 4 and "link" in p.problem for p in problems)  # … the next link breaks
