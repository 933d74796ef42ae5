"""The HTML pages (server-rendered Jinja2 + small vanilla JS) and their static files.

Pages read through `pingan.web.data` (scoped like the API); every change goes through the JSON API from
the browser (fetch with the SameSite=strict session cookie and a JSON body, so no cross-site form can post).
"""

from __future__ import annotations

import functools
import json
import mimetypes
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from pingan.cases import lifecycle, queries
from pingan.cases.deadlines import calendar
from pingan.deps import SessionDep
from pingan.errors import PinganError
from pingan.intake.adapters import CHANNEL_LABELS
from pingan.orgs.models import Department
from pingan.orgs.roles import ROLE_LABELS, Role
from pingan.timeutil import utcnow
from pingan.web import data, i18n
from pingan.web import kpi as metrics
from pingan.web.auth import LoginRedirect, home_for, page_user

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
router = APIRouter(include_in_schema=False)

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
env.filters["local"] = lambda dt: dt.astimezone(data.CST).strftime("%Y-%m-%d %H:%M") if dt else "—"
env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)

# Actions → the input fields each needs (see pingan.cases.service handlers).
ACTION_FIELDS: dict[str, list[str]] = {
    "register": ["note"],
    "reject": ["reason"],
    "merge": ["target_case_id", "reason"],
    "transfer_110": ["reason", "three_way_call"],
    "confirm_transfer": ["incident_no", "note"],
    "refuse_transfer": ["reason", "three_way_call"],
    "handle_on_spot": ["result"],
    "assign": ["department_id", "co_department_ids", "note"],
    "sign": ["note"],
    "return": ["reason"],
    "start": ["note"],
    "feedback": ["result"],
    "co_feedback": ["result"],
    "verify_pass": ["note"],
    "verify_fail": ["reason"],
    "close": ["note"],
    "revisit": ["satisfaction", "solved", "note"],
    "reopen": ["reason"],
    "request_extension": ["amount", "unit", "reason"],
    "approve_extension": ["note"],
    "deny_extension": ["reason"],
    "request_suspension": ["reason"],
    "approve_suspension": ["note"],
    "deny_suspension": ["reason"],
    "resume": ["note"],
    "urge": ["note"],
    "supervise": ["note"],
    "escalate": ["note"],
    "comment": ["note"],
}
SATISFACTION_LEVELS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]


def has_route(request: Request, path: str) -> bool:
    """Whether another module serves `path` (its routers are optional plugins)."""
    paths = getattr(request.app.state, "web_api_paths", None)
    if paths is None:
        paths = frozenset(_paths(request.app.routes))
        request.app.state.web_api_paths = paths
    return path in paths


def _paths(routes: Any) -> list[str]:
    out: list[str] = []
    for r in routes:
        if getattr(r, "path", ""):
            out.append(r.path)
        inner = getattr(r, "original_router", None)  # FastAPI keeps included routers as wrappers
        if inner is not None:
            out += _paths(inner.routes)
    return out


def features(request: Request) -> dict[str, bool]:
    return {
        "geo": has_route(request, "/api/v1/geo/map/divisions"),
        "grids": has_route(request, "/api/v1/geo/map/grids"),
        "hot": has_route(request, "/api/v1/hot-issues"),
        "duplicates": has_route(request, "/api/v1/cases/{case_id}/duplicates"),
        "attachments": has_route(request, "/api/v1/attachments"),
        "metrics": has_route(request, "/api/v1/stats/kpis"),
    }


def lang_of(request: Request) -> str:
    return i18n.pick_lang(request.cookies.get("pingan_lang"), request.headers.get("accept-language"))


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = lang_of(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = env.get_template(name).render(
        _=i18n.translator(lang),
        lang=lang,
        here=here,
        here_q=quote(here),
        features=features(request),
        status_labels=lifecycle.STATUS_LABELS,
        channel_labels=data.CHANNEL_LABELS,
        role_labels=ROLE_LABELS,
        **ctx,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def page(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Pages never 500 on a refusal: not logged in → /login; a PinganError → an error page with its message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        request: Request = kwargs["request"]
        try:
            return fn(*args, **kwargs)
        except LoginRedirect as r:
            return RedirectResponse(r.target, status_code=303)
        except PinganError as exc:
            return render(request, "error.html", status=exc.status, error=exc, user=None)

    return wrapper


# ---------------------------------------------------------------- static, language, login


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    target = (STATIC / path).resolve()
    if not target.is_file() or STATIC not in target.parents:
        return Response("not found", status_code=404, media_type="text/plain")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/lang/{lang}")
def set_lang(lang: str, next: str = "/") -> Response:
    resp = RedirectResponse(next if next.startswith("/") and not next.startswith("//") else "/", status_code=303)
    if lang in i18n.LANGS:
        resp.set_cookie("pingan_lang", lang, samesite="strict", max_age=365 * 86400)
    return resp


@router.get("/login", response_class=HTMLResponse)
@page
def login_page(request: Request, next: str = "/", expired: int = 0) -> Response:
    safe = next if next.startswith("/") and not next.startswith("//") else "/"
    return render(request, "login.html", user=None, next=safe, expired=bool(expired))


@router.get("/password", response_class=HTMLResponse)
@page
def password_page(request: Request, session: SessionDep, first: int = 0) -> Response:
    from pingan.web.auth import COOKIE

    if not request.cookies.get(COOKIE):
        raise LoginRedirect("/login")
    return render(request, "password.html", user=None, first=bool(first))


# ---------------------------------------------------------------- command center


@router.get("/", response_class=HTMLResponse)
@page
def home(request: Request, session: SessionDep) -> Response:
    user, actor = page_user(request, session)
    if actor.role in (Role.HANDLER, Role.GRID_WORKER):
        return RedirectResponse(home_for(actor.role), status_code=303)
    intake = data.intake_today(session, actor)
    queues = data.queue_counts(session, actor, data.HOME_QUEUES)
    routing = data.routing_queue(session, actor)
    return render(
        request,
        "home.html",
        user=user,
        nav="home",
        intake=intake,
        intake_total=sum(intake.values()),
        queues=queues,
        queue_names=data.HOME_QUEUES,
        routing=routing,
        today=data.today_start().date().isoformat(),
        tile_url=os.environ.get("PINGAN_TILE_URL", ""),
    )


# ---------------------------------------------------------------- case list


def _filters(
    status: list[str] | None,
    channel: str,
    region: str,
    department_id: str,
    category: str,
    overdue: str,
    queue: str,
    since: str,
    until: str,
    q: str,
    kpi: str,
    part: str,
    by: str,
    group: str,
    sort: str,
    page_no: int,
) -> data.Filters:
    dep = int(department_id) if department_id.isdigit() else None
    return data.Filters(
        status=[s for s in (status or []) if s in lifecycle.STATUS_LABELS],
        channel=channel if channel in data.CHANNELS else "",
        region=region.strip(),
        department_id=dep,
        category=category.strip(),
        overdue=overdue if overdue in ("0", "1") else "",
        queue=queue,
        since=since,
        until=until,
        q=q.strip(),
        kpi=kpi,
        part=part if part in ("numerator", "denominator") else "",
        by=by,
        group=group,
        sort=sort if sort in data.SORTS else "-received_at",
        page=max(1, min(page_no, 100000)),
    )


FilterArgs = dict[str, Any]


@router.get("/cases", response_class=HTMLResponse)
@page
def case_list(
    request: Request,
    session: SessionDep,
    status: Annotated[list[str] | None, Query(max_length=20)] = None,
    channel: str = "",
    region: str = "",
    department_id: str = "",
    category: str = "",
    overdue: str = "",
    queue: str = "",
    since: str = "",
    until: str = "",
    q: str = "",
    kpi: str = "",
    part: str = "",
    by: str = "",
    group: str = "",
    sort: str = "-received_at",
    page: int = 1,
) -> Response:
    user, actor = page_user(request, session)
    f = _filters(
        status,
        channel,
        region,
        department_id,
        category,
        overdue,
        queue,
        since,
        until,
        q,
        kpi,
        part,
        by,
        group,
        sort,
        page,
    )
    rows, total = data.case_page(session, actor, f)
    deps = _departments(session)
    kpi_def = None
    if f.kpi:
        kpi_def = metrics.definitions().get(f.kpi)
    return render(
        request,
        "cases.html",
        user=user,
        nav="cases",
        rows=rows,
        total=total or 0,
        f=f,
        pages=max(1, ((total or 0) + f.page_size - 1) // f.page_size),
        departments=deps,
        dep_names={d.id: d.name for d in deps},
        kpi=kpi_def,
        counties=_counties(session),
        queue_names=list(data.queue_predicates(utcnow()).keys()),
        now=utcnow(),
        with_department=lifecycle.WITH_DEPARTMENT,
    )


def _counties(session: Any) -> list[tuple[str, str]]:
    from pingan.geo.models import Region

    rows = session.execute(select(Region.code, Region.name).where(Region.level == "county").order_by(Region.code))
    return [(str(c), str(n)) for c, n in rows]


def _departments(session: Any) -> list[Department]:
    return list(session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.id)))


# ---------------------------------------------------------------- case detail


@router.get("/cases/{case_id}", response_class=HTMLResponse)
@page
def case_detail(request: Request, session: SessionDep, case_id: int) -> Response:
    user, actor = page_user(request, session)
    case = queries.visible_case(session, actor, case_id)
    out = queries.case_out(case, actor, queries.department_names(session, {d.department_id for d in case.departments}))
    events = queries.timeline(session, case)
    actions = [
        {"action": t.action, "label": t.label, "fields": ACTION_FIELDS.get(t.action, ["note"])}
        for t in lifecycle.available(case.status, actor.role)
    ]
    remaining = None
    if case.deadline_at and case.status not in lifecycle.TERMINAL and case.status != lifecycle.Status.CLOSED:
        remaining = round(calendar(session).work_hours_between(utcnow(), case.deadline_at), 1)
    photos = sorted({int(a) for e in events for a in (e.data.get("attachment_ids") or [])})
    return render(
        request,
        "case.html",
        user=user,
        nav="cases",
        case=out,
        events=events,
        actions=actions,
        remaining=remaining,
        departments=_departments(session),
        satisfaction_levels=SATISFACTION_LEVELS,
        photos=photos,
        point=[out.lat, out.lon] if out.lat is not None and out.lon is not None else None,
    )


# ---------------------------------------------------------------- department workbench


@router.get("/workbench", response_class=HTMLResponse)
@page
def workbench(request: Request, session: SessionDep, queue: str = "assigned") -> Response:
    user, actor = page_user(request, session)
    counts = data.queue_counts(session, actor, data.WORKBENCH_QUEUES)
    queue = queue if queue in data.WORKBENCH_QUEUES else "assigned"
    rows, _ = data.case_page(session, actor, data.Filters(queue=queue, sort="deadline_at"), count=False)
    w = metrics.window(None, None)
    total = None
    if actor.role in metrics.STATS_ROLES:
        # The last 30 days' figures, memoised like the queue counts (dropped when this process writes a case).
        rates = lambda: metrics.table(session, actor, "total", w)[0]  # noqa: E731
        total = data.memoised(session, ("workbench_rates",), actor, rates)
    span = {"since": w.since.isoformat(), "until": w.until.isoformat()}
    return render(
        request,
        "workbench.html",
        user=user,
        nav="workbench",
        counts=counts,
        queue=queue,
        queue_names=data.WORKBENCH_QUEUES,
        rows=rows,
        rates=total,
        defs=metrics.definitions(),
        metrics=metrics.METRICS,
        span_q=urlencode(span),
        now=utcnow(),
    )


# ---------------------------------------------------------------- grid worker (phone)


@router.get("/grid", response_class=HTMLResponse)
@page
def grid_page(request: Request, session: SessionDep) -> Response:
    user, actor = page_user(request, session)
    rows, total = data.case_page(session, actor, data.Filters(page_size=30))
    return render(request, "grid.html", user=user, nav="grid", rows=rows, total=total, now=utcnow(), my_id=actor.id)


# ---------------------------------------------------------------- residents (no login)


@router.get("/public", response_class=HTMLResponse)
@page
def public_page(request: Request) -> Response:
    return render(request, "public.html", user=None, nav="public", satisfaction_levels=SATISFACTION_LEVELS)


# ---------------------------------------------------------------- statistics


@router.get("/stats", response_class=HTMLResponse)
@page
def stats_page(
    request: Request, session: SessionDep, by: str = "department", since: str = "", until: str = ""
) -> Response:
    user, actor = page_user(request, session)
    by = by if by in metrics.GROUPS else "department"
    w = metrics.window(data.local_dt(since), data.local_dt(until, end=True))
    total, rows = metrics.table(session, actor, by, w)
    defs = metrics.definitions()
    en = lang_of(request) == "en"
    chart = {
        "rows": [{"group": r["label"], "values": {m: r["figures"][m]["value"] for m in metrics.METRICS}} for r in rows],
        "kpis": {m: defs[m]["label_en" if en else "label"] for m in metrics.METRICS},
    }
    span = {"since": w.since.isoformat(), "until": w.until.isoformat()}
    return render(
        request,
        "stats.html",
        user=user,
        nav="stats",
        by=by,
        groups=metrics.GROUPS,
        rows=rows,
        total=total,
        defs=defs,
        metrics=metrics.METRICS,
        chart=chart,
        span=span,
        span_q=urlencode(span),
        since_day=w.since.astimezone(data.CST).date().isoformat(),
        until_day=w.until.astimezone(data.CST).date().isoformat(),
    )


def channel_label(ch: str) -> str:
    return CHANNEL_LABELS.get(ch, ch)


env.globals["channel_label"] = channel_label
env.globals["fmt_count"] = data.fmt_count
env.globals["fmt_rate"] = lambda n, d: f"{100 * n / d:.1f}%" if d else "—"
env.globals["is_overdue"] = lambda c, now: bool(
    c.status in lifecycle.WITH_DEPARTMENT and c.deadline_at and c.deadline_at < now
)
env.globals["Status"] = lifecycle.Status


def precompile() -> None:
    """Compile every template once when the server starts, so that no user's first page pays for it."""
    for name in env.list_templates(filter_func=lambda n: n.endswith(".html")):
        env.get_template(name)


precompile()
