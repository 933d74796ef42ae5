"""Reading cases: filters, the data scope of each role, and the shapes the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from pingan.cases import lifecycle
from pingan.cases.actors import CITY_CODE, Actor
from pingan.cases.models import Case, CaseDepartment, CaseEvent
from pingan.cases.schemas import CaseOut, DepartmentRef, EventOut, Page
from pingan.orgs.models import Department
from pingan.orgs.roles import Role
from pingan.privacy import mask_id_number, mask_name, mask_phone
from pingan.timeutil import utcnow


def scoped(q: Select[Any], actor: Actor) -> Select[Any]:
    """Restrict a case query to what the actor may see (enforced here, not in the UI)."""
    if actor.role == Role.HANDLER:
        link = exists().where(CaseDepartment.case_id == Case.id, CaseDepartment.department_id == actor.department_id)
        return q.where(link)
    if actor.role == Role.CHANNEL:
        return q.where(Case.channel == actor.channel)
    if actor.role == Role.GRID_WORKER:
        return q.where(or_(Case.reporter_id == actor.id, _in_region(actor.region_code)))
    if actor.region_code != CITY_CODE:
        return q.where(_in_region(actor.region_code))
    return q


def _in_region(code: str) -> ColumnElement[bool]:
    if len(code) == 6:
        return Case.county_code == code
    if len(code) == 9:
        return Case.town_code == code
    if len(code) == 12:
        return Case.village_code == code
    if len(code) == 15:
        return Case.grid_code == code
    return false()


def list_cases(
    session: Session,
    actor: Actor,
    *,
    status: list[str] | None = None,
    channel: str | None = None,
    region: str | None = None,
    department_id: int | None = None,
    category: str | None = None,
    overdue: bool | None = None,
    due_soon: bool | None = None,
    pending: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    page: int = 1,
    page_size: int = 50,
    sort: str = "-received_at",
) -> Page:
    query = scoped(select(Case), actor)
    if status:
        query = query.where(Case.status.in_(status))
    if channel:
        query = query.where(Case.channel == channel)
    if region:
        query = query.where(_in_region(region))
    if department_id:
        query = query.where(Case.department_id == department_id)
    if category:
        query = query.where(Case.category == category)
    now = utcnow()
    if overdue is True:
        query = query.where(Case.status.in_(lifecycle.WITH_DEPARTMENT), Case.deadline_at < now)
    elif overdue is False:
        query = query.where(
            or_(Case.deadline_at.is_(None), Case.deadline_at >= now, Case.status.not_in(lifecycle.WITH_DEPARTMENT))
        )
    if due_soon:  # 即将超期: the urge time has passed, the deadline has not
        query = query.where(Case.status.in_(lifecycle.WITH_DEPARTMENT), Case.urge_at <= now, Case.deadline_at >= now)
    if pending:  # 待审批: an extension or suspension request waits for approval
        query = query.where(Case.pending_request["type"].as_string().is_not(None))
    if since:
        query = query.where(Case.received_at >= since)
    if until:
        query = query.where(Case.received_at < until)
    if q:
        like = f"%{q}%"
        query = query.where(or_(Case.title.like(like), Case.tracking_code == q, Case.external_id == q))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    col = {
        "received_at": Case.received_at,
        "deadline_at": Case.deadline_at,
        "id": Case.id,
        "updated_at": Case.updated_at,
    }[sort.lstrip("-")]
    order = col.desc() if sort.startswith("-") else col.asc()
    rows = session.scalars(
        query.options(selectinload(Case.departments))
        .order_by(order, Case.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    names = department_names(session, {d.department_id for c in rows for d in c.departments})
    return Page(items=[case_out(c, actor, names, now) for c in rows], total=total, page=page, page_size=page_size)


def visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    from pingan.cases.service import get_case
    from pingan.errors import NotFound

    case = session.scalars(scoped(select(Case).where(Case.id == case_id), actor)).one_or_none()
    if case is None:
        get_case(session, case_id)  # 404 when it does not exist at all …
        raise NotFound("case_not_found", f"案件 {case_id} 不存在", f"case {case_id} not found")  # … and when hidden
    return case


def department_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Department.id, Department.name).where(Department.id.in_(ids))).all())


def case_out(case: Case, actor: Actor, names: dict[int, str], now: datetime | None = None) -> CaseOut:
    now = now or utcnow()
    hide_caller = case.confidential and actor.role not in (Role.OPERATOR, Role.DISPATCHER, Role.ADMIN)
    overdue = bool(case.status in lifecycle.WITH_DEPARTMENT and case.deadline_at and case.deadline_at < now)
    return CaseOut(
        id=case.id,
        tracking_code=case.tracking_code,
        channel=case.channel,
        external_id=case.external_id,
        case_type=case.case_type,
        kind=case.kind,
        urgency=case.urgency,
        title=case.title,
        content=case.content,
        address=case.address,
        lat=case.lat,
        lon=case.lon,
        region_code=case.region_code,
        county_code=case.county_code,
        town_code=case.town_code,
        village_code=case.village_code,
        grid_code=case.grid_code,
        locate_level=case.locate_level,
        category=case.category,
        status=case.status,
        status_label=lifecycle.STATUS_LABELS.get(case.status, case.status),
        caller_name=None if hide_caller else mask_name(case.caller_name),
        caller_phone=None if hide_caller else mask_phone(case.caller_phone),
        caller_id_number=None if hide_caller else mask_id_number(case.caller_id_number),
        confidential=case.confidential,
        department_id=case.department_id,
        departments=[
            DepartmentRef(
                id=d.department_id,
                name=names.get(d.department_id, ""),
                role=d.role,
                active=d.active,
                feedback=d.feedback,
            )
            for d in case.departments
        ],
        owner_platform=case.owner_platform,
        received_at=case.received_at,
        assigned_at=case.assigned_at,
        sign_deadline_at=case.sign_deadline_at,
        deadline_at=case.deadline_at,
        deadline_provisional=case.deadline_provisional,
        closed_at=case.closed_at,
        merged_into_id=case.merged_into_id,
        pending_request=case.pending_request,
        return_count=case.return_count,
        rework_count=case.rework_count,
        urge_count=case.urge_count,
        supervised=case.supervised,
        escalation_level=case.escalation_level,
        satisfaction=case.satisfaction,
        routing=case.routing,
        overdue=overdue,
        version=case.version,
        updated_at=case.updated_at,
    )


def timeline(session: Session, case: Case) -> list[EventOut]:
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    return [
        EventOut(
            seq=e.seq,
            action=e.action,
            action_label=_label(e.action),
            actor_name=e.actor_name,
            actor_role=e.actor_role,
            at=e.at,
            from_status=e.from_status,
            to_status=e.to_status,
            note=e.note,
            data=e.data or {},
            hash=e.hash,
        )
        for e in events
    ]


def _label(action: str) -> str:
    if action == lifecycle.INTAKE_ACTION:
        return "受理"
    if action == "merged_in":
        return "并入案件"
    t = lifecycle.TABLE.get(action)
    return t.label if t else action
