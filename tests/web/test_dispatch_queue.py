"""The dispatcher's queue (待派遣队列): its suggestion data (API), the page, and a dispatch through the lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from pingan.cases.models import Case
from pingan.dispatch import dataset
from pingan.dispatch.models import RoutingCorrection
from pingan.sim.org import DEMO_PASSWORD
from tests.helpers import act, new_case

TITLE = "孩子学校乱收费，强制购买教辅资料"
CONTENT = "平江县某中学开学要求每个学生交两百元资料费，请教育局查处。"


def _waiting_case(api: Any) -> dict[str, Any]:
    made = new_case(api, "DQ" + uuid.uuid4().hex[:10], title=TITLE, content=CONTENT)
    case = api.get("paiqian", f"/api/v1/cases/{made['case_id']}").json()
    if case["status"] == "received":
        case = act(api, "paiqian", case["id"], "register", note="属实")
    assert case["status"] == "registered" and case["tracking_code"] == made["tracking_code"]
    return dict(case)


def _item(api: Any, case: dict[str, Any], user: str = "paiqian") -> dict[str, Any] | None:
    """The case's entry in the queue, found by the queue's search on its tracking code."""
    r = api.get(user, "/api/v1/routing/queue", params={"q": case["tracking_code"].lower()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"]) <= 1
    return next((i for i in body["items"] if i["id"] == case["id"]), None)


def test_queue_lists_waiting_cases_with_top3_suggestions_and_reasons(api, db) -> None:  # type: ignore[no-untyped-def]
    case = _waiting_case(api)
    item = _item(api, case)
    assert item is not None and item["tracking_code"] == case["tracking_code"] and item["version"] == case["version"]
    sugg = item["suggestions"]
    assert [s["rank"] for s in sugg] == [1, 2, 3]
    assert len({s["category"] for s in sugg}) == 3 and all(s["category"] in dataset.LABELS for s in sugg)
    confs = [s["confidence"] for s in sugg]
    assert confs == sorted(confs, reverse=True) and 0 < confs[0] <= 1 and sum(confs) <= 1.0001
    assert sugg[0]["category"] == "教育文体"
    # The words that drove the first suggestion are words of the message.
    assert sugg[0]["reasons"] and all(w in TITLE + CONTENT for w in sugg[0]["reasons"])
    assert all(s["department_id"] and s["department_name"] for s in sugg)
    # It matches what the routing stored on the case.
    with db.session() as s:
        stored = s.get(Case, case["id"]).routing["suggestions"]  # type: ignore[union-attr]
    assert [(x["category"], x["department_id"]) for x in stored[:3]] == [
        (x["category"], x["department_id"]) for x in sugg
    ]
    # Only desk roles that dispatch or supervise may read it; bad paging is a 422, not a 500.
    assert api.get("chengguan", "/api/v1/routing/queue").status_code == 403
    assert api.get("zuoxi", "/api/v1/routing/queue").status_code == 403
    assert api.get("paiqian", "/api/v1/routing/queue", params={"page": 0}).status_code == 422
    assert api.get("paiqian", "/api/v1/routing/queue", params={"page_size": "x"}).status_code == 422


def test_dispatch_to_another_suggestion_is_recorded_as_a_correction(api, db) -> None:  # type: ignore[no-untyped-def]
    case = _waiting_case(api)
    item = _item(api, case)
    assert item is not None
    second = item["suggestions"][1]
    out = act(
        api,
        "paiqian",
        case["id"],
        "assign",
        department_id=second["department_id"],
        category=second["category"],
        version=item["version"],
    )
    assert out["status"] == "assigned"
    assert _item(api, case) is None  # no longer waiting
    with db.session() as s:
        c = s.get(Case, case["id"])
        assert c is not None and c.department_id == second["department_id"] and c.category == second["category"]
        row = s.scalars(select(RoutingCorrection).where(RoutingCorrection.case_id == case["id"])).one()
        assert (row.department_id, row.category) == (second["department_id"], second["category"])
        assert row.suggested_category == item["suggestions"][0]["category"]


def test_queue_page(api) -> None:  # type: ignore[no-untyped-def]
    case = _waiting_case(api)
    client = api.client
    assert client.get("/dispatch-queue", follow_redirects=False).status_code == 303  # not logged in
    r = client.post("/api/v1/auth/login", json={"username": "paiqian", "password": DEMO_PASSWORD})
    assert r.status_code == 200
    page = client.get("/dispatch-queue")
    assert page.status_code == 200 and "待派遣" in page.text
    # The search keeps the case (by tracking code, or by words of its title).
    html = client.get("/dispatch-queue", params={"q": case["tracking_code"]}).text
    assert html.count('data-testid="dq-case"') == 1
    assert case["tracking_code"] in client.get("/dispatch-queue", params={"q": "强制购买教辅"}).text
    none = client.get("/dispatch-queue", params={"q": "没有这样的标题%_"}).text
    assert 'data-testid="dq-case"' not in none and "待派遣 0 件" in none
    assert 'href="/dispatch-queue" aria-current="page"' in html and "待派遣队列" in html
    assert case["tracking_code"] in html and "依据词" in html and "派遣至" in html and "改派其他部门" in html
    assert f'aria-label="派遣 {case["tracking_code"]} 至 ' in html
    assert client.get("/dispatch-queue", params={"page": "abc"}).status_code == 422
    client.cookies.set("pingan_lang", "en")
    en = client.get("/dispatch-queue", params={"q": case["tracking_code"]}).text
    assert "Dispatch queue" in en and "Words behind it" in en
    client.cookies.clear()
    # A department's handler has no link and is refused politely.
    r = client.post("/api/v1/auth/login", json={"username": "chengguan", "password": DEMO_PASSWORD})
    assert 'href="/dispatch-queue"' not in client.get("/cases").text
    refused = client.get("/dispatch-queue")
    assert refused.status_code == 403 and "待派遣队列" in refused.text
    client.cookies.clear()


def test_a_flagged_police_matter_shows_the_transfer_rule(api) -> None:  # type: ignore[no-untyped-def]
    made = new_case(
        api, "DQ" + uuid.uuid4().hex[:10], title="小区楼下有人持刀抢劫", content="刚刚在小区门口，有人持刀抢劫路人"
    )
    case = api.get("paiqian", f"/api/v1/cases/{made['case_id']}").json()
    if case["status"] == "received":
        case = act(api, "paiqian", case["id"], "register", note="先立案")
    item = _item(api, case)
    assert item is not None and item["triage"] and "持刀" in item["triage"]
    client = api.client
    client.post("/api/v1/auth/login", json={"username": "paiqian", "password": DEMO_PASSWORD})
    html = client.get("/dispatch-queue", params={"q": case["tracking_code"]}).text
    client.cookies.clear()
    assert 'data-testid="dq-triage"' in html and "转办提示" in html
