"""HTTP API of disputes (矛盾纠纷), the mediator roster and rota, petitions (信访) and their statistics.

Parties' names, phones and ID numbers are masked in every response; the agreement documents name the
parties in full, so downloading one is limited to mediators and the 综治 desk and recorded on the timeline.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pingan.cases.actors import CITY_CODE, Actor
from pingan.deps import ActorDep, SessionDep, require_roles
from pingan.errors import Forbidden, NotFound
from pingan.mediation import documents, lifecycle, rota, service, stats
from pingan.mediation.lifecycle import D_LABELS, DISPUTE_TABLE, P_LABELS, PETITION_TABLE
from pingan.mediation.models import Dispute, DisputeDocument, DisputeEvent, Mediator, Petition, PetitionEvent
from pingan.mediation.schemas import (
    SOURCE_LABELS,
    DisputeActionInput,
    DisputeIn,
    DisputeOut,
    DocumentOut,
    EventOut,
    MediatorIn,
    MediatorOut,
    PartyOut,
    PetitionActionInput,
    PetitionIn,
    PetitionOut,
    RotaGenerateIn,
    SessionOut,
    SwapIn,
    UnavailableIn,
)
from pingan.orgs.roles import Role
from pingan.privacy import mask_id_number, mask_name, mask_phone
from pingan.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["mediation 矛盾纠纷调解"])

REGION = r"^\d{6}(\d{3}(\d{3})?)?$"
DOC_ROLES = (Role.MEDIATOR, Role.DISPATCHER, Role.ADMIN)
ROSTER_ROLES = require_roles(Role.DISPATCHER, Role.ADMIN, Role.MEDIATOR)


def _in_scope(actor: Actor, region_code: str) -> bool:
    return actor.region_code == CITY_CODE or region_code.startswith(actor.region_code)


def _scope_region(actor: Actor, region: str | None) -> str | None:
    if actor.region_code != CITY_CODE and (region is None or not region.startswith(actor.region_code)):
        return actor.region_code
    return region


def visible_dispute(session: Session, actor: Actor, dispute_id: int) -> Dispute:
    d = service.get_dispute(session, dispute_id)
    if not _in_scope(actor, d.region_code):
        raise NotFound("dispute_not_found", f"纠纷 {dispute_id} 不存在", f"dispute {dispute_id} not found")
    return d


def dispute_out(session: Session, d: Dispute, now: datetime | None = None) -> DisputeOut:
    now = now or utcnow()
    m = session.get(Mediator, d.mediator_id) if d.mediator_id else None
    party_names = {p.name for p in d.parties}  # session participants name the parties too
    return DisputeOut(
        id=d.id,
        code=d.code,
        title=d.title,
        dispute_type=d.dispute_type,
        scale=d.scale,
        people_count=d.people_count,
        amount=d.amount,
        place=d.place,
        region_code=d.region_code,
        county_code=d.county_code,
        town_code=d.town_code,
        grid_code=d.grid_code,
        description=d.description,
        source=d.source,
        source_label=SOURCE_LABELS.get(d.source, d.source),
        source_ref=d.source_ref,
        case_id=d.case_id,
        way=d.way,
        organisation=d.organisation,
        mediator_id=d.mediator_id,
        mediator_name=m.name if m else None,
        center=d.center,
        family_kind=d.family_kind,
        status=d.status,
        status_label=D_LABELS.get(d.status, d.status),
        risk_level=d.risk_level,
        risk_reasons=d.risk_reasons,
        peak_risk=d.peak_risk,
        escalated=d.escalated,
        group_incident=d.group_incident,
        registered_at=d.registered_at,
        accepted_at=d.accepted_at,
        deadline_at=d.deadline_at,
        overdue=bool(d.status in lifecycle.D_IN_MEDIATION and d.deadline_at and d.deadline_at < now),
        agreed_at=d.agreed_at,
        signed_at=d.signed_at,
        performed_at=d.performed_at,
        closed_at=d.closed_at,
        outcome=d.outcome,
        agreement=d.agreement,
        routes=d.routes,
        cooling_off_until=d.cooling_off_until,
        judicial_deadline=d.judicial_deadline,
        judicial_applied_at=d.judicial_applied_at,
        judicial_result=d.judicial_result,
        session_count=d.session_count,
        revisit_count=d.revisit_count,
        evaluation=d.evaluation,
        version=d.version,
        parties=[
            PartyOut(
                id=p.id,
                role=p.role,
                name=mask_name(p.name),
                phone=mask_phone(p.phone),
                id_number=mask_id_number(p.id_number),
                minor=p.minor,
                refused=p.refused,
            )
            for p in d.parties
        ],
        sessions=[
            SessionOut(
                seq=s.seq,
                held_at=s.held_at,
                place=s.place,
                participants=[mask_name(x) if x in party_names else x for x in s.participants],
                notes=s.notes,
                risk_level=s.risk_level,
                risk_reasons=s.risk_reasons,
                recorded_by=s.recorded_by,
            )
            for s in d.sessions
        ],
    )


# ---------------------------------------------------------------- disputes


@router.get("/disputes", summary="纠纷列表 List disputes")
def list_disputes(
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[list[str] | None, Query(max_length=12)] = None,
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    center: Annotated[str | None, Query(max_length=40)] = None,
    dispute_type: Annotated[str | None, Query(max_length=20)] = None,
    risk: Annotated[str | None, Query(pattern="^(low|medium|high)$")] = None,
    overdue: bool | None = None,
    judicial_open: bool | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    now = utcnow()
    query = select(Dispute)
    region = _scope_region(actor, region)
    if region:
        query = query.where(Dispute.region_code.startswith(region))
    if status:
        query = query.where(Dispute.status.in_(status))
    if center:
        query = query.where(Dispute.center == center)
    if dispute_type:
        query = query.where(Dispute.dispute_type == dispute_type)
    if risk:
        query = query.where(Dispute.risk_level == risk)
    if overdue is not None:
        cond = Dispute.status.in_([str(s) for s in lifecycle.D_IN_MEDIATION]) & (Dispute.deadline_at < now)
        query = query.where(cond if overdue else ~cond)
    if judicial_open:
        query = query.where(
            Dispute.signed_at.is_not(None),
            Dispute.judicial_applied_at.is_(None),
            Dispute.judicial_deadline >= service.local_date(now),
        )
    if q:
        like = f"%{q}%"
        query = query.where(or_(Dispute.title.like(like), Dispute.code.like(like), Dispute.place.like(like)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Dispute.registered_at.desc(), Dispute.id.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "items": [dispute_out(session, d, now).model_dump(mode="json") for d in rows],
    }


@router.post("/disputes", response_model=DisputeOut, status_code=201, summary="登记纠纷 Register a dispute")
def register(body: DisputeIn, session: SessionDep, actor: ActorDep) -> DisputeOut:
    d = service.register_dispute(session, body, actor)
    session.commit()
    return dispute_out(session, d)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut, summary="纠纷详情 Dispute detail")
def get_dispute(dispute_id: int, session: SessionDep, actor: ActorDep) -> DisputeOut:
    return dispute_out(session, visible_dispute(session, actor, dispute_id))


@router.get("/disputes/{dispute_id}/timeline", response_model=list[EventOut], summary="时间线 Timeline")
def timeline(dispute_id: int, session: SessionDep, actor: ActorDep) -> list[EventOut]:
    d = visible_dispute(session, actor, dispute_id)
    evs = session.scalars(select(DisputeEvent).where(DisputeEvent.dispute_id == d.id).order_by(DisputeEvent.seq))
    return [EventOut.model_validate(ev, from_attributes=True) for ev in evs]


@router.get("/disputes/{dispute_id}/actions", summary="当前可执行的操作 Actions the user may take now")
def actions(dispute_id: int, session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    d = visible_dispute(session, actor, dispute_id)
    return [
        {"action": t.action, "label": t.label, "target": t.target}
        for t in lifecycle.available(DISPUTE_TABLE, d.status, actor.role)
    ]


@router.post("/disputes/{dispute_id}/actions/{action}", response_model=DisputeOut, summary="执行操作 Take an action")
def take_action(
    dispute_id: int, action: str, body: DisputeActionInput, session: SessionDep, actor: ActorDep
) -> DisputeOut:
    visible_dispute(session, actor, dispute_id)
    d = service.act(session, dispute_id, action, actor, body)
    session.commit()
    return dispute_out(session, d)


@router.post("/disputes/{dispute_id}/documents", response_model=DocumentOut, status_code=201, summary="上传文件 Upload")
async def upload(
    dispute_id: int,
    session: SessionDep,
    actor: ActorDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=20)] = "signed_agreement",
) -> DocumentOut:
    visible_dispute(session, actor, dispute_id)
    content = await file.read(service.MAX_DOCUMENT_BYTES + 1)
    doc = service.upload_document(session, dispute_id, kind, file.filename or "document", content, actor)
    session.commit()
    return DocumentOut.model_validate(doc, from_attributes=True)


@router.get("/disputes/{dispute_id}/documents", response_model=list[DocumentOut], summary="文件 Documents")
def list_documents(dispute_id: int, session: SessionDep, actor: ActorDep) -> list[DocumentOut]:
    d = visible_dispute(session, actor, dispute_id)
    docs = session.scalars(select(DisputeDocument).where(DisputeDocument.dispute_id == d.id))
    return [DocumentOut.model_validate(x, from_attributes=True) for x in docs]


@router.get("/disputes/{dispute_id}/agreement.{fmt}", summary="调解协议书 Agreement (docx/pdf)")
def agreement(dispute_id: int, fmt: str, session: SessionDep, actor: ActorDep) -> Response:
    if actor.role not in DOC_ROLES:
        raise Forbidden("role_forbidden", "当前角色无权查看协议书原文", "this role may not open the agreement")
    d = visible_dispute(session, actor, dispute_id)
    m = session.get(Mediator, d.mediator_id) if d.mediator_id else None
    if fmt == "docx":
        body = documents.agreement_docx(d, m)
        mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    elif fmt == "pdf":
        body = documents.agreement_pdf(d, m)
        mime = "application/pdf"
    else:
        raise NotFound("format_unknown", "格式须为 docx 或 pdf", "format must be docx or pdf")
    service.log_view(session, d, actor, f"agreement.{fmt}")
    session.commit()
    return Response(
        body, media_type=mime, headers={"Content-Disposition": f'attachment; filename="{d.code}-agreement.{fmt}"'}
    )


@router.get("/disputes/{dispute_id}/parties", summary="当事人联系方式（不脱敏，留痕） Parties unmasked (logged)")
def parties_unmasked(dispute_id: int, session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    if actor.role not in DOC_ROLES:
        raise Forbidden("role_forbidden", "当前角色无权查看当事人完整信息", "this role may not see parties unmasked")
    d = visible_dispute(session, actor, dispute_id)
    service.log_view(session, d, actor, "parties")
    session.commit()
    return [
        {"id": p.id, "role": p.role, "name": p.name, "phone": p.phone, "id_number": p.id_number, "address": p.address}
        for p in d.parties
    ]


# ---------------------------------------------------------------- roster and rota


def _mediator_out(m: Mediator) -> MediatorOut:
    return MediatorOut(
        id=m.id,
        name=m.name,
        kind=m.kind,
        organisation=m.organisation,
        center=m.center,
        region_code=m.region_code,
        user_id=m.user_id,
        phone=mask_phone(m.phone),
        active=m.active,
    )


@router.get("/mediation/mediators", response_model=list[MediatorOut], summary="调解员名册 Roster")
def list_mediators(
    session: SessionDep,
    actor: ActorDep,
    center: Annotated[str | None, Query(max_length=40)] = None,
    region: Annotated[str | None, Query(pattern=REGION)] = None,
) -> list[MediatorOut]:
    q = select(Mediator).where(Mediator.active).order_by(Mediator.id)
    if center is not None:
        q = q.where(Mediator.center == center)
    region = _scope_region(actor, region)
    if region:
        q = q.where(Mediator.region_code.startswith(region))
    return [_mediator_out(m) for m in session.scalars(q)]


@router.post("/mediation/mediators", response_model=MediatorOut, status_code=201, dependencies=[ROSTER_ROLES])
def add_mediator(body: MediatorIn, session: SessionDep, actor: ActorDep) -> MediatorOut:
    m = service.add_mediator(session, **body.model_dump())
    session.commit()
    return _mediator_out(m)


@router.post("/mediation/mediators/{mediator_id}/unavailable", dependencies=[ROSTER_ROLES])
def unavailable(mediator_id: int, body: UnavailableIn, session: SessionDep, actor: ActorDep) -> dict[str, int]:
    n = rota.set_unavailable(session, mediator_id, body.days, body.reason)
    session.commit()
    return {"added": n}


@router.post("/mediation/centers/{center}/rota", dependencies=[ROSTER_ROLES], summary="生成值班表 Generate rota")
def generate_rota(center: str, body: RotaGenerateIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    out = rota.generate(session, center, body.start, body.end, actor, body.per_day, body.replace)
    session.commit()
    return out


@router.get("/mediation/centers/{center}/rota", summary="值班表 Rota")
def get_rota(center: str, start: date, end: date, session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    return rota.rota(session, center, start, end)


@router.post("/mediation/centers/{center}/rota/swap", dependencies=[ROSTER_ROLES], summary="调班 Swap a duty")
def swap(center: str, body: SwapIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    slot = rota.swap(session, center, body.day, body.from_mediator_id, body.to_mediator_id, body.reason, actor)
    session.commit()
    return {"day": slot.day.isoformat(), "mediator_id": slot.mediator_id, "swapped_from_id": slot.swapped_from_id}


# ---------------------------------------------------------------- statistics


@router.get("/mediation/stats", summary="纠纷调解统计 Dispute statistics (with definitions)")
def dispute_stats(
    session: SessionDep,
    actor: ActorDep,
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    since: date | None = None,
    until: date | None = None,
    mediator_id: Annotated[int | None, Query(ge=1)] = None,
) -> list[dict[str, Any]]:
    region = _scope_region(actor, region)
    return stats.disputes(session, region, stats.as_of(since), stats.as_of(until), mediator_id)


@router.get("/mediation/centers/{center}/stats", summary="调解中心统计 Center statistics (with definitions)")
def center_stats(
    center: str, session: SessionDep, actor: ActorDep, since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    return stats.center(session, center, stats.as_of(since), stats.as_of(until))


@router.get("/mediation/mediator-stats", summary="调解员业绩 Per-mediator figures")
def mediator_stats(
    session: SessionDep, actor: ActorDep, region: Annotated[str | None, Query(pattern=REGION)] = None
) -> list[dict[str, Any]]:
    return stats.mediators(session, _scope_region(actor, region))


# ---------------------------------------------------------------- petitions


def petition_out(session: Session, p: Petition) -> PetitionOut:
    same = 1
    if p.person_key:
        same = (
            session.scalar(select(func.count()).select_from(Petition).where(Petition.person_key == p.person_key)) or 1
        )
    return PetitionOut(
        id=p.id,
        code=p.code,
        form=p.form,
        petitioner_name=mask_name(p.petitioner_name),
        petitioner_phone=mask_phone(p.petitioner_phone),
        petitioner_id_number=mask_id_number(p.petitioner_id_number),
        people_count=p.people_count,
        subject=p.subject,
        content=p.content,
        region_code=p.region_code,
        county_code=p.county_code,
        received_level=p.received_level,
        proper_level=p.proper_level,
        skip_level=p.skip_level,
        repeat_of_id=p.repeat_of_id,
        repeat_index=p.repeat_index,
        petitions_by_same_person=same,
        dispute_id=p.dispute_id,
        status=p.status,
        status_label=P_LABELS.get(p.status, p.status),
        received_at=p.received_at,
        accept_deadline=p.accept_deadline,
        reply_deadline=p.reply_deadline,
        accepted_at=p.accepted_at,
        replied_at=p.replied_at,
        closed_at=p.closed_at,
        resolved=p.resolved,
        reply=p.reply,
        backlog=p.backlog,
        backlog_owner=p.backlog_owner,
        backlog_deadline=p.backlog_deadline,
        version=p.version,
    )


def visible_petition(session: Session, actor: Actor, petition_id: int) -> Petition:
    p = service.get_petition(session, petition_id)
    if not _in_scope(actor, p.region_code):
        raise NotFound("petition_not_found", f"信访件 {petition_id} 不存在", f"petition {petition_id} not found")
    return p


@router.get("/petitions", summary="信访列表 List petitions")
def list_petitions(
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[list[str] | None, Query(max_length=6)] = None,
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    form: Annotated[str | None, Query(max_length=4)] = None,
    skip_level: bool | None = None,
    repeat: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    query = select(Petition)
    region = _scope_region(actor, region)
    if region:
        query = query.where(Petition.region_code.startswith(region))
    if status:
        query = query.where(Petition.status.in_(status))
    if form:
        query = query.where(Petition.form == form)
    if skip_level is not None:
        query = query.where(Petition.skip_level.is_(skip_level))
    if repeat is not None:
        query = query.where(Petition.repeat_index > 0 if repeat else Petition.repeat_index == 0)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Petition.received_at.desc(), Petition.id.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return {"total": total, "page": page, "page_size": page_size,
            "items": [petition_out(session, p).model_dump(mode="json") for p in rows]}  # fmt: skip


@router.post("/petitions", response_model=PetitionOut, status_code=201, summary="登记信访 Register a petition")
def register_petition(body: PetitionIn, session: SessionDep, actor: ActorDep) -> PetitionOut:
    p = service.register_petition(session, body, actor)
    session.commit()
    return petition_out(session, p)


@router.get("/petitions/backlog", summary="信访积案 Backlog with owners, deadlines and the resolving records")
def petition_backlog(
    session: SessionDep, actor: ActorDep, region: Annotated[str | None, Query(pattern=REGION)] = None
) -> dict[str, Any]:
    region = _scope_region(actor, region)
    items = stats.backlog(session, region)
    fig = next(f for f in stats.petitions(session, region)["figures"] if f["key"] == "backlog_clearance")
    return {"clearance": fig, "items": items}


@router.get("/petitions/stats", summary="信访统计 Petition statistics (with definitions)")
def petition_stats(
    session: SessionDep,
    actor: ActorDep,
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    since: date | None = None,
) -> dict[str, Any]:
    return stats.petitions(session, _scope_region(actor, region), stats.as_of(since))


@router.get("/petitions/{petition_id}", response_model=PetitionOut, summary="信访件详情 Petition detail")
def get_petition(petition_id: int, session: SessionDep, actor: ActorDep) -> PetitionOut:
    return petition_out(session, visible_petition(session, actor, petition_id))


@router.get("/petitions/{petition_id}/timeline", response_model=list[EventOut], summary="信访时间线 Timeline")
def petition_timeline(petition_id: int, session: SessionDep, actor: ActorDep) -> list[EventOut]:
    p = visible_petition(session, actor, petition_id)
    evs = session.scalars(select(PetitionEvent).where(PetitionEvent.petition_id == p.id).order_by(PetitionEvent.seq))
    return [EventOut.model_validate(ev, from_attributes=True) for ev in evs]


@router.get("/petitions/{petition_id}/actions", summary="信访件可执行的操作 Actions")
def petition_actions(petition_id: int, session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    p = visible_petition(session, actor, petition_id)
    return [
        {"action": t.action, "label": t.label, "target": t.target}
        for t in lifecycle.available(PETITION_TABLE, p.status, actor.role)
    ]


@router.post("/petitions/{petition_id}/actions/{action}", response_model=PetitionOut, summary="信访件操作 Action")
def petition_action(
    petition_id: int, action: str, body: PetitionActionInput, session: SessionDep, actor: ActorDep
) -> PetitionOut:
    visible_petition(session, actor, petition_id)
    p = service.petition_act(session, petition_id, action, actor, body)
    session.commit()
    return petition_out(session, p)
