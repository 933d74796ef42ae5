"""The dispatcher's queue in a real browser: the suggestions with their reasons, a one-click dispatch, and a
correction to another department (recorded by pingan.dispatch.corrections), on a desktop and a 360 px phone."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pingan.cases.models import Case
from pingan.dispatch.models import RoutingCorrection
from pingan.orgs.models import Department
from pingan.sim.org import DEMO_PASSWORD
from tests.web.conftest import Live

pytestmark = pytest.mark.slow

YUEYANG = {"lat": 29.3570, "lon": 113.1290, "crs": "wgs84"}


def _login(browser: Any, live: Live, username: str, **ctx: Any) -> tuple[Any, Any]:
    context = browser.new_context(locale="zh-CN", **ctx)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    return context, page


def _waiting_case(live: Live, title: str, content: str) -> int:
    body = {
        "work_order_no": f"Q{uuid.uuid4().hex[:10]}",
        "case_type": "投诉",
        "title": title,
        "content": content,
        "caller_phone": "13807301234",
        "position": YUEYANG,
    }
    r = live.api("POST", "zuoxi", "/api/v1/intake/hotline_12345", json=body)
    assert r.status_code == 201, r.text
    cid = int(r.json()["case_id"])
    if live.api("GET", "paiqian", f"/api/v1/cases/{cid}").json()["status"] == "received":
        r = live.api("POST", "paiqian", f"/api/v1/cases/{cid}/actions/register", json={"note": "属实"})
        assert r.status_code == 200, r.text
    assert live.api("GET", "paiqian", f"/api/v1/cases/{cid}").json()["status"] == "registered"
    return cid


def _queued(live: Live, case_id: int) -> dict[str, Any]:
    code = live.api("GET", "paiqian", f"/api/v1/cases/{case_id}").json()["tracking_code"]
    items = live.api("GET", "paiqian", "/api/v1/routing/queue", params={"q": code}).json()["items"]
    assert [i["id"] for i in items] == [case_id]
    return dict(items[0])


def test_dispatcher_dispatches_from_the_queue_by_clicking(browser: Any, live_server: Live, shots: Path) -> None:
    live = live_server
    cid = _waiting_case(live, "出租车拒载还绕路", "在火车站打车，出租车司机拒载，还故意绕路多收费。")
    other = _waiting_case(live, "小区噪音扰民", "楼下商铺晚上十一点后还在放高音喇叭，严重影响休息。")
    item, other_item = _queued(live, cid), _queued(live, other)
    if not item["suggestions"]:
        pytest.skip("no routing model installed: the queue has no suggestions to click")

    context, page = _login(browser, live, "paiqian")
    # The navigation leads the dispatcher to the queue.
    page.get_by_role("navigation", name="main").get_by_role("link", name="待派遣队列").click()
    page.wait_for_url(re.compile(r"/dispatch-queue$"))
    code = item["tracking_code"]
    # Other tests leave cases waiting too: the dispatcher finds this one by its tracking code.
    page.get_by_role("search").get_by_label("关键词/编号").fill(code)
    with page.expect_navigation():
        page.get_by_role("search").get_by_role("button", name="查询").click()
    card = page.locator(f"[data-testid=dq-case][data-case='{cid}']")
    sugg = card.get_by_test_id("dq-suggestion")
    assert sugg.count() == 3
    first = sugg.nth(0)
    assert first.get_by_test_id("dq-dep").inner_text().strip() == item["suggestions"][0]["department_name"]
    assert re.fullmatch(r"\d+%", first.get_by_test_id("dq-conf").inner_text().strip())
    reasons = first.get_by_test_id("dq-reasons").inner_text().split("、")
    text = "出租车拒载还绕路在火车站打车，出租车司机拒载，还故意绕路多收费。"
    assert reasons and all(w and w in text for w in reasons)
    page.screenshot(path=str(shots / "dispatch-queue.png"), full_page=True)

    # One click on the second suggestion dispatches the case there (a correction of the routing).
    chosen = item["suggestions"][1]
    button = card.get_by_role("button", name=re.compile(f"^派遣 {code} 至 {re.escape(chosen['department_name'])}"))
    button.click()
    done = card.get_by_test_id("dq-done")
    done.wait_for(state="visible")
    assert done.inner_text() == f"已派遣至 {chosen['department_name']}"
    with live.db.session() as s:
        case = s.get(Case, cid)
        assert case is not None and case.status == "assigned"
        assert (case.department_id, case.category) == (chosen["department_id"], chosen["category"])
        corr = s.scalars(select(RoutingCorrection).where(RoutingCorrection.case_id == cid)).one()
        assert corr.department_id == chosen["department_id"]
        deps = {d.code: d for d in s.scalars(select(Department).where(Department.code.in_(["sthj", "cg"])))}
    context.close()
    # The correction: a department and a category other than the routing's first choice.
    top = other_item["suggestions"][0]
    target = next(d for code, d in sorted(deps.items()) if d.id != top["department_id"])
    category = next(c for c in ("环境保护", "城乡建设") if c != top["category"])

    # On a 360 px phone: the queue fits the width, and a correction to another department goes through.
    context, phone = _login(browser, live, "paiqian", viewport={"width": 360, "height": 760}, is_mobile=True)
    phone.goto(f"{live.url}/dispatch-queue?q={other_item['tracking_code']}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    card = phone.locator(f"[data-testid=dq-case][data-case='{other}']")
    assert card.get_by_test_id("dq-suggestion").count() == 3
    card.get_by_text("改派其他部门").click()
    card.get_by_label("主办部门").select_option(label=target.name)
    card.get_by_label("分类").select_option(label=category)
    card.get_by_role("button", name="改派", exact=True).click()
    card.get_by_test_id("dq-done").wait_for(state="visible")
    assert card.get_by_test_id("dq-done").inner_text() == f"已派遣至 {target.name}"
    phone.screenshot(path=str(shots / "dispatch-queue-phone.png"), full_page=True)
    with live.db.session() as s:
        case = s.get(Case, other)
        assert case is not None and case.status == "assigned" and case.department_id == target.id
        assert case.category == category
        corr = s.scalars(select(RoutingCorrection).where(RoutingCorrection.case_id == other)).one()
        assert (corr.department_id, corr.category) == (target.id, category)
    # Gone from the queue once dispatched.
    phone.reload()
    assert phone.locator(f"[data-testid=dq-case][data-case='{other}']").count() == 0
    context.close()
