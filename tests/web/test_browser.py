"""The web front end, driven by a real browser (Debian's chromium through Playwright) against a real server.

One case walks the closed loop from a 12345 call to the revisit by clicking; a refused action shows the API's
message; a grid worker reports from a 360 px phone; the statistics drill-down lists exactly the counted cases.
Screenshots of the key pages land in docs/screenshots/.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select, text

from pingan.cases.models import Case, CaseEvent
from pingan.orgs import service as orgs
from pingan.orgs.models import Department, User
from pingan.orgs.roles import Role
from pingan.sim.org import DEMO_PASSWORD
from tests.web.conftest import Live

pytestmark = pytest.mark.slow

YUEYANG = {"lat": 29.3570, "lon": 113.1290, "crs": "wgs84"}


_CONTEXTS: dict[str, Any] = {}


def login(browser: Any, live: Live, username: str, **ctx: Any) -> Any:
    """A page logged in as `username` through the login form; a plain desktop context is logged in once and
    reused (each login costs an argon2 hash), a context with options (phone, GPS) is always new."""
    if not ctx and username in _CONTEXTS:
        page = _CONTEXTS[username].new_page()
        page.goto(live.url + "/")
        return page
    context = browser.new_context(locale="zh-CN", **ctx)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    if not ctx:
        _CONTEXTS[username] = context
    return page


@pytest.fixture(scope="module", autouse=True)
def _close_contexts() -> Any:
    yield
    for c in _CONTEXTS.values():
        c.close()
    _CONTEXTS.clear()


def act(page: Any, label: str, **fields: str) -> None:
    """Open an action's form by its button, fill the fields by label, submit, and wait for the reload."""
    page.get_by_role("button", name=label, exact=True).click()
    form = page.locator(f"form.action-form:not([hidden]):has(h3:text-is('{label}'))")
    for name, value in fields.items():
        el = form.get_by_label(name, exact=True)
        if el.evaluate("e => e.tagName") == "SELECT":
            el.select_option(label=value)
        else:
            el.fill(value)
    with page.expect_navigation():
        form.get_by_role("button", name=f"提交 · {label}").click()
    assert page.locator("#flash").inner_text().startswith("操作成功")


def status_of(page: Any) -> str:
    return str(page.get_by_test_id("status").inner_text())


def new_case(live: Live, title: str, **extra: Any) -> dict[str, Any]:
    body = {
        "work_order_no": f"T{uuid.uuid4().hex[:10]}",
        "case_type": "投诉",
        "title": title,
        "content": title + "，请相关部门尽快处理。",
        "caller_phone": "13807301234",
        "position": YUEYANG,
        **extra,
    }
    r = live.api("POST", "zuoxi", "/api/v1/intake/hotline_12345", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def act_api(live: Live, user: str, case_id: int, action: str, **body: Any) -> dict[str, Any]:
    r = live.api("POST", user, f"/api/v1/cases/{case_id}/actions/{action}", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def dep_id(live: Live, code: str) -> int:
    with live.db.session() as s:
        return int(s.scalars(select(Department.id).where(Department.code == code)).one())


def test_closed_loop_by_clicking(browser: Any, live_server: Live, shots: Path) -> None:
    live = live_server
    # 坐席 takes a 12345 call at the command center.
    op = login(browser, live, "zuoxi")
    assert op.url.rstrip("/") == live.url
    op.get_by_label("工单号").fill("W" + uuid.uuid4().hex[:10])
    op.get_by_label("标题").fill("小区门口下水道井盖缺失")
    op.get_by_label("诉求内容").fill("岳阳楼区某小区门口下水道井盖缺失，夜间行人易跌落，请尽快处理。")
    op.get_by_label("联系电话").fill("13807305678")
    with op.expect_navigation(timeout=30_000):
        op.get_by_role("button", name="提交").click()
    case_url = op.url
    assert re.search(r"/cases/\d+$", case_url)
    case_id = int(case_url.rsplit("/", 1)[1])
    if status_of(op) == "待立案":
        act(op, "立案", 备注="情况属实，予以立案")
    assert status_of(op) in ("待派遣", "待签收")
    op.screenshot(path=str(shots / "case-detail-registered.png"), full_page=True)

    # 派遣员 dispatches it to the city 城管局.
    disp = login(browser, live, "paiqian")
    disp.goto(case_url)
    if status_of(disp) == "待派遣":
        act(disp, "派遣", 主办部门="岳阳市城市管理局" if _has_dep(live, "岳阳市城市管理局") else _dep_name(live, "cg"))
    assert status_of(disp) == "待签收"

    # The department: a 退单 without a reason is refused with the API's message; then 签收 and 反馈.
    hd = login(browser, live, "chengguan")
    assert hd.url.endswith("/workbench")
    hd.screenshot(path=str(shots / "workbench.png"), full_page=True)
    hd.goto(case_url)
    hd.get_by_role("button", name="退单", exact=True).click()
    form = hd.locator("#form-return")
    form.get_by_role("button", name="提交 · 退单").click()
    error = form.locator(".form-error")
    error.wait_for(state="visible")
    assert "此操作需要填写退单理由" in error.inner_text()
    assert status_of(hd) == "待签收"
    hd.screenshot(path=str(shots / "refused-action.png"), full_page=True)
    form.get_by_role("button", name="取消").click()
    act(hd, "签收")
    assert status_of(hd) == "已签收"
    act(hd, "处置反馈", 处置结果="已更换井盖并设置警示标志")
    assert status_of(hd) == "待核查"
    # Only what the role may do now: the department can no longer sign, return or feed back.
    assert hd.locator("[data-open]").all_inner_texts() == ["备注"]

    # 派遣员 verifies and closes; 坐席 revisits.
    disp.goto(case_url)
    act(disp, "核查通过", 备注="现场核查已整改")
    assert status_of(disp) == "待结案"
    act(disp, "结案")
    assert status_of(disp) == "待回访"
    op.goto(case_url)
    act(op, "回访", 满意度="满意", **{"问题是否解决": "是"})
    assert status_of(op) == "已回访"
    timeline = op.get_by_test_id("timeline").inner_text()
    for step in ("受理", "签收", "处置反馈", "核查通过", "结案", "回访"):
        assert step in timeline, step
    assert "派遣" in timeline
    op.screenshot(path=str(shots / "case-detail-revisited.png"), full_page=True)

    with live.db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status == "revisited" and case.satisfaction == "满意"
    for p in (op, disp, hd):
        p.close()


def _dep_name(live: Live, code: str) -> str:
    with live.db.session() as s:
        return str(s.scalars(select(Department.name).where(Department.code == code)).one())


def _has_dep(live: Live, name: str) -> bool:
    with live.db.session() as s:
        return s.scalars(select(Department.id).where(Department.name == name)).first() is not None


def test_every_role_logs_in_and_lands_on_its_page(browser: Any, live_server: Live, shots: Path) -> None:
    live = live_server
    new_case(live, "路灯不亮影响夜间出行")
    expect = {
        "zuoxi": ("/", "今日受理"),
        "paiqian": ("/", "待派遣"),
        "duban": ("/", "工作队列"),
        "lingdao": ("/", "案件地图"),
        "admin": ("/", "工作队列"),
        "chengguan": ("/workbench", "部门工作台"),
        "wangge": ("/grid", "上报事件"),
    }
    for username, (path, marker) in expect.items():
        page = login(browser, live, username)
        assert page.url.removeprefix(live.url).split("?")[0] in (path, path.rstrip("/") or "/"), page.url
        assert marker in page.content()
        who = page.get_by_test_id("who").inner_text()
        assert who
        if username == "paiqian":
            page.wait_for_function("Number(document.getElementById('map').dataset.markers) > 0")
            page.wait_for_function("Number(document.getElementById('map').dataset.outline) > 0")
            page.screenshot(path=str(shots / "command-center.png"), full_page=True)
        if username == "lingdao":
            # A leader sees the case but may take no action on it.
            page.goto(f"{live.url}/cases")
            page.locator("table.cases a").first.click()
            assert page.get_by_test_id("no-actions").is_visible()
        page.close()


def test_first_login_forces_a_password_change(browser: Any, live_server: Live) -> None:
    live = live_server
    name = "new" + uuid.uuid4().hex[:6]
    with live.db.session() as s:
        orgs.create_user(s, name, DEMO_PASSWORD, Role.OPERATOR, "新坐席", must_change_password=True)
        s.commit()
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/password\?first=1$"))
    page.goto(f"{live.url}/cases")  # no way around it
    assert "/password" in page.url
    page.get_by_label("原密码").fill(DEMO_PASSWORD)
    page.get_by_label("新密码", exact=True).fill("Yueyang#2026pass")
    page.get_by_label("确认新密码").fill("Yueyang#2026other")
    page.get_by_role("button", name="提交").click()
    assert "两次输入的新密码不一致" in page.locator(".form-error").inner_text()
    page.get_by_label("确认新密码").fill("Yueyang#2026pass")
    with page.expect_navigation():
        page.get_by_role("button", name="提交").click()
    assert page.url.rstrip("/") == live.url
    # An expired (revoked) session sends the next page to the login, not to an error.
    with live.db.session() as s:
        uid = s.scalars(select(User.id).where(User.username == name)).one()
        s.execute(text("UPDATE auth_tokens SET revoked_at = created_at WHERE user_id = :u"), {"u": uid})
        s.commit()
    page.goto(f"{live.url}/cases")
    assert "/login" in page.url and "expired=1" in page.url
    assert "登录已失效" in page.content()
    context.close()


def test_grid_worker_reports_from_a_phone(browser: Any, live_server: Live, shots: Path) -> None:
    live = live_server
    page = login(
        browser,
        live,
        "wangge",
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": YUEYANG["lat"], "longitude": YUEYANG["lon"], "accuracy": 8},
        permissions=["geolocation"],
    )
    assert page.url.endswith("/grid")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide at a 360px viewport"
    page.get_by_label("标题").fill("人行道破损")
    page.get_by_label("诉求内容").fill("步行街人行道地砖破损翘起，已设置临时警示")
    page.get_by_role("button", name="获取定位").click()
    page.wait_for_function("document.getElementById('g-lat').value !== ''")
    assert "WGS-84" in page.locator("#g-pos").inner_text()
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(photo, "PNG")
    page.get_by_label("现场照片").set_input_files(
        files=[{"name": "pavement.png", "mimeType": "image/png", "buffer": photo.getvalue()}]
    )
    page.screenshot(path=str(shots / "grid-worker-360.png"), full_page=True)
    with page.expect_navigation(timeout=30_000):
        page.get_by_role("button", name="提交").click()
    assert re.search(r"/cases/\d+$", page.url)
    case_id = int(page.url.rsplit("/", 1)[1])
    with live.db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.channel == "grid" and case.lat is not None
        assert abs(case.lat - YUEYANG["lat"]) < 1e-4 and abs((case.lon or 0) - YUEYANG["lon"]) < 1e-4
    img = page.locator(".photos img").first
    img.wait_for()
    page.wait_for_function("document.querySelector('.photos img').naturalWidth === 64")
    page.goto(f"{live.url}/grid")
    assert "人行道破损" in page.locator(".mobile-cases").inner_text()
    page.context.close()


def test_resident_reports_and_tracks(browser: Any, live_server: Live, shots: Path) -> None:
    live = live_server
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live.url}/public")
    page.get_by_label("标题").fill("小区噪音扰民")
    page.get_by_label("诉求内容").fill("夜间施工噪音扰民，影响休息")
    page.get_by_label("联系电话").fill("13907304321")
    page.get_by_role("button", name="提交").click()
    code = page.get_by_test_id("tracking-code")
    code.wait_for(state="visible")
    tracking = code.inner_text()
    assert len(tracking) >= 6
    page.get_by_label("手机号后四位").fill("0000")
    page.get_by_role("button", name="进度查询").click()
    err = page.locator("#track-form .form-error")
    err.wait_for(state="visible")
    assert "手机号后四位不符" in err.inner_text()
    page.get_by_label("手机号后四位").fill("4321")
    page.get_by_role("button", name="进度查询").click()
    page.get_by_test_id("track-status").wait_for()
    assert "待立案" in page.get_by_test_id("track-status").inner_text() or page.get_by_test_id("track-status").count()
    assert page.locator("#rate-form").is_hidden()  # not closed yet: nothing to rate
    page.screenshot(path=str(shots / "resident.png"), full_page=True)
    # The matter is handled and closed by the staff; the resident rates it online (回访 by the resident channel).
    with live.db.session() as s:
        cid = int(s.scalars(select(Case.id).where(Case.tracking_code == tracking)).one())
    act_api(live, "zuoxi", cid, "register")
    act_api(live, "paiqian", cid, "assign", department_id=dep_id(live, "cg"))
    act_api(live, "chengguan", cid, "sign")
    act_api(live, "chengguan", cid, "feedback", result="已责令施工单位夜间停工")
    act_api(live, "paiqian", cid, "verify_pass")
    act_api(live, "paiqian", cid, "close")
    page.get_by_role("button", name="进度查询").click()
    form = page.locator("#rate-form")
    form.wait_for(state="visible")
    form.get_by_label("满意度").select_option(label="不满意")
    form.get_by_label("问题是否解决").select_option(label="未解决")
    form.get_by_label("评价意见（选填）").fill("夜间仍有施工噪音")
    form.get_by_role("button", name="提交评价").click()
    done = page.get_by_test_id("rate-done")
    done.wait_for(state="visible")
    # 不满意 + 未解决 reopens the case by policy, like a phone 回访.
    assert "不满意" in done.inner_text() and "处置中" in done.inner_text()
    page.screenshot(path=str(shots / "resident-rating.png"), full_page=True)
    with live.db.session() as s:
        ev = s.scalars(select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.seq.desc())).first()
        assert ev is not None and ev.action == "revisit" and ev.actor_role == "channel"
        assert ev.data["satisfaction"] == "不满意" and ev.data["reopened"] is True and ev.note == "夜间仍有施工噪音"
        assert s.get(Case, cid).status == "in_progress"  # type: ignore[union-attr]
    # Once rated (and reopened), the form is not offered again.
    page.get_by_role("button", name="进度查询").click()
    page.get_by_test_id("track-status").wait_for()
    assert page.locator("#rate-form").is_hidden()
    context.close()


def test_statistics_drill_down_lists_exactly_the_counted_cases(browser: Any, live_server: Live, shots: Path) -> None:
    live = live_server
    cg = dep_id(live, "cg")
    made = [new_case(live, f"占道经营第{i}处") for i in range(4)]
    returned, kept = set(), set()
    for i, c in enumerate(made):
        cid = c["case_id"]
        case = live.api("GET", "paiqian", f"/api/v1/cases/{cid}").json()
        if case["status"] == "received":
            act_api(live, "paiqian", cid, "register")
        if live.api("GET", "paiqian", f"/api/v1/cases/{cid}").json()["status"] == "registered":
            act_api(live, "paiqian", cid, "assign", department_id=cg)
        if i % 2 == 0:
            act_api(live, "chengguan", cid, "return", reason="不属于本部门职责")
            returned.add(c["tracking_code"])
        else:
            kept.add(c["tracking_code"])
    # Ground truth from the timeline, independent of the page: dispatched (each case once here), never returned.
    with live.db.session() as s:
        rows = s.execute(
            select(Case.tracking_code, CaseEvent.action).join(CaseEvent, CaseEvent.case_id == Case.id)
        ).all()
    dispatched = {code for code, action in rows if action == "assign"}
    expected = dispatched - {code for code, action in rows if action == "return"}
    assert kept <= expected and not (returned & expected)

    page = login(browser, live, "paiqian")
    page.goto(f"{live.url}/stats")
    page.wait_for_function("document.querySelector('#chart canvas') !== null")
    page.screenshot(path=str(shots / "statistics.png"), full_page=True)
    num = page.get_by_test_id("kpi-accurate_dispatch_rate-num")
    den = page.get_by_test_id("kpi-accurate_dispatch_rate-den")
    assert int(num.inner_text()) == len(expected) and int(den.inner_text()) == len(dispatched)
    formula = page.locator("li:has([data-testid=kpi-accurate_dispatch_rate-num]) .formula").inner_text()
    assert formula.startswith("准确派遣率 =") and "÷" in formula
    num.click()
    page.wait_for_url(re.compile(r"kpi=accurate_dispatch_rate"))
    assert "准确派遣率" in page.get_by_test_id("kpi-note").inner_text()
    listed = {a.inner_text() for a in page.locator("table.cases tbody tr td:first-child a").all()}
    assert listed == expected
    page.screenshot(path=str(shots / "drill-down.png"), full_page=True)

    # The same list exports to xlsx with the same rows, in the user's scope.
    href = page.get_by_test_id("export").get_attribute("href")
    resp = page.context.request.get(f"{live.url}{href}")
    assert resp.status == 200
    wb = load_workbook(io.BytesIO(resp.body()), read_only=True)
    codes = {row[0] for row in wb.active.iter_rows(min_row=2, values_only=True)}
    assert codes == expected
    page.close()


def test_case_list_filters_language_and_live_map(browser: Any, live_server: Live, shots: Path) -> None:
    live = live_server
    page = login(browser, live, "paiqian")
    page.goto(f"{live.url}/cases")
    page.get_by_label("渠道").select_option(label="网格")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"channel=grid"))
    rows = page.locator("table.cases tbody tr")
    with live.db.session() as s:
        n_grid = len(list(s.scalars(select(Case.id).where(Case.channel == "grid"))))
    assert rows.count() == n_grid
    page.screenshot(path=str(shots / "case-list.png"), full_page=True)
    # English is one click away.
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert "Cases" in page.locator("h1").inner_text()
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    # The command center's map takes new cases without a reload (server-sent events).
    page.goto(live.url + "/")
    page.wait_for_function("Number(document.getElementById('map').dataset.markers) > 0")
    page.wait_for_function("document.getElementById('live-state').textContent.includes('实时')")
    created = new_case(live, "桥下积水严重")
    page.wait_for_function(
        f"document.getElementById('map').dataset.lastLive === '{created['case_id']}'", timeout=15_000
    )
    page.close()
