"""Who may see what (访问控制): every route of the app × every role × objects inside and outside the role's
data scope. Routes are taken from `app.routes`, so routes added later are walked too.

For each role the expected scope comes from the rules of issue 4, written here independently of
`pingan.cases.queries.scoped` (the thing under test):
  city command center (city-level desk, dispatcher, supervisor, leader, admin): everything;
  county / town center: cases in its area; department: cases it leads or co-handles;
  grid worker: cases in their grids (or reported by them); channel system: its own channel;
  a resident (no login): only public endpoints, and a case only by tracking code + phone digits.

Checks: (1) a case outside the scope is never answered with 2xx on any route with {case_id} — reading or
acting — and acting on it changes nothing; (2) no response of any GET route contains a marker (tracking
code, unique title) of a case outside the scope — lists, exports, map layers, statistics; (3) counts do not
leak: adding a case outside a role's scope leaves every GET response of that role unchanged.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from pingan.cases.models import Case
from pingan.orgs.models import User
from pingan.sim.org import DEMO_USERS
from tests.helpers import act, dep_id, hotline_body
from tests.security.routes import STREAMING

CITY = "430600"
# Routes anyone may call without logging in, with the reason.
PUBLIC = {
    "/api/v1/auth/login": "the login itself",
    "/api/v1/public/reports": "residents report without an account (rate limited)",
    "/api/v1/public/track": "tracking code + phone last 4 digits",
    "/api/v1/public/track/rating": "a resident rates a closed case: tracking code + phone last 4 digits",
    "/api/v1/public/attachments": "residents attach photos to a report (rate limited)",
    "/api/v1/health": "health check, no data",
    "/openapi.json": "API description",
    "/docs": "API documentation page",
    "/docs/oauth2-redirect": "API documentation page",
    "/redoc": "API documentation page",
    "/static/{path:path}": "static assets",
    "/lang/{lang}": "language switch",
    "/login": "login page",
    "/public": "resident self-report page",
    "/api/v1/stats/definitions": "metric definitions, no data",
}
# Non-GET requests sent to out-of-scope cases need a body that passes validation, so that the scope check
# (not the validator) is what refuses them.
BODIES: dict[str, Any] = {
    "/api/v1/cases/{case_id}/actions/{action}": {"note": "越权测试"},
    "/api/v1/cases/{case_id}/unmask": {"reason": "越权测试原因"},
}
PATH_DEFAULTS = {
    "action": "comment",
    "lang": "zh",
    "path": "app.css",
    "metric": "on_time_rate",
    "year": "2027",
    "kind": "departments",
}


@dataclass
class Who:
    username: str | None  # None: a resident without an account
    role: str
    region: str
    department_id: int | None
    channel: str | None
    user_id: int | None


def sees(who: Who, case: Case) -> bool:
    if who.username is None:
        return False
    if who.role == "channel":
        return case.channel == who.channel
    if who.role == "handler":
        return any(d.department_id == who.department_id for d in case.departments)
    in_area = who.region == CITY or who.region in {case.county_code, case.town_code, case.village_code, case.grid_code}
    if who.role == "grid_worker":
        return in_area or case.reporter_id == who.user_id
    return in_area


def _people(session) -> list[Who]:  # type: ignore[no-untyped-def]
    users = {u.username: u for u in session.scalars(select(User))}
    out = [Who(None, "resident", "", None, None, None)]
    for du in DEMO_USERS:
        u = users[du.username]
        out.append(Who(u.username, u.role, u.region_code, u.department_id, u.channel, u.id))
    return out


def _routes(app) -> list[tuple[str, set[str]]]:  # type: ignore[no-untyped-def]
    out = []
    for rc in iter_route_contexts(app.routes):
        methods = set(getattr(rc, "methods", None) or set()) - {"HEAD", "OPTIONS"}
        if methods:
            out.append((rc.path, methods))
    return out


def _fill(path: str, case_id: int | None) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        if name == "case_id":
            return str(case_id)
        return PATH_DEFAULTS.get(name, "1")

    return re.sub(r"\{([^}]+)\}", sub, path)


def _route_to(api, session, cid: int, dep: int, co: list[int] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Dispatch a case to `dep`. When the automatic dispatcher already sent it elsewhere, that department
    hands it back first (退单) through the case service, like its handler would."""
    from pingan.cases import service
    from pingan.cases.actors import Actor
    from pingan.cases.schemas import ActionInput
    from pingan.orgs.roles import Role

    case = api.get("paiqian", f"/api/v1/cases/{cid}").json()
    if case["status"] == "assigned":
        if case["department_id"] == dep and not co:
            return
        back = Actor(id=None, name="测试退单", role=Role.HANDLER, department_id=case["department_id"])
        service.act(session, cid, "return", back, ActionInput(reason="非本单位职责", note="退回重派"))
        session.commit()
        case = api.get("paiqian", f"/api/v1/cases/{cid}").json()
    if case["status"] == "received":
        act(api, "paiqian", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep, co_department_ids=co or [])


def _make_cases(api, session) -> list[int]:  # type: ignore[no-untyped-def]
    zj, cg, cg_yyl = dep_id(session, "zj"), dep_id(session, "cg"), dep_id(session, "cg_430602")
    tag = uuid.uuid4().hex[:6]
    ids = []
    # A: 12345, 岳阳楼区, led by the 岳阳楼区 城管 counterpart.
    a = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=hotline_body(f"MX-A-{tag}", title=f"标记甲{tag}")).json()
    _route_to(api, session, a["case_id"], cg_yyl)
    ids.append(a["case_id"])
    # B: 110 transfer in 华容县, led by 市住建局 with 市城管局 co-handling.
    b = api.post(
        "api110",
        "/api/v1/intake/police_110",
        json={
            "incident_no": f"MX-B-{tag}",
            "transfer_time": "2026-11-02T10:00:00+08:00",
            "title": f"标记乙{tag}",
            "content": "华容县城关镇某小区楼上漏水，协商无果",
            "address": "华容县城关镇",
            "caller_phone": "13912345678",
        },
    ).json()
    _route_to(api, session, b["case_id"], zj, [cg])
    ids.append(b["case_id"])
    # C: a grid worker's own report in 岳阳楼区.
    c = api.post(
        "wangge",
        "/api/v1/intake/grid",
        json={
            "report_id": f"MX-C-{tag}",
            "title": f"标记丙{tag}",
            "content": "巡查发现人行道井盖缺失",
            "position": {"lat": 29.3573, "lon": 113.1289, "crs": "wgs84"},
        },
    ).json()
    ids.append(c["case_id"])
    # D: 12345 in 平江县, not yet dispatched.
    d = api.post(
        "zuoxi",
        "/api/v1/intake/hotline_12345",
        json=hotline_body(
            f"MX-D-{tag}", title=f"标记丁{tag}", address="平江县汉昌镇", content="平江县汉昌镇某路段路灯不亮"
        ),
    ).json()
    ids.append(d["case_id"])
    return ids


def _cases(session, ids: list[int]) -> list[Case]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return [session.get(Case, i) for i in ids]


def _markers(case: Case) -> list[str]:
    return [case.tracking_code, case.title]


def _login(api, who: Who) -> dict[str, str]:  # type: ignore[no-untyped-def]
    api.client.cookies.clear()
    if who.username is None:
        return {}
    headers = api.as_(who.username)
    api.client.cookies.set("pingan_token", headers["Authorization"][7:])
    return headers


def _get(api, url: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return api.client.get(url, headers=headers, follow_redirects=False)


def body_text(r) -> str:  # type: ignore[no-untyped-def]
    """The readable text of a response; for a zip-based document (xlsx, docx) the XML inside it."""
    if r.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            return "\n".join(
                z.read(n).decode("utf-8", "replace") for n in sorted(z.namelist()) if not n.startswith("docProps/")
            )
    return r.text


def _normalise(r) -> str:  # type: ignore[no-untyped-def]
    """A response body without what changes by itself between two calls (clock times)."""
    text = body_text(r)
    text = re.sub(
        r"\d{4}-\d{2}-\d{2}(T|%3A|%20| )\d{2}(:|%3A)\d{2}(:|%3A)\d{2}([.]\d+)?(Z|([+-]|%2B)\d{2}(:|%3A)?\d{2})?",
        "<t>",
        text,
    )
    text = re.sub(r"\d{14}", "<stamp>", text)
    return text


def test_scope_matrix(api, session) -> None:  # type: ignore[no-untyped-def]
    ids = _make_cases(api, session)
    cases = _cases(session, ids)
    people = _people(session)
    routes = _routes(api.client.app)
    assert len(routes) > 20
    walked: set[str] = set()
    problems: list[str] = []
    versions = {c.id: (c.version, c.event_count) for c in cases}

    for who in people:
        headers = _login(api, who)
        visible = [c for c in cases if sees(who, c)]
        hidden = [c for c in cases if not sees(who, c)]
        if who.role not in ("operator", "dispatcher", "supervisor", "leader", "admin") or who.region != CITY:
            assert hidden, f"{who.username}: the fixtures give this role nothing outside its scope"
        if who.username and who.role != "admin" and who.region != CITY or who.role in ("handler", "channel"):
            assert visible, f"{who.username}: the fixtures give this role nothing inside its scope"
        hidden_markers = [m for c in hidden for m in _markers(c)]
        for path, methods in routes:
            if path in STREAMING:
                continue
            walked.add(path)
            if who.username is None and path not in PUBLIC:
                for method in methods:
                    r = api.client.request(
                        method,
                        _fill(path, ids[0]),
                        follow_redirects=False,
                        json=BODIES.get(path) if method != "GET" else None,
                    )
                    if 200 <= r.status_code < 300:
                        problems.append(f"anonymous {method} {path}: {r.status_code}")
                continue
            if "{case_id" in path:
                for case in hidden:
                    for method in methods:
                        body = BODIES.get(path, {}) if method != "GET" else None
                        r = api.client.request(
                            method, _fill(path, case.id), headers=headers, json=body, follow_redirects=False
                        )
                        if 200 <= r.status_code < 300:
                            problems.append(f"{who.username} {method} {path} on hidden case {case.id}: {r.status_code}")
                        if r.status_code == 200 and any(m in body_text(r) for m in _markers(case)):
                            problems.append(f"{who.username} {method} {path}: hidden case {case.id} shown")
                if "GET" in methods:
                    for case in visible:
                        r = _get(api, _fill(path, case.id), headers)
                        assert r.status_code < 500, (who.username, path, r.text[:300])
                continue
            if "GET" not in methods:
                continue  # state-changing routes without a case: not exercised here (see test_privacy etc.)
            r = _get(api, _fill(path, None), headers)
            assert r.status_code < 500, (who.username, path, r.status_code, r.text[:300])
            text = body_text(r)
            leaked = [m for m in hidden_markers if m in text]
            if leaked:
                problems.append(f"{who.username} GET {path}: shows hidden cases {leaked}")

    # Acting on hidden cases changed nothing.
    after = {c.id: (c.version, c.event_count) for c in _cases(session, ids)}
    assert after == versions, "a refused request changed a case"
    assert not problems, "\n".join(problems)
    assert walked | set(STREAMING) == {p for p, _ in routes}


def _first_difference(a: str, b: str) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"…{a[max(0, i - 80) : i + 60]!r} → …{b[max(0, i - 80) : i + 60]!r}"


def test_counts_do_not_leak(api, session) -> None:  # type: ignore[no-untyped-def]
    """Adding a case outside a role's scope must not change anything that role can read (counts, totals,
    map layers, statistics)."""
    _make_cases(api, session)
    people = [
        w
        for w in _people(session)
        if w.username
        and not (w.region == CITY and w.role in ("operator", "dispatcher", "supervisor", "leader", "admin"))
    ]
    routes = [
        p
        for p, m in _routes(api.client.app)
        if "GET" in m
        and "{" not in p
        and p not in STREAMING
        and not p.startswith(("/docs", "/redoc", "/openapi", "/static"))
    ]

    def snapshot(who: Who) -> dict[str, str]:
        headers = _login(api, who)
        out = {}
        for path in routes:
            r = _get(api, path, headers)
            if r.status_code == 200:
                out[path] = _normalise(r)
        return out

    for extra_channel in ("hotline_12345", "police_110"):
        group = [w for w in people if (w.channel == "hotline_12345") == (extra_channel == "police_110")]
        before = {w.username: snapshot(w) for w in group}
        tag = uuid.uuid4().hex[:6]
        if extra_channel == "hotline_12345":
            r = api.post(
                "zuoxi",
                "/api/v1/intake/hotline_12345",
                json=hotline_body(
                    f"MX-E-{tag}", title=f"标记戊{tag}", address="平江县汉昌镇", content="平江县汉昌镇某小区噪音扰民"
                ),
            )
        else:
            r = api.post(
                "api110",
                "/api/v1/intake/police_110",
                json={
                    "incident_no": f"MX-F-{tag}",
                    "transfer_time": "2026-11-02T10:00:00+08:00",
                    "title": f"标记己{tag}",
                    "content": "临湘市某村道路积水",
                    "address": "临湘市长安街道",
                },
            )
        assert r.status_code == 201, r.text
        extra = session.get(Case, r.json()["case_id"])
        for who in group:
            assert not sees(who, extra), (who.username, extra.county_code)
            after = snapshot(who)
            changed = {
                p: _first_difference(before[who.username][p], after.get(p, ""))
                for p in before[who.username]
                if after.get(p) != before[who.username][p]
            }
            assert not changed, f"{who.username}: a case outside its scope changed {changed}"


def test_resident_sees_only_their_own_case(api, session) -> None:  # type: ignore[no-untyped-def]
    ids = _make_cases(api, session)
    a, b = _cases(session, ids)[:2]
    own = api.client.get("/api/v1/public/track", params={"code": a.tracking_code, "phone_last4": "1234"})
    assert own.status_code == 200 and own.json()["tracking_code"] == a.tracking_code
    assert "caller" not in json.dumps(own.json())
    # Another case's code with my digits, my code with wrong digits: the same 404.
    for code, digits in ((b.tracking_code, "1234"), (a.tracking_code, "5678")):
        r = api.client.get("/api/v1/public/track", params={"code": code, "phone_last4": digits})
        assert r.status_code == 404 and r.json()["error"]["code"] == "track_not_found"
