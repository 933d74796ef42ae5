"""The pages and the xlsx export over HTTP (no browser), on SQLite and PostgreSQL: scope, redirects, refusals."""

from __future__ import annotations

import io
import uuid
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from pingan.orgs.models import Department
from pingan.web.pages import env
from tests.conftest import Api, Database

PAGES = ["/", "/cases", "/stats", "/workbench", "/grid", "/public"]


def _case(api: Api, title: str) -> dict[str, Any]:
    body = {
        "work_order_no": f"P{uuid.uuid4().hex[:10]}",
        "case_type": "投诉",
        "title": title,
        "content": title + "，请处理",
        "caller_phone": "13807301234",
    }
    r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _assign(api: Api, case_id: int, dep: int) -> None:
    status = api.get("paiqian", f"/api/v1/cases/{case_id}").json()["status"]
    if status == "received":
        assert api.post("paiqian", f"/api/v1/cases/{case_id}/actions/register", json={}).status_code == 200
        status = "registered"
    if status == "registered":
        r = api.post("paiqian", f"/api/v1/cases/{case_id}/actions/assign", json={"department_id": dep})
        assert r.status_code == 200, r.text


def _dep(db: Database, code: str) -> int:
    with db.session() as s:
        return int(s.scalars(select(Department.id).where(Department.code == code)).one())


def test_templates_compile() -> None:
    for name in env.list_templates():
        env.get_template(name)


def test_export_xlsx_keeps_the_role_scope_and_filters(api: Api, db: Database) -> None:
    cg, zj = _dep(db, "cg"), _dep(db, "zj")
    mine = [_case(api, f"占道经营{i}") for i in range(2)]
    other = _case(api, "房屋漏水")
    for c in mine:
        _assign(api, c["case_id"], cg)
    _assign(api, other["case_id"], zj)

    def codes(user: str, query: str = "") -> set[str]:
        r = api.get(user, "/api/v1/export/cases.xlsx" + query)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        ws = load_workbook(io.BytesIO(r.content), read_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0][0] == "编号 Code"
        return {str(row[0]) for row in rows[1:]}

    everything = {c["tracking_code"] for c in [*mine, other]}
    assert codes("paiqian") == everything
    assert codes("chengguan") == {c["tracking_code"] for c in mine}  # a department sees its own cases only
    assert codes("paiqian", f"?department_id={zj}") == {other["tracking_code"]}
    assert codes("paiqian", "?status=received") == set()
    bad = api.get("paiqian", "/api/v1/export/cases.xlsx?region=12")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_region"
    assert api.client.get("/api/v1/export/cases.xlsx").status_code == 401


def test_pages_redirect_refuse_and_never_fail(api: Api, db: Database) -> None:
    c = api.client
    c.cookies.clear()
    r = c.get("/cases?status=received", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    c.cookies.set("pingan_token", "not-a-token")
    r = c.get("/cases", follow_redirects=False)
    assert r.status_code == 303 and "expired=1" in r.headers["location"]
    c.cookies.clear()
    assert c.get("/public").status_code == 200 and "群众办事" in c.get("/public").text
    assert c.get("/static/../pages.py").status_code == 404
    assert c.get("/static/vendor/leaflet/leaflet.js").status_code == 200

    case = _case(api, "井盖缺失")
    for user in ("zuoxi", "paiqian", "chengguan", "wangge", "duban", "lingdao", "admin"):
        c.cookies.clear()
        c.cookies.set("pingan_token", api.token(user))
        for path in PAGES:
            r = c.get(path)
            if user == "wangge" and path == "/stats":
                assert r.status_code == 403 and "无权" in r.text
            else:
                assert r.status_code == 200, (user, path, r.text[:300])
        detail = c.get(f"/cases/{case['case_id']}")
        if user in ("chengguan", "wangge"):  # outside their scope: hidden, with a 404 page, not an error
            assert detail.status_code == 404 and "不存在" in detail.text
        else:
            assert detail.status_code == 200 and case["tracking_code"] in detail.text
    c.cookies.set("pingan_token", api.token("paiqian"))
    assert c.get("/cases/999999").status_code == 404
    assert c.get("/cases?since=notadate").status_code == 422
    assert c.get("/cases?kpi=nonsense&part=numerator").status_code == 422
    # English on request, Chinese by default.
    r = c.get("/lang/en?next=/cases", follow_redirects=True)
    assert "Cases" in r.text and "Export xlsx" in r.text
    assert "导出 Excel" in c.get("/lang/zh?next=/cases", follow_redirects=True).text
