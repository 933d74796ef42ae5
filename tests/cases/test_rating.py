"""Residents rate the result online: code + phone digits, the 回访 transition as the resident channel."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.app import create_app
from pingan.cases.models import Case, CaseEvent
from tests.helpers import act, dep_id, new_case

URL = "/api/v1/public/track/rating"
PHONE = "13812345678"


def closed_case(api, session, no: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    c = new_case(api, no, caller_phone=PHONE)
    cid = c["case_id"]
    act(api, "zuoxi", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
    act(api, "chengguan", cid, "sign")
    act(api, "chengguan", cid, "feedback", result="已处理")
    act(api, "paiqian", cid, "verify_pass")
    act(api, "paiqian", cid, "close")
    return cid, c["tracking_code"]


def rate(api, code: str, last4: str = "5678", **kw):  # type: ignore[no-untyped-def]
    return api.client.post(URL, json={"code": code, "phone_last4": last4, **kw})


def test_resident_rates_a_closed_case_through_the_revisit(api, session) -> None:  # type: ignore[no-untyped-def]
    cid, code = closed_case(api, session, "RATE-1")
    r = rate(api, code.lower(), satisfaction="满意", solved=True, comment="  处理及时，谢谢  ")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "revisited" and out["satisfaction"] == "满意" and out["reopened"] is False
    assert out["already_rated"] is False
    ev = session.scalars(select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.seq.desc())).first()
    assert ev.action == "revisit" and ev.actor_role == "channel" and ev.actor_id is None
    assert ev.from_status == "closed" and ev.to_status == "revisited" and ev.note == "处理及时，谢谢"
    assert ev.data["satisfaction"] == "满意" and ev.data["satisfied"] is True
    case = api.get("paiqian", f"/api/v1/cases/{cid}").json()
    assert case["satisfaction"] == "满意" and case["status"] == "revisited"
    # The same rating again (a retry): the same answer, no second event.
    again = rate(api, code, satisfaction="满意", solved=True)
    assert again.status_code == 200 and again.json()["already_rated"] is True
    # A different rating: refused, clearly.
    other = rate(api, code, satisfaction="不满意", solved=False)
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_rated"
    assert "已评价" in other.json()["error"]["message"]
    n = session.scalar(select(Case.event_count).where(Case.id == cid))
    assert n == ev.seq


def test_unsatisfied_and_unsolved_reopens_by_policy(api, session) -> None:  # type: ignore[no-untyped-def]
    cid, code = closed_case(api, session, "RATE-2")
    r = rate(api, code, satisfaction="不满意", solved=False)
    assert r.status_code == 200, r.text
    assert r.json()["reopened"] is True and r.json()["status"] == "in_progress"
    case = session.get(Case, cid)
    session.refresh(case)
    assert case.status == "in_progress" and case.rework_count == 1 and case.closed_at is None
    # 不满意 but solved: no reopen (like a phone 回访).
    cid3, code3 = closed_case(api, session, "RATE-3")
    r = rate(api, code3, satisfaction="不满意", solved=True)
    assert r.status_code == 200 and r.json()["reopened"] is False and r.json()["status"] == "revisited"
    # 非常不满意 reopens whatever "solved" says.
    cid4, code4 = closed_case(api, session, "RATE-4")
    r = rate(api, code4, satisfaction="非常不满意")
    assert r.json()["reopened"] is True
    # The retry of the reopening rating is idempotent, not a second reopen.
    again = rate(api, code4, satisfaction="非常不满意")
    assert again.status_code == 200 and again.json()["already_rated"] is True
    case4 = session.get(Case, cid4)
    session.refresh(case4)
    assert case4.rework_count == 1


def test_wrong_code_or_digits_and_refusals(api, session) -> None:  # type: ignore[no-untyped-def]
    cid, code = closed_case(api, session, "RATE-5")
    wrong_digits = rate(api, code, last4="0000", satisfaction="满意", solved=True)
    unknown = rate(api, "PA2345678923", satisfaction="满意", solved=True)
    lookup = api.client.get("/api/v1/public/track", params={"code": "PA2345678923", "phone_last4": "5678"})
    # No enumeration: the same status and body as the public lookup, whichever part is wrong.
    assert wrong_digits.status_code == unknown.status_code == lookup.status_code == 404
    assert wrong_digits.json() == unknown.json() == lookup.json()
    bad = rate(api, code, satisfaction="一般")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "satisfaction_unknown"
    assert rate(api, code, last4="12x4", satisfaction="满意").status_code == 422
    # A case not closed yet cannot be rated.
    open_case = new_case(api, "RATE-6", caller_phone=PHONE)
    r = rate(api, open_case["tracking_code"], satisfaction="满意")
    assert r.status_code == 409 and r.json()["error"]["code"] == "rating_not_open"
    assert "待立案" in r.json()["error"]["message"]
    session.expire_all()
    assert session.get(Case, cid).status == "closed"
    # A channel system account may not take the 回访 through the staff API.
    r = api.post("api12345", f"/api/v1/cases/{cid}/actions/revisit", json={"satisfaction": "满意"})
    assert r.status_code in (404, 409)
    session.expire_all()
    assert session.get(Case, cid).status == "closed"


def test_rating_is_rate_limited_like_the_lookup(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PINGAN_RATE_PUBLIC_PER_MIN", "3")
    with TestClient(create_app(db.settings(), background=False)) as client:
        codes = [client.get("/api/v1/public/track", params={"code": "PA2345678923", "phone_last4": "1234"})]
        body = {"code": "PA2345678923", "phone_last4": "1234", "satisfaction": "满意"}
        codes += [client.post(URL, json=body) for _ in range(3)]
        assert [r.status_code for r in codes] == [404, 404, 404, 429]
        assert codes[-1].json()["error"]["code"] == "rate_limited"
