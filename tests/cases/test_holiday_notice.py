"""An administrator adds next year's holiday notice: provisional deadlines are recomputed and made final."""

from __future__ import annotations

from datetime import datetime

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.schemas import ActionInput
from pingan.db import session_scope
from pingan.intake import pipeline
from pingan.intake.adapters import IntakeRecord
from pingan.orgs.roles import Role
from pingan.timeutil import CST, to_cst
from tests.helpers import dep_id

D = Actor(id=None, name="派遣员", role=Role.DISPATCHER)


def test_december_complaint_crosses_into_2027(api, db, session) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2026, 12, 30, 10, 0, tzinfo=CST)
    with session_scope(db.factory) as s:
        rec = IntakeRecord(
            channel="hotline_12345",
            external_id="DEC-1",
            case_type="投诉",
            title="投诉物业",
            content="物业不作为",
            received_at=at,
        )
        cid = pipeline.submit(s, rec, D, at).case_id
        service.act(s, cid, "register", D, at=at)
        service.act(s, cid, "assign", D, ActionInput(department_id=dep_id(s, "zj")), at=at)
    case = session.get(Case, cid)
    assert case.deadline_provisional is True
    assert to_cst(case.deadline_at) == datetime(2027, 1, 18, 10, 0, tzinfo=CST)
    body = {"year": 2027, "holidays": ["2027-01-01"], "workdays": []}
    assert api.post("paiqian", "/api/v1/admin/holidays/2027", json=body).status_code == 405
    r = api.client.put("/api/v1/admin/holidays/2027", json=body, headers=api.as_("paiqian"))
    assert r.status_code == 403
    r = api.client.put(
        "/api/v1/admin/holidays/2027", json={**body, "holidays": ["2028-01-01"]}, headers=api.as_("admin")
    )
    assert r.status_code == 422
    r = api.client.put("/api/v1/admin/holidays/2027", json=body, headers=api.as_("admin"))
    assert r.status_code == 200 and r.json()["recomputed_cases"] == 1
    session.expire_all()
    case = session.get(Case, cid)
    assert case.deadline_provisional is False
    assert to_cst(case.deadline_at) == datetime(2027, 1, 19, 10, 0, tzinfo=CST)
    shown = api.get("paiqian", f"/api/v1/cases/{cid}").json()
    assert shown["deadline_provisional"] is False


def test_the_calendar_is_read_once_per_transaction(db) -> None:  # type: ignore[no-untyped-def]
    """An intake batch hands many cases over in one transaction: they share one calendar. A notice written in
    another transaction is seen by the next one, and `fresh` re-reads it within the same transaction."""
    from pingan.cases import deadlines
    from pingan.cases.models import HolidayNotice
    from pingan.db import make_readonly_factory
    from pingan.timeutil import utcnow

    year = 2031
    with make_readonly_factory(db.engine)() as s:  # SQLite: a reader does not keep the writer below waiting
        first = deadlines.calendar(s)
        assert deadlines.calendar(s) is first
        before = first.is_workday(datetime(year, 3, 3).date())[0]
        with db.factory() as other, other.begin():
            other.add(
                HolidayNotice(year=year, holidays=["2031-03-03"], workdays=[], created_at=utcnow(), created_by="t")
            )
        assert deadlines.calendar(s) is first  # the same transaction keeps its calendar
        s.rollback()
        after = deadlines.calendar(s)
        assert after is not first
        assert before is True and after.is_workday(datetime(year, 3, 3).date())[0] is False
        assert deadlines.calendar(s, fresh=True) is not after
    with db.factory() as s, s.begin():
        s.delete(s.get(HolidayNotice, year))
