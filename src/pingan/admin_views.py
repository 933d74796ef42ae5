"""Administration over HTTP: holiday notices (and the deadlines they fix), policy inspection, health."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import text

from pingan.cases import deadlines
from pingan.cases.models import HolidayNotice
from pingan.deps import ActorDep, SessionDep, require_roles
from pingan.orgs.roles import Role
from pingan.policy import registry
from pingan.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["admin 管理"])


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=2000, le=2100)
    holidays: list[date] = Field(max_length=60, description="days off (放假)")
    workdays: list[date] = Field(
        default_factory=list, max_length=20, description="adjusted working weekends (调休上班)"
    )

    @field_validator("holidays", "workdays")
    @classmethod
    def _sorted(cls, v: list[date]) -> list[date]:
        return sorted(set(v))


@router.put(
    "/admin/holidays/{year}",
    summary="录入年度放假通知 Add a year's holiday notice",
    dependencies=[require_roles(Role.ADMIN)],
)
def put_holidays(year: int, body: NoticeIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    from pingan.errors import Invalid

    if body.year != year or any(d.year != year for d in [*body.holidays, *body.workdays]):
        raise Invalid("notice_year", "通知中的日期必须属于该年份", "all dates must belong to the notice's year")
    notice = session.get(HolidayNotice, year)
    if notice is None:
        notice = HolidayNotice(year=year, holidays=[], workdays=[], created_at=utcnow(), created_by=actor.name)
        session.add(notice)
    notice.holidays = [d.isoformat() for d in body.holidays]
    notice.workdays = [d.isoformat() for d in body.workdays]
    notice.created_by = actor.name
    session.flush()
    n = deadlines.recompute_provisional(session)
    session.commit()
    return {"year": year, "recomputed_cases": n}


@router.get(
    "/policy/{kind}",
    summary="查看策略 Show an effective policy",
    dependencies=[require_roles(Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER)],
)
def get_policy(kind: str) -> dict[str, Any]:
    from pingan.errors import NotFound

    models = registry.kinds()
    if kind not in models:
        raise NotFound("policy_unknown", f"未知策略：{kind}", f"unknown policy: {kind}", known=sorted(models))
    return {"kind": kind, **registry.load(kind, models[kind]).model_dump(mode="json")}


@router.get("/health", tags=["meta"], summary="健康检查 Health")
def health(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
