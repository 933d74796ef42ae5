"""HTTP intake: one endpoint per channel (and a batch form), the public self-report and tracking."""

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from pingan.cases import lifecycle
from pingan.cases.actors import Actor
from pingan.cases.models import Case, CaseEvent
from pingan.deps import ActorDep, SessionDep, UnlockedActorDep
from pingan.errors import Forbidden, NotFound
from pingan.intake import adapters, batcher, pipeline
from pingan.intake import schemas as s
from pingan.orgs.models import Department
from pingan.orgs.roles import Role

router = APIRouter(prefix="/api/v1", tags=["intake 受理"])

# channel → (input model, adapter, roles that may submit)
_CHANNELS: dict[str, tuple[type[BaseModel], Callable[[Any, Actor], adapters.IntakeRecord], set[Role]]] = {
    "hotline_12345": (s.Hotline12345In, adapters.from_hotline, {Role.OPERATOR, Role.CHANNEL, Role.ADMIN}),
    "police_110": (s.Police110In, adapters.from_police, {Role.OPERATOR, Role.CHANNEL, Role.ADMIN}),
    "grid": (s.GridReportIn, adapters.from_grid, {Role.GRID_WORKER}),
    "online": (s.OnlineIn, adapters.from_online, {Role.OPERATOR, Role.CHANNEL, Role.ADMIN}),
    "visit": (s.VisitIn, adapters.from_visit, {Role.OPERATOR, Role.DISPATCHER, Role.ADMIN}),
}
PUBLIC = Actor(id=None, name="群众自报", role=Role.CHANNEL, channel="online")


def _check(channel: str, actor: Actor) -> tuple[type[BaseModel], Callable[[Any, Actor], adapters.IntakeRecord]]:
    spec = _CHANNELS.get(channel)
    if spec is None:
        raise NotFound("unknown_channel", f"未知渠道：{channel}", f"unknown channel: {channel}", known=list(_CHANNELS))
    model, adapter, roles = spec
    if actor.role not in roles or (actor.role == Role.CHANNEL and actor.channel != channel):
        raise Forbidden(
            "channel_forbidden",
            f"当前账号不能向“{adapters.CHANNEL_LABELS[channel]}”渠道提交",
            f"this account may not submit to channel '{channel}'",
        )
    return model, adapter


class BatchOut(BaseModel):
    results: list[s.IntakeResult]
    created: int
    existing: int


def _register(channel: str, model: type[BaseModel]) -> None:
    # Built per channel (annotations evaluated here, no postponed evaluation in this module), so that
    # OpenAPI documents each channel's own body.
    label = adapters.CHANNEL_LABELS[channel]

    async def one(body: model, request: Request, response: Response, actor: UnlockedActorDep) -> s.IntakeResult:  # type: ignore[valid-type]
        _, adapter = _check(channel, actor)
        result = await batcher.for_app(request.app.state).submit_async(adapter(body, actor), actor)
        if not result.created:
            response.status_code = 200
        return result

    def batch(
        body: Annotated[list[model], Body(min_length=1, max_length=500)],  # type: ignore[valid-type]
        request: Request,
        session: SessionDep,
        actor: ActorDep,
    ) -> BatchOut:
        _, adapter = _check(channel, actor)
        records = [(adapter(item, actor), actor) for item in body]
        with batcher.for_app(request.app.state).writing:
            # The sign-in check committed its own work: this transaction holds only the batch.
            results = pipeline.submit_many(session, records, own_transaction=True)
        # The commit waits for the disk: the next batch of this process may start meanwhile.
        session.commit()
        created = sum(r.created for r in results)
        return BatchOut(results=results, created=created, existing=len(results) - created)

    router.add_api_route(
        f"/intake/{channel}",
        one,
        methods=["POST"],
        response_model=s.IntakeResult,
        status_code=201,
        summary=f"受理：{label} Submit one matter ({channel})",
        operation_id=f"intake_{channel}",
        responses={200: {"description": "already received (same channel and external id)"}},
    )
    router.add_api_route(
        f"/intake/{channel}/batch",
        batch,
        methods=["POST"],
        response_model=BatchOut,
        summary=f"批量受理：{label} Submit up to 500 matters ({channel})",
        operation_id=f"intake_{channel}_batch",
    )


for _channel, (_model, _adapter, _roles) in _CHANNELS.items():
    _register(_channel, _model)


@router.post(
    "/public/reports",
    response_model=s.IntakeResult,
    status_code=201,
    tags=["public 群众"],
    summary="群众自报 A resident reports a matter (returns a tracking code)",
)
async def public_report(body: s.OnlineIn, request: Request, response: Response) -> s.IntakeResult:
    result = await batcher.for_app(request.app.state).submit_async(adapters.from_online(body, PUBLIC), PUBLIC)
    if not result.created:
        response.status_code = 200
    return result


@router.get(
    "/public/track",
    response_model=s.TrackOut,
    tags=["public 群众"],
    summary="查询办理进度 Look a case up by tracking code and the phone's last 4 digits",
)
def track(
    session: SessionDep,
    code: Annotated[str, Query(min_length=6, max_length=16)],
    phone_last4: Annotated[str, Query(pattern=r"^\d{4}$")],
) -> s.TrackOut:
    case = session.scalars(select(Case).where(Case.tracking_code == code.strip().upper())).one_or_none()
    if case is None or not case.caller_phone_last4 or not hmac.compare_digest(case.caller_phone_last4, phone_last4):
        # The same answer whether the code is unknown or the digits are wrong: no guessing of codes.
        raise NotFound(
            "track_not_found", "未找到该编号的事项，或手机号后四位不符", "no case with that code and phone digits"
        )
    dep = session.get(Department, case.department_id) if case.department_id else None
    events = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.action.in_(["feedback", "close", "handle_on_spot"]))
        .order_by(CaseEvent.seq)
    )
    replies = [
        {"at": e.at.isoformat(), "text": str(e.data.get("result") or e.note)}
        for e in events
        if e.data.get("result") or e.note
    ]
    return s.TrackOut(
        tracking_code=case.tracking_code,
        title=case.title,
        status=case.status,
        status_label=lifecycle.STATUS_LABELS.get(case.status, case.status),
        received_at=case.received_at,
        deadline_at=case.deadline_at,
        closed_at=case.closed_at,
        department=dep.name if dep else None,
        replies=replies,
    )
