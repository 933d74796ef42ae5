"""HTTP API of the metrics: KPI figures with their formulas, drill-down to cases, queues and intake."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.queries import case_out, department_names
from pingan.deps import SessionDep, require_roles
from pingan.geo.models import Region
from pingan.intake.adapters import CHANNEL_LABELS
from pingan.metrics import board, kpis
from pingan.metrics.policies import METRIC_IDS
from pingan.orgs.roles import Role

router = APIRouter(prefix="/api/v1/stats", tags=["stats 统计"])

StatsActor = Annotated[
    Actor,
    require_roles(Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.OPERATOR, Role.HANDLER),
]
GroupBy = Literal["total", "department", "county", "category", "channel", "month"]
MetricId = Literal[
    "response_rate",
    "solved_rate",
    "satisfaction_rate",
    "closure_rate",
    "ontime_closure_rate",
    "rework_rate",
    "accurate_dispatch_rate",
]


def _labels(session: Session, group_by: str, keys: list[str]) -> dict[str, str]:
    if group_by == "department":
        ids = {int(k) for k in keys if k.isdigit()}
        return {str(k): v for k, v in department_names(session, ids).items()}
    if group_by == "county":
        rows = session.execute(select(Region.code, Region.name).where(Region.code.in_(keys))).all()
        return {str(c): str(n) for c, n in rows}
    if group_by == "channel":
        return {k: CHANNEL_LABELS.get(k, k) for k in keys}
    if group_by == "total":
        return {kpis.TOTAL_KEY: "全部"}
    return {}


def _drill_url(metric: str, part: str, group_by: str, group: str, w: kpis.Window) -> str:
    q = urlencode(
        {"part": part, "group_by": group_by, "group": group, "since": w.since.isoformat(), "until": w.until.isoformat()}
    )
    return f"/api/v1/stats/kpis/{metric}/cases?{q}"


def _groups(ctx: kpis.Ctx, data: dict[str, dict[str, tuple[int, int]]], metrics: list[str]) -> list[dict[str, Any]]:
    keys = sorted({k for per in data.values() for k in per})
    labels = _labels(ctx.session, ctx.group_by, keys)
    out: list[dict[str, Any]] = []
    for key in keys:
        figures: dict[str, dict[str, Any]] = {}
        for m in metrics:
            n, d = data[m].get(key, (0, 0))
            f = kpis.figure(ctx.pol, m, n, d)
            f["drill"] = {
                part: _drill_url(m, part, ctx.group_by, key, ctx.window) for part in ("numerator", "denominator")
            }
            figures[m] = f
        label = labels.get(key, "未知" if key == kpis.NULL_KEY else key)
        out.append({"key": key, "label": label, "figures": figures, "score": kpis.composite(ctx.pol, figures)})
    ranked = sorted((g for g in out if g["score"]["value"] is not None), key=lambda g: -g["score"]["value"])
    for i, g in enumerate(ranked, 1):
        g["rank"] = i
    return out


@router.get("/definitions", summary="指标定义 What each figure divides by what")
def definitions(actor: StatsActor) -> dict[str, Any]:
    pol = kpis.policy()
    return {
        "metrics": [kpis.definition(pol, m) for m in METRIC_IDS],
        "weights": pol.weights,
        "bands": [b.model_dump() for b in pol.bands],
        "satisfied_levels": pol.satisfied_levels,
        "rework_actions": pol.rework_actions,
        "group_by": list(kpis.GROUP_BYS),
    }


@router.get("/kpis", summary="考核指标 KPI figures (numerator, denominator, value, formula) by group")
def get_kpis(
    session: SessionDep,
    actor: StatsActor,
    group_by: GroupBy = "total",
    since: datetime | None = None,
    until: datetime | None = None,
    metric: Annotated[list[MetricId] | None, Query(max_length=7)] = None,
) -> dict[str, Any]:
    w = kpis.Window.of(since, until)
    ctx = kpis.Ctx(session, actor, w, group_by, kpis.policy())
    metrics: list[str] = list(dict.fromkeys(metric)) if metric else list(METRIC_IDS)
    groups = _groups(ctx, kpis.compute(ctx, metrics), metrics)
    tctx = kpis.Ctx(session, actor, w, "total", ctx.pol)
    tdata = kpis.compute(tctx, metrics) if group_by != "total" and groups else {}
    if group_by == "total" and groups:
        total = groups[0]
    else:
        empty = {m: {kpis.TOTAL_KEY: tdata.get(m, {}).get(kpis.TOTAL_KEY, (0, 0))} for m in metrics}
        total = _groups(tctx, empty, metrics)[0]
    return {
        "since": w.since.isoformat(),
        "until": w.until.isoformat(),
        "group_by": group_by,
        "scope": {"role": str(actor.role), "region_code": actor.region_code, "department_id": actor.department_id},
        "definitions": {m: kpis.definition(ctx.pol, m) for m in metrics},
        "total": total,
        "groups": groups if group_by != "total" else [],
    }


@router.get("/kpis/{metric}/cases", summary="指标明细 The cases in a figure's numerator or denominator")
def kpi_cases(
    session: SessionDep,
    actor: StatsActor,
    metric: Annotated[MetricId, Path()],
    part: Literal["numerator", "denominator"] = "denominator",
    group_by: GroupBy = "total",
    group: Annotated[str, Query(max_length=40)] = kpis.TOTAL_KEY,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    ids_only: bool = False,
) -> dict[str, Any]:
    w = kpis.Window.of(since, until)
    ctx = kpis.Ctx(session, actor, w, group_by, kpis.policy())
    total, ids = kpis.drill(ctx, metric, part, group, page, page_size)
    out: dict[str, Any] = {
        "metric": metric,
        "definition": kpis.definition(ctx.pol, metric),
        "part": part,
        "group_by": group_by,
        "group": group,
        "since": w.since.isoformat(),
        "until": w.until.isoformat(),
        "total": total,
        "page": page,
        "page_size": page_size,
        "case_ids": ids,
    }
    if not ids_only:
        rows = session.scalars(select(Case).where(Case.id.in_(ids)).options(selectinload(Case.departments))).all()
        by_id = {c.id: c for c in rows}
        names = department_names(session, {d.department_id for c in rows for d in c.departments})
        out["items"] = [case_out(by_id[i], actor, names).model_dump(mode="json") for i in ids if i in by_id]
    return out


@router.get("/queues", summary="指挥中心待办 Command-center queues with their case-list filters")
def get_queues(session: SessionDep, actor: StatsActor) -> dict[str, Any]:
    return board.queues(session, actor)


@router.get("/intake", summary="受理量 Intake per channel per day (today first)")
def get_intake(session: SessionDep, actor: StatsActor, days: Annotated[int, Query(ge=1, le=366)] = 7) -> dict[str, Any]:
    return board.intake(session, actor, days)
