"""Residents rate the result online (群众评价): tracking code + the phone's last four digits, then the 回访.

The rating is the case lifecycle's `revisit` transition taken by the resident channel (`RESIDENT`), through
`service.act` like a phone 回访: the same satisfaction levels and the same reopen policy (不满意 + 未解决 or
非常不满意 sends the case back to its department). A wrong code or wrong digits get the same answer as the
public lookup, so codes cannot be enumerated; the path is under `/api/v1/public/track`, so the lookup's rate
limit (pingan.security.http) counts these requests too.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from pingan.cases import lifecycle, service
from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case, CaseEvent
from pingan.cases.schemas import ActionInput
from pingan.deps import SessionDep
from pingan.errors import Conflict, NotFound
from pingan.orgs.roles import Role

router = APIRouter(prefix="/api/v1/public", tags=["public 群众"])

RESIDENT = Actor(id=None, name="群众评价", role=Role.CHANNEL, channel=lifecycle.RESIDENT_CHANNEL)


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=6, max_length=16, description="查询编号 tracking code")
    phone_last4: str = Field(pattern=r"^\d{4}$", description="手机号后四位")
    satisfaction: str = Field(min_length=1, max_length=10, description="非常满意/满意/基本满意/不满意/非常不满意")
    solved: bool | None = Field(default=None, description="问题是否解决")
    comment: str = Field(default="", max_length=500, description="评价意见 (optional)")


class RatingOut(BaseModel):
    tracking_code: str
    status: str
    status_label: str
    satisfaction: str
    solved: bool | None
    reopened: bool
    already_rated: bool


def find_case(session: Any, code: str, phone_last4: str) -> Case:
    """The case with this code and phone digits, or the lookup's own not-found (no hint which part is wrong)."""
    case = session.scalars(select(Case).where(Case.tracking_code == code.strip().upper())).one_or_none()
    if case is None or not case.caller_phone_last4 or not hmac.compare_digest(case.caller_phone_last4, phone_last4):
        raise NotFound(
            "track_not_found", "未找到该编号的事项，或手机号后四位不符", "no case with that code and phone digits"
        )
    return case


def _out(case: Case, event: CaseEvent, already: bool) -> RatingOut:
    return RatingOut(
        tracking_code=case.tracking_code,
        status=case.status,
        status_label=lifecycle.STATUS_LABELS.get(case.status, case.status),
        satisfaction=str(event.data.get("satisfaction")),
        solved=event.data.get("solved"),
        reopened=bool(event.data.get("reopened")),
        already_rated=already,
    )


def _last_resident_rating(session: Any, case: Case) -> CaseEvent | None:
    last_close = session.scalar(
        select(CaseEvent.seq)
        .where(CaseEvent.case_id == case.id, CaseEvent.action.in_(["close", "handle_on_spot"]))
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )
    q = select(CaseEvent).where(
        CaseEvent.case_id == case.id,
        CaseEvent.action == "revisit",
        CaseEvent.actor_role == str(Role.CHANNEL),
        CaseEvent.actor_name == RESIDENT.name,
        CaseEvent.seq > (last_close or 0),
    )
    return session.scalars(q.order_by(CaseEvent.seq.desc()).limit(1)).first()


@router.post(
    "/track/rating",
    response_model=RatingOut,
    summary="群众评价 A resident rates the result of a closed case (tracking code + phone's last 4 digits)",
    responses={404: {"description": "unknown code or wrong digits"}, 409: {"description": "not open for rating"}},
)
def rate(body: RatingIn, session: SessionDep) -> RatingOut:
    case = find_case(session, body.code, body.phone_last4)
    if case.status != Status.CLOSED:
        prior = _last_resident_rating(session, case)
        if prior is not None:
            same = prior.data.get("satisfaction") == body.satisfaction and prior.data.get("solved") == body.solved
            if same:
                # A retry of the rating already recorded (e.g. after a lost response): the same answer again.
                return _out(case, prior, already=True)
            raise Conflict(
                "already_rated",
                "该事项已评价，不能重复评价",
                "this case has already been rated",
                satisfaction=prior.data.get("satisfaction"),
            )
        label = lifecycle.STATUS_LABELS.get(case.status, case.status)
        raise Conflict(
            "rating_not_open",
            f"事项当前状态为“{label}”，办结（待回访）后才能评价",
            f"the case is '{case.status}'; it can be rated once it is closed and awaiting the revisit",
            status_now=case.status,
        )
    inp = ActionInput(satisfaction=body.satisfaction, solved=body.solved, note=body.comment.strip())
    case = service.act(session, case.id, "revisit", RESIDENT, inp)
    event = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.seq == case.event_count)
    ).one()
    session.commit()
    return _out(case, event, already=False)
