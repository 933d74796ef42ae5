"""HTTP API of routing: classify a message for the dispatcher's screen; the 12345⇄110 transfer list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from pingan.deps import ActorDep, SessionDep, require_roles
from pingan.dispatch import api, triage
from pingan.errors import Invalid
from pingan.orgs.roles import Role

router = APIRouter(prefix="/api/v1/routing", tags=["routing 智能分拨"])

_DESK = require_roles(Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN)


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(default="", max_length=200, description="留言主题 / 工单标题")
    content: str = Field(default="", max_length=10000, description="留言详情 / 诉求内容")
    channel: str = Field(default="hotline_12345", pattern=r"^(hotline_12345|police_110|grid|online|visit)$")
    county_code: str = Field(default="", pattern=r"^(\d{6})?$", description="county-level code, e.g. 430602")


@router.post("/classify", summary="智能分拨建议 Classify a message and suggest departments", dependencies=[_DESK])
def classify(body: ClassifyIn, session: SessionDep) -> dict[str, Any]:
    if not body.title.strip() and not body.content.strip():
        raise Invalid("empty_message", "主题和内容不能都为空", "title and content cannot both be empty", field="title")
    decision = api.route(
        session,
        title=body.title,
        content=body.content,
        channel=body.channel,
        county_code=body.county_code,
        region_code=body.county_code,
    )
    return decision.to_json()


@router.get("/transfer-rules", summary="12345⇄110 转办清单 The transfer list")
def transfer_rules(actor: ActorDep) -> dict[str, Any]:
    pol = triage.policy()
    return {
        "to_110_channels": pol.to_110_channels,
        "to_12345_channels": pol.to_12345_channels,
        "rules": [r.to_json() for r in pol.rules],
    }
