"""The dispatcher's queue (待派遣队列): cases waiting for dispatch, each with the routing's top-3 suggestions
(department, category, confidence and the words that drove each), one click to dispatch to a suggestion, or a
correction to another department.

Both ways of dispatching post the lifecycle action `assign` (`/api/v1/cases/{id}/actions/assign`, i.e.
`pingan.cases.service.act`), so a dispatcher who chooses anything but the first suggestion is recorded by
`pingan.dispatch.corrections` and taught to the next `pingan routing train --db URL`.

- `GET /dispatch-queue` — the page (dispatcher, supervisor, admin; only roles that may `assign` get buttons).
- `GET /api/v1/routing/queue` — the same data as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pingan.cases import lifecycle
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.queries import scoped
from pingan.deps import ActorDep, SessionDep, require_roles
from pingan.dispatch.dataset import LABELS
from pingan.errors import Forbidden
from pingan.orgs.models import Department
from pingan.orgs.roles import Role
from pingan.web import i18n
from pingan.web import pages as web
from pingan.web.auth import page_user

router = APIRouter()

QUEUE_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)
PAGE_SIZE = 20

# This page's words (Chinese first); added to the shared catalogue without overriding anything there.
_MESSAGES: dict[str, tuple[str, str]] = {
    "dispatch_queue": ("待派遣队列", "Dispatch queue"),
    "dq_intro": (
        "以下案件等待派遣。每件给出智能分拨的前三条建议（承办部门、分类、置信度和依据词）；点击即派遣，"
        "或改派到其他部门（改派会记录为派遣纠错，用于下一次训练）。",
        "These cases wait for dispatch. Each shows the routing's top three suggestions (department, category, "
        "confidence and the words behind it); one click dispatches, or correct it to another department "
        "(a correction is recorded and used by the next training).",
    ),
    "dq_waiting": ("待派遣 {n} 件", "{n} cases waiting"),
    "dq_empty": ("暂无待派遣案件", "No case is waiting for dispatch"),
    "dq_suggestions": ("派遣建议", "Suggestions"),
    "dq_confidence": ("置信度", "Confidence"),
    "dq_reasons": ("依据词", "Words behind it"),
    "dq_no_reasons": ("（无）", "(none)"),
    "dq_dispatch_to": ("派遣至 {dep}", "Dispatch to {dep}"),
    "dq_dispatch_label": (
        "派遣 {code} 至 {dep}（{cat}，置信度 {pct}）",
        "Dispatch {code} to {dep} ({cat}, confidence {pct})",
    ),
    "dq_no_department": ("权责清单未给出部门", "No department in the responsibility list"),
    "dq_no_suggestions": (
        "暂无智能分拨建议（未安装分类模型）",
        "No routing suggestions (no classifier model installed)",
    ),
    "dq_correct": ("改派其他部门", "Correct: another department"),
    "dq_correct_submit": ("改派", "Dispatch to this department"),
    "dq_choose_department": ("请选择部门", "Choose a department"),
    "dq_category_keep": ("不修改分类", "Keep the category"),
    "dq_dispatched": ("已派遣至 {dep}", "Dispatched to {dep}"),
    "dq_triage": ("转办提示", "Transfer hint"),
    "dq_duplicates": ("疑似重复 {n} 件", "{n} possible duplicates"),
    "dq_coop": ("协办", "co-handling"),
    "dq_auto_threshold": ("自动派遣阈值", "Auto-dispatch threshold"),
    "dq_read_only": ("当前角色只能查看，不能派遣", "Your role may view this queue but not dispatch"),
}
for _k, _v in _MESSAGES.items():
    i18n.MESSAGES.setdefault(_k, _v)


def _reason_text(r: Any) -> str:
    if isinstance(r, str):
        return r
    if isinstance(r, dict):
        return str(r.get("word") or r.get("text") or r.get("term") or "")
    return ""


def suggestions_of(case: Case, k: int = 3) -> list[dict[str, Any]]:
    """The routing's top-k suggestions of a case, in a fixed shape for the page and the API."""
    routing = case.routing or {}
    out: list[dict[str, Any]] = []
    for rank, s in enumerate((routing.get("suggestions") or [])[:k], start=1):
        if not isinstance(s, dict):
            continue
        score = s.get("score")
        out.append(
            {
                "rank": rank,
                "category": s.get("category"),
                "confidence": round(float(score), 4) if isinstance(score, int | float) else None,
                "department_id": s.get("department_id"),
                "department_name": s.get("department_name"),
                "co_department_ids": [int(d) for d in s.get("co_department_ids") or [] if isinstance(d, int)],
                "rule_id": s.get("rule_id"),
                "rule_label": s.get("rule_label"),
                "reasons": [t for t in (_reason_text(r) for r in s.get("reasons") or []) if t],
            }
        )
    return out


def _triage_text(triage: Any) -> str | None:
    if not isinstance(triage, dict):
        return None
    label = triage.get("label") or triage.get("message") or triage.get("rule_id")
    matched = triage.get("matched") or []
    words = "、".join(str(m) for m in matched[:4]) if isinstance(matched, list) else ""
    return f"{label}（{words}）" if label and words else (str(label) if label else None)


def _queue_query(actor: Actor, search: str = "") -> Any:
    q = scoped(select(Case), actor).where(Case.status == lifecycle.Status.REGISTERED)
    search = search.strip()
    if search:
        q = q.where(or_(Case.tracking_code == search.upper(), Case.title.contains(search, autoescape=True)))
    return q


def queue(
    session: Session, actor: Actor, page: int = 1, page_size: int = PAGE_SIZE, search: str = ""
) -> dict[str, Any]:
    """Cases waiting for dispatch that the actor may see, oldest first, with their suggestions; `search`
    keeps those whose tracking code is it or whose title contains it."""
    q = _queue_query(actor, search)
    total = int(session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0)
    rows = session.scalars(q.order_by(Case.received_at, Case.id).offset((page - 1) * page_size).limit(page_size))
    items = []
    for c in rows:
        routing = c.routing or {}
        items.append(
            {
                "id": c.id,
                "tracking_code": c.tracking_code,
                "version": c.version,
                "title": c.title,
                "content": (c.content or "")[:300],
                "channel": c.channel,
                "county_code": c.county_code,
                "category": c.category,
                "received_at": c.received_at.isoformat() if isinstance(c.received_at, datetime) else None,
                "deadline_at": c.deadline_at.isoformat() if isinstance(c.deadline_at, datetime) else None,
                "confidence": routing.get("confidence"),
                "threshold": routing.get("threshold"),
                "triage": _triage_text(routing.get("triage")),
                "duplicates": len(routing.get("duplicates") or []),
                "suggestions": suggestions_of(c),
            }
        )
    return {"total": total, "page": page, "page_size": page_size, "items": items}


def _check_role(actor: Actor) -> None:
    if actor.role not in QUEUE_ROLES:
        raise Forbidden(
            "role_forbidden",
            "当前角色无权访问待派遣队列",
            f"role '{actor.role}' may not use the dispatch queue",
            allowed=[str(r) for r in QUEUE_ROLES],
        )


@router.get(
    "/api/v1/routing/queue",
    summary="待派遣队列 Cases waiting for dispatch with their top-3 suggestions",
    tags=["routing 智能分拨"],
    dependencies=[require_roles(*QUEUE_ROLES)],
)
def queue_api(
    session: SessionDep,
    actor: ActorDep,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
    q: Annotated[str, Query(max_length=100, description="tracking code, or words of the title")] = "",
) -> dict[str, Any]:
    return queue(session, actor, page, page_size, q)


@router.get("/dispatch-queue", response_class=HTMLResponse, include_in_schema=False)
@web.page
def queue_page(
    request: Request, session: SessionDep, page: int = 1, q: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    user, actor = page_user(request, session)
    _check_role(actor)
    page = max(1, min(page, 100000))
    data = queue(session, actor, page, search=q)
    departments = list(session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.id)))
    can_assign = any(t.action == "assign" for t in lifecycle.available(lifecycle.Status.REGISTERED, actor.role))
    return web.render(
        request,
        "dispatch_queue.html",
        user=user,
        nav="dispatch_queue",
        q=data,
        pages=max(1, (data["total"] + PAGE_SIZE - 1) // PAGE_SIZE),
        departments=departments,
        labels=LABELS,
        can_assign=can_assign,
        search=q.strip(),
        page_q=lambda n: urlencode({k: v for k, v in (("q", q.strip()), ("page", n)) if v}),
    )
