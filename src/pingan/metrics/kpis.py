"""KPI figures (考核指标) computed from the case timeline, each with what it divides by what.

Every figure is built from one *unit query* per metric: rows ``(case_id, key, den, num)``, one row per case and
group key, where ``den``/``num`` say whether the case counts in the denominator / numerator. The figure is
``SUM(num) / SUM(den)`` grouped by key, and the drill-down lists the case ids of the same rows, so the numbers
and the lists can never disagree. All of it is SQL (GROUP BY, correlated EXISTS, window functions) that runs the
same on SQLite and PostgreSQL; nothing loops over cases in Python.

Counting rules (docs/metrics.md has the long version):

- dispatch figures (响应率, 准确派遣率): a unit is a case dispatched (``assign`` event) in the window, keyed by the
  department of that dispatch; the outcome of a dispatch is the ``sign``/``return`` that follows it before the
  next dispatch of the same case.
- revisit figures (解决率, 满意率): a unit is a case revisited in the window; the latest revisit in the window
  decides.
- closure figures (结案率, 按期结案率): a unit is a case that fell due in the window: its deadline, or its
  closing if that came first; suspended (缓办) cases leave the on-time denominator.
- 返工率: a unit is a case verified (``verify_pass``/``verify_fail``) in the window; it is in the numerator when a
  rework action of the policy happened in the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case, CaseEvent
from pingan.cases.queries import scoped
from pingan.db import is_sqlite
from pingan.errors import Invalid
from pingan.metrics.policies import LOWER_IS_BETTER, METRIC_IDS, MetricsPolicy
from pingan.orgs.roles import Role
from pingan.policy import registry
from pingan.timeutil import utcnow

GROUP_BYS = ("total", "department", "county", "category", "channel", "month")
NULL_KEY = "-"
TOTAL_KEY = "all"
CLOSED_STATES = (Status.CLOSED.value, Status.REVISITED.value)
VERIFY_ACTIONS = ("verify_pass", "verify_fail")


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None, default_days: int = 30) -> Window:
        from pingan.timeutil import as_utc

        until = as_utc(until) if until else utcnow()
        since = as_utc(since) if since else until - timedelta(days=default_days)
        if since >= until:
            raise Invalid("window_empty", "开始时间须早于结束时间", "since must be before until", field="since")
        if until - since > timedelta(days=3700):
            raise Invalid(
                "window_too_long", "统计区间不能超过十年", "the window may not exceed ten years", field="since"
            )
        return cls(since, until)


def policy() -> MetricsPolicy:
    return registry.load("metrics", MetricsPolicy)


def check_group_by(group_by: str) -> str:
    if group_by not in GROUP_BYS:
        raise Invalid(
            "group_by_unknown",
            f"分组方式须为：{'、'.join(GROUP_BYS)}",
            f"group_by must be one of {GROUP_BYS}",
            field="group_by",
        )
    return group_by


def check_metric(metric: str) -> str:
    if metric not in METRIC_IDS:
        raise Invalid(
            "metric_unknown",
            f"未知的指标：{metric}",
            f"unknown metric: {metric}",
            field="metric",
            known=list(METRIC_IDS),
        )
    return metric


# --- keys -------------------------------------------------------------------------------------------------


def _cst(session: Session, col: Any, fmt_sqlite: str, fmt_pg: str) -> ColumnElement[str]:
    """Format a stored (naive UTC) timestamp in China Standard Time."""
    if is_sqlite(session):
        return func.strftime(fmt_sqlite, col, "+8 hours")
    return func.to_char(col + literal_column("interval '8 hours'"), fmt_pg)


def month_of(session: Session, col: Any) -> ColumnElement[str]:
    return _cst(session, col, "%Y-%m", "YYYY-MM")


def day_of(session: Session, col: Any) -> ColumnElement[str]:
    return _cst(session, col, "%Y-%m-%d", "YYYY-MM-DD")


def _key(session: Session, group_by: str, dept: Any, at: Any) -> ColumnElement[str]:
    expr: Any
    if group_by == "total":
        return literal(TOTAL_KEY, String)
    if group_by == "department":
        expr = cast(dept, String)
    elif group_by == "county":
        expr = Case.county_code
    elif group_by == "category":
        expr = Case.category
    elif group_by == "channel":
        expr = Case.channel
    else:
        expr = month_of(session, at)
    return func.coalesce(expr, NULL_KEY)


# --- unit queries -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ctx:
    session: Session
    actor: Actor
    window: Window
    group_by: str
    pol: MetricsPolicy

    def restrict(self, q: Any, dept: Any) -> Any:
        """The caller's data scope: the role's case scope, and for a handler only its own department's units."""
        q = scoped(q, self.actor)
        if self.actor.role == Role.HANDLER:
            q = q.where(dept == self.actor.department_id)
        return q


def _dispatch_units(ctx: Ctx, outcome: str) -> Select[Any]:
    a = aliased(CaseEvent, name="a")
    a2 = aliased(CaseEvent, name="a2")
    dept = a.data["department_id"].as_integer()
    next_seq = (
        select(func.min(a2.seq))
        .where(a2.case_id == a.case_id, a2.action == "assign", a2.seq > a.seq)
        .correlate(a)
        .scalar_subquery()
    )
    d = ctx.restrict(
        select(
            a.case_id.label("case_id"),
            a.seq.label("seq"),
            _key(ctx.session, ctx.group_by, dept, a.at).label("key"),
            next_seq.label("next_seq"),
        )
        .select_from(a)
        .join(Case, Case.id == a.case_id)
        .where(a.action == "assign", a.at >= ctx.window.since, a.at < ctx.window.until),
        dept,
    ).subquery("d")
    o = aliased(CaseEvent, name="o")
    follows = and_(o.case_id == d.c.case_id, o.seq > d.c.seq, or_(d.c.next_seq.is_(None), o.seq < d.c.next_seq))
    if outcome == "signed":
        hit = exists().where(follows, o.action == "sign", o.data["on_time"].as_boolean() == true())
        num: Any = func.max(case((hit, 1), else_=0))
    else:  # not returned
        hit = exists().where(follows, o.action == "return")
        num = func.min(case((hit, 0), else_=1))
    return select(
        d.c.case_id, d.c.key, literal(1, Integer).label("den"), num.label("num")
    ).group_by(d.c.case_id, d.c.key)


def _revisit_units(ctx: Ctx, flag: ColumnElement[bool]) -> Select[Any]:
    e = CaseEvent
    key = _key(ctx.session, ctx.group_by, Case.department_id, e.at)
    rn = func.row_number().over(partition_by=(e.case_id, key), order_by=e.seq.desc())
    r = ctx.restrict(
        select(
            e.case_id.label("case_id"),
            key.label("key"),
            case((flag, 1), else_=0).label("num"),
            rn.label("rn"),
        )
        .join(Case, Case.id == e.case_id)
        .where(e.action == "revisit", e.at >= ctx.window.since, e.at < ctx.window.until),
        Case.department_id,
    ).subquery("r")
    return select(r.c.case_id, r.c.key, literal(1, Integer).label("den"), r.c.num).where(r.c.rn == 1)


def _closure_units(ctx: Ctx, on_time: bool) -> Select[Any]:
    closed_state = and_(Case.status.in_(CLOSED_STATES), Case.closed_at.is_not(None))
    # A case falls due at its deadline, or when it was closed if that came first.
    due_at = case((and_(closed_state, Case.closed_at < Case.deadline_at), Case.closed_at), else_=Case.deadline_at)
    closed = and_(closed_state, Case.closed_at < ctx.window.until)
    horizon = min(ctx.window.until, utcnow())
    if on_time:
        den: ColumnElement[Any] = case((Case.status == Status.SUSPENDED.value, 0), else_=1)
        num = case((and_(closed, Case.closed_at <= Case.deadline_at), 1), else_=0)
    else:
        den = literal(1, Integer)
        num = case((closed, 1), else_=0)
    return ctx.restrict(
        select(
            Case.id.label("case_id"),
            _key(ctx.session, ctx.group_by, Case.department_id, due_at).label("key"),
            den.label("den"),
            num.label("num"),
        ).where(Case.deadline_at.is_not(None), due_at >= ctx.window.since, due_at < horizon),
        Case.department_id,
    )


def _rework_units(ctx: Ctx) -> Select[Any]:
    e = CaseEvent
    rework = tuple(ctx.pol.rework_actions)
    rows = ctx.restrict(
        select(
            e.case_id.label("case_id"),
            _key(ctx.session, ctx.group_by, Case.department_id, e.at).label("key"),
            case((e.action.in_(VERIFY_ACTIONS), 1), else_=0).label("den"),
            case((e.action.in_(rework), 1), else_=0).label("num"),
        )
        .join(Case, Case.id == e.case_id)
        .where(e.action.in_(VERIFY_ACTIONS + rework), e.at >= ctx.window.since, e.at < ctx.window.until),
        Case.department_id,
    ).subquery("v")
    return (
        select(rows.c.case_id, rows.c.key, func.max(rows.c.den).label("den"), func.max(rows.c.num).label("num"))
        .group_by(rows.c.case_id, rows.c.key)
        .having(func.max(rows.c.den) == 1)
    )


def _satisfied(ctx: Ctx) -> ColumnElement[bool]:
    return CaseEvent.data["satisfaction"].as_string().in_(ctx.pol.satisfied_levels)


def _solved(ctx: Ctx) -> ColumnElement[bool]:
    return CaseEvent.data["solved"].as_boolean() == true()


UNITS: dict[str, Callable[[Ctx], Select[Any]]] = {
    "response_rate": lambda c: _dispatch_units(c, "signed"),
    "accurate_dispatch_rate": lambda c: _dispatch_units(c, "not_returned"),
    "solved_rate": lambda c: _revisit_units(c, _solved(c)),
    "satisfaction_rate": lambda c: _revisit_units(c, _satisfied(c)),
    "closure_rate": lambda c: _closure_units(c, on_time=False),
    "ontime_closure_rate": lambda c: _closure_units(c, on_time=True),
    "rework_rate": _rework_units,
}


def units(ctx: Ctx, metric: str) -> Select[Any]:
    return UNITS[check_metric(metric)](ctx)


# --- figures ------------------------------------------------------------------------------------------------


def counts(ctx: Ctx, metric: str) -> dict[str, tuple[int, int]]:
    """{key: (numerator, denominator)} of one metric."""
    u = units(ctx, metric).subquery("u")
    num = func.sum(case((and_(u.c.den == 1, u.c.num == 1), 1), else_=0))
    rows = ctx.session.execute(select(u.c.key, num, func.sum(u.c.den)).group_by(u.c.key)).all()
    return {str(k): (int(n or 0), int(d or 0)) for k, n, d in rows}


def drill(ctx: Ctx, metric: str, part: str, group: str, page: int, page_size: int) -> tuple[int, list[int]]:
    """(total, case ids of one page) of a figure's numerator or denominator in one group."""
    u = units(ctx, metric).subquery("u")
    cond = u.c.den == 1 if part == "denominator" else and_(u.c.den == 1, u.c.num == 1)
    q = select(u.c.case_id).where(cond, u.c.key == group)
    total = ctx.session.scalar(select(func.count()).select_from(q.subquery())) or 0
    ids = ctx.session.scalars(q.order_by(u.c.case_id).offset((page - 1) * page_size).limit(page_size)).all()
    return int(total), [int(i) for i in ids]


def value_of(n: int, d: int, decimals: int) -> float | None:
    return None if d == 0 else round(100.0 * n / d, decimals)


def levels_text(pol: MetricsPolicy) -> tuple[str, str]:
    return "+".join(pol.satisfied_levels), " + ".join(pol.satisfied_levels)


def definition(pol: MetricsPolicy, metric: str) -> dict[str, Any]:
    t = pol.metrics[metric]
    zh_levels, en_levels = levels_text(pol)
    num = t.numerator.replace("{levels}", zh_levels)
    num_en = t.numerator_en.replace("{levels_en}", en_levels)
    return {
        "metric": metric,
        "label": t.label,
        "label_en": t.label_en,
        "numerator": num,
        "numerator_en": num_en,
        "denominator": t.denominator,
        "denominator_en": t.denominator_en,
        "formula": f"{t.label} = {num} ÷ {t.denominator} × 100%",
        "formula_en": f"{t.label_en} = ({num_en}) / ({t.denominator_en}) × 100%",
        "lower_is_better": metric in LOWER_IS_BETTER,
    }


def figure(pol: MetricsPolicy, metric: str, n: int, d: int) -> dict[str, Any]:
    t = pol.metrics[metric]
    v = value_of(n, d, pol.decimals)
    shown = "—" if v is None else f"{v:.{pol.decimals}f}%"
    return {
        "metric": metric,
        "label": t.label,
        "label_en": t.label_en,
        "numerator": n,
        "denominator": d,
        "value": v,
        "band": pol.band_of(100 - v if v is not None and metric in LOWER_IS_BETTER else v),
        "formula": f"{t.label} = {n} / {d} = {shown}",
        "formula_en": f"{t.label_en} = {n} / {d} = {shown}",
    }


def composite(pol: MetricsPolicy, figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    parts: list[tuple[str, float, float]] = []
    for m, w in pol.weights.items():
        f = figures.get(m)
        if f is None or f["value"] is None or w == 0:
            continue
        v = float(f["value"])
        parts.append((m, w, 100 - v if m in LOWER_IS_BETTER else v))
    wsum = sum(w for _, w, _ in parts)
    score = round(sum(w * v for _, w, v in parts) / wsum, pol.decimals) if wsum else None
    terms = " + ".join(
        f"{w:g}×{'(100−' if m in LOWER_IS_BETTER else ''}{pol.metrics[m].label}{')' if m in LOWER_IS_BETTER else ''}"
        for m, w, _ in parts
    )
    terms_en = " + ".join(
        f"{w:g}×{'(100−' if m in LOWER_IS_BETTER else ''}{pol.metrics[m].label_en}{')' if m in LOWER_IS_BETTER else ''}"
        for m, w, _ in parts
    )
    return {
        "value": score,
        "band": pol.band_of(score),
        "formula": f"综合得分 = ({terms}) ÷ {wsum:g}" if parts else "综合得分：无可计算的指标",
        "formula_en": f"composite = ({terms_en}) / {wsum:g}" if parts else "composite: no figure has a denominator",
    }


def compute(ctx: Ctx, metrics: list[str] | None = None) -> dict[str, dict[str, tuple[int, int]]]:
    """{metric: {key: (numerator, denominator)}} for the requested metrics."""
    return {m: counts(ctx, m) for m in (metrics or list(METRIC_IDS))}
