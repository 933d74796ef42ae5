"""The statistics pages read the KPIs from `pingan.metrics` (one definition of every figure, its formula and
its drill-down), never from a second calculation of their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.cases.actors import Actor
from pingan.cases.queries import department_names
from pingan.errors import Forbidden, Invalid
from pingan.geo.models import Region
from pingan.intake.adapters import CHANNEL_LABELS
from pingan.metrics import kpis as mk
from pingan.metrics.policies import METRIC_IDS
from pingan.orgs.roles import Role

GROUPS = ("department", "county", "category", "channel", "month")
PARTS = ("numerator", "denominator")
STATS_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.OPERATOR, Role.HANDLER)
METRICS: tuple[str, ...] = tuple(METRIC_IDS)


def check_role(actor: Actor) -> None:
    if actor.role not in STATS_ROLES:
        raise Forbidden("role_forbidden", "当前角色无权查看统计", f"role '{actor.role}' may not see statistics")


def window(since: datetime | None, until: datetime | None) -> mk.Window:
    return mk.Window.of(since, until)


def ctx(session: Session, actor: Actor, by: str, w: mk.Window) -> mk.Ctx:
    return mk.Ctx(session, actor, w, mk.check_group_by(by), mk.policy())


def definitions() -> dict[str, dict[str, Any]]:
    pol = mk.policy()
    return {m: mk.definition(pol, m) for m in METRICS}


def labels(session: Session, by: str, keys: list[str]) -> dict[str, str]:
    out: dict[str, str] = {mk.NULL_KEY: "未知"}
    if by == "department":
        out |= {str(k): v for k, v in department_names(session, {int(k) for k in keys if k.isdigit()}).items()}
    elif by == "county":
        out |= {
            str(c): str(n) for c, n in session.execute(select(Region.code, Region.name).where(Region.code.in_(keys)))
        }
    elif by == "channel":
        out |= {k: CHANNEL_LABELS.get(k, k) for k in keys}
    elif by == "total":
        out[mk.TOTAL_KEY] = "全部"
    return out


def table(session: Session, actor: Actor, by: str, w: mk.Window) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(total figures, rows of {key, label, figures}) for every metric."""
    check_role(actor)
    pol = mk.policy()
    total_data = mk.compute(ctx(session, actor, "total", w), list(METRICS))
    total = {m: mk.figure(pol, m, *total_data[m].get(mk.TOTAL_KEY, (0, 0))) for m in METRICS}
    data = total_data if by == "total" else mk.compute(ctx(session, actor, by, w), list(METRICS))
    keys = sorted({k for per in data.values() for k in per})
    names = labels(session, by, keys)
    rows = [
        {
            "key": key,
            "label": names.get(key, key),
            "figures": {m: mk.figure(pol, m, *data[m].get(key, (0, 0))) for m in METRICS},
        }
        for key in keys
    ]
    return total, rows


def drill(
    session: Session,
    actor: Actor,
    metric: str,
    part: str,
    by: str,
    group: str,
    w: mk.Window,
    page: int,
    page_size: int,
) -> tuple[int, list[int]]:
    check_role(actor)
    if part not in PARTS:
        raise Invalid("part_unknown", "part 须为 numerator 或 denominator", "part must be numerator or denominator")
    by = by or "total"
    group = group or (mk.TOTAL_KEY if by == "total" else mk.NULL_KEY)
    return mk.drill(ctx(session, actor, by, w), mk.check_metric(metric), part, group, page, page_size)
