"""HTTP API of cases: list, detail, timeline, the actions a user may take now, and taking them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from pingan.cases import lifecycle, queries, service
from pingan.cases.schemas import ActionInput, CaseOut, EventOut, Page
from pingan.deps import ActorDep, SessionDep

router = APIRouter(prefix="/api/v1/cases", tags=["cases 案件"])


@router.get("", response_model=Page, summary="案件列表 List cases (filtered, paginated)")
def list_cases(
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[list[str] | None, Query(max_length=20)] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$")] = None,
    department_id: Annotated[int | None, Query(ge=1)] = None,
    category: Annotated[str | None, Query(max_length=20)] = None,
    overdue: bool | None = None,
    due_soon: bool | None = None,
    pending: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    sort: Annotated[str, Query(pattern=r"^-?(received_at|deadline_at|id|updated_at)$")] = "-received_at",
) -> Page:
    return queries.list_cases(
        session,
        actor,
        status=status,
        channel=channel,
        region=region,
        department_id=department_id,
        category=category,
        overdue=overdue,
        due_soon=due_soon,
        pending=pending,
        since=since,
        until=until,
        q=q,
        page=page,
        page_size=page_size,
        sort=sort,
    )


@router.get("/{case_id}", response_model=CaseOut, summary="案件详情 Case detail")
def get_case(case_id: int, session: SessionDep, actor: ActorDep) -> CaseOut:
    case = queries.visible_case(session, actor, case_id)
    return queries.case_out(case, actor, queries.department_names(session, {d.department_id for d in case.departments}))


@router.get("/{case_id}/timeline", response_model=list[EventOut], summary="时间线 Timeline")
def get_timeline(case_id: int, session: SessionDep, actor: ActorDep) -> list[EventOut]:
    return queries.timeline(session, queries.visible_case(session, actor, case_id))


@router.get("/{case_id}/actions", summary="当前可执行的操作 Actions the user may take now")
def get_actions(case_id: int, session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    case = queries.visible_case(session, actor, case_id)
    return [
        {"action": t.action, "label": t.label, "target": t.target} for t in lifecycle.available(case.status, actor.role)
    ]


@router.post("/{case_id}/actions/{action}", response_model=CaseOut, summary="执行操作 Take an action")
def take_action(case_id: int, action: str, body: ActionInput, session: SessionDep, actor: ActorDep) -> CaseOut:
    queries.visible_case(session, actor, case_id)
    case = service.act(session, case_id, action, actor, body)
    session.commit()
    return queries.case_out(case, actor, queries.department_names(session, {d.department_id for d in case.departments}))
