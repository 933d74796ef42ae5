"""HTTP: duplicate candidates of a case (并案候选), hot issues (热点) and reply drafts (答复草稿)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from pingan.cases import queries
from pingan.cases.actors import Actor
from pingan.deps import SessionDep, require_roles
from pingan.dispatch import duplicates, hot
from pingan.dispatch.replies import suggest_reply
from pingan.orgs.roles import Role

router = APIRouter(prefix="/api/v1", tags=["dispatch 智能派遣"])

# Who looks for duplicates: the desk that merges (坐席/派遣员/管理员) and the command center's supervisors/leaders.
DUP_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.ADMIN, Role.SUPERVISOR, Role.LEADER)
# The command center (指挥中心) sees hot issues.
HOT_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN)
# Reply drafts: the department that answers, and the dispatcher who checks the answer.
REPLY_ROLES = (Role.HANDLER, Role.DISPATCHER, Role.ADMIN)

DupActor = Annotated[Actor, require_roles(*DUP_ROLES)]
HotActor = Annotated[Actor, require_roles(*HOT_ROLES)]
ReplyActor = Annotated[Actor, require_roles(*REPLY_ROLES)]


@router.get("/cases/{case_id}/duplicates", summary="并案候选 Duplicate candidates of a case")
def case_duplicates(
    case_id: int,
    session: SessionDep,
    actor: DupActor,
    radius_m: Annotated[float | None, Query(gt=0, le=5000)] = None,
    days: Annotated[float | None, Query(gt=0, le=90)] = None,
    limit: Annotated[int | None, Query(ge=1, le=20)] = None,
) -> dict[str, Any]:
    case = queries.visible_case(session, actor, case_id)
    pol = duplicates.policy()
    items = duplicates.candidates_for_case(session, case, actor=actor, radius_m=radius_m, days=days, limit=limit)
    return {
        "case_id": case.id,
        "tracking_code": case.tracking_code,
        "radius_m": radius_m if radius_m is not None else pol.radius_m,
        "days": days if days is not None else pol.days,
        "merge": "POST /api/v1/cases/{id}/actions/merge {target_case_id}",
        "items": items,
    }


@router.get("/hot-issues", summary="热点问题 Hot issues (clusters of similar matters)")
def hot_issues(
    session: SessionDep,
    actor: HotActor,
    since: datetime | None = None,
    until: datetime | None = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$")] = None,
) -> dict[str, Any]:
    return hot.clusters_from_cases(session, since=since, until=until, region=region, actor=actor)


@router.get("/cases/{case_id}/reply-drafts", summary="答复草稿 Reply drafts from similar past replies (never sent)")
def reply_drafts(
    case_id: int,
    session: SessionDep,
    actor: ReplyActor,
    k: Annotated[int, Query(ge=1, le=10)] = 3,
) -> dict[str, Any]:
    case = queries.visible_case(session, actor, case_id)
    return {
        "case_id": case.id,
        "tracking_code": case.tracking_code,
        "sent": False,
        "note": "草稿仅供参考，须由工作人员审核修改后答复 (drafts only: a person reviews, edits and sends the reply)",
        "drafts": suggest_reply(session, case.title, case.content, k=k),
    }
