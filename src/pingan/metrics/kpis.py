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
from pingan.metrics import rollup
from pingan.metrics.models import MetricFact
from pingan.metrics.policies import LOWER_IS_BETTER, METRIC_IDS, MetricsPolicy
from pingan.orgs.roles import Role
from pingan.policy import registry
from pingan.timeutil import utcnow

GROUP_BYS = ("total", "department", "county", "category", "channel", "month")
NULL_KEY = "-"
TOTAL_KEY = "all"
CLOSED_STATES = (Status.CLOSED.value, Status.REVISITED.value)
VERIFY_ACTIONS = ("verify_pass", "verify_fail")
_NO_SEQ = 2_000_000_000  # "no later dispatch"


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
    # Where the event-based figures come from: "rollup" (metric_facts), "events" (the raw timeline), or
    # "auto": the rollup once it has been built (pingan.metrics.rollup), else the timeline.
    source: str = "auto"

    def from_rollup(self) -> bool:
        if self.source == "auto":
            return rollup.is_built(self.session)
        return self.source == "rollup"

    def restrict(self, q: Any, dept: Any) -> Any:
        """The caller's data scope: the role's case scope, and for a handler only its own department's units."""
        q = scoped(q, self.actor)
        if self.actor.role == Role.HANDLER:
            q = q.where(dept == self.actor.department_id)
        return q


def _dispatch_family(ctx: Ctx) -> Select[Any]:
    if ctx.from_rollup():
        return _dispatch_rollup(ctx)
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
            func.coalesce(next_seq, _NO_SEQ).label("next_seq"),
        )
        .select_from(a)
        .join(Case, Case.id == a.case_id)
        .where(a.action == "assign", a.at >= ctx.window.since, a.at < ctx.window.until),
        dept,
    ).subquery("d")
    o = aliased(CaseEvent, name="o")
    # The outcome of a dispatch: what its department did before the case was dispatched again.
    follows = and_(o.case_id == d.c.case_id, o.seq > d.c.seq, o.seq < d.c.next_seq)
    signed = exists().where(follows, o.action == "sign", o.data["on_time"].as_boolean() == true())
    returned = exists().where(follows, o.action == "return")
    one = literal(1, Integer)
    return select(
        d.c.case_id,
        d.c.key,
        one.label("response_rate_den"),
        func.max(case((signed, 1), else_=0)).label("response_rate_num"),
        one.label("accurate_dispatch_rate_den"),
        func.min(case((returned, 0), else_=1)).label("accurate_dispatch_rate_num"),
    ).group_by(d.c.case_id, d.c.key)


def _revisit_family(ctx: Ctx) -> Select[Any]:
    if ctx.from_rollup():
        return _revisit_rollup(ctx)
    e = CaseEvent
    key = _key(ctx.session, ctx.group_by, Case.department_id, e.at)
    rn = func.row_number().over(partition_by=(e.case_id, key), order_by=e.seq.desc())
    solved = e.data["solved"].as_boolean() == true()
    satisfied = e.data["satisfaction"].as_string().in_(ctx.pol.satisfied_levels)
    r = ctx.restrict(
        select(
            e.case_id.label("case_id"),
            key.label("key"),
            case((solved, 1), else_=0).label("solved"),
            case((satisfied, 1), else_=0).label("satisfied"),
            rn.label("rn"),
        )
        .join(Case, Case.id == e.case_id)
        .where(e.action == "revisit", e.at >= ctx.window.since, e.at < ctx.window.until),
        Case.department_id,
    ).subquery("r")
    return _latest_revisit(r)


def _closure_family(ctx: Ctx) -> Select[Any]:
    closed_state = and_(Case.status.in_(CLOSED_STATES), Case.closed_at.is_not(None))
    # A case falls due at its deadline, or when it was closed if that came first.
    due_at = case((and_(closed_state, Case.closed_at < Case.deadline_at), Case.closed_at), else_=Case.deadline_at)
    closed = and_(closed_state, Case.closed_at < ctx.window.until)
    horizon = min(ctx.window.until, utcnow())
    return ctx.restrict(
        select(
            Case.id.label("case_id"),
            _key(ctx.session, ctx.group_by, Case.department_id, due_at).label("key"),
            literal(1, Integer).label("closure_rate_den"),
            case((closed, 1), else_=0).label("closure_rate_num"),
            case((Case.status == Status.SUSPENDED.value, 0), else_=1).label("ontime_closure_rate_den"),
            case((and_(closed, Case.closed_at <= Case.deadline_at), 1), else_=0).label("ontime_closure_rate_num"),
        ).where(
            Case.deadline_at.is_not(None),
            Case.deadline_at >= ctx.window.since,  # implied by the next line; lets an index help
            due_at >= ctx.window.since,
            due_at < horizon,
        ),
        Case.department_id,
    )


def _rework_family(ctx: Ctx) -> Select[Any]:
    if ctx.from_rollup():
        return _rework_rollup(ctx)
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
        .where(e.action.in_(sorted(set(VERIFY_ACTIONS + rework))), e.at >= ctx.window.since, e.at < ctx.window.until),
        Case.department_id,
    ).subquery("v")
    return _rework_per_case(rows)


# --- the same unit queries over the rollup (pingan.metrics.rollup: one fact row per counted event) -------------


def _facts(ctx: Ctx, family: str) -> Any:
    f = MetricFact
    return (f.family == family, f.at >= ctx.window.since, f.at < ctx.window.until)


def _over_facts(ctx: Ctx, q: Select[Any], dept: Any, key_on_case: bool) -> Select[Any]:
    """Facts restricted to the caller's scope; joined to their cases only when the scope or the group key
    reads the case row (a city-wide figure by department or month needs nothing but the facts)."""
    wide = scoped(select(literal(1)), ctx.actor).whereclause is None
    if key_on_case or not wide or ctx.group_by in ("county", "category", "channel"):
        q = q.join_from(MetricFact, Case, Case.id == MetricFact.case_id)
    else:
        q = q.select_from(MetricFact)
    out: Select[Any] = ctx.restrict(q, dept)
    return out


def _dispatch_rollup(ctx: Ctx) -> Select[Any]:
    f = MetricFact
    d = _over_facts(
        ctx,
        select(
            f.case_id.label("case_id"),
            _key(ctx.session, ctx.group_by, f.department_id, f.at).label("key"),
            case((f.signed_on_time == true(), 1), else_=0).label("signed"),
            case((f.returned == true(), 0), else_=1).label("kept"),
        ).where(*_facts(ctx, rollup.DISPATCH)),
        f.department_id,
        key_on_case=False,
    ).subquery("d")
    one = literal(1, Integer)
    return select(
        d.c.case_id,
        d.c.key,
        one.label("response_rate_den"),
        func.max(d.c.signed).label("response_rate_num"),
        one.label("accurate_dispatch_rate_den"),
        func.min(d.c.kept).label("accurate_dispatch_rate_num"),
    ).group_by(d.c.case_id, d.c.key)


def _revisit_rollup(ctx: Ctx) -> Select[Any]:
    f = MetricFact
    key = _key(ctx.session, ctx.group_by, Case.department_id, f.at)
    r = _over_facts(
        ctx,
        select(
            f.case_id.label("case_id"),
            key.label("key"),
            case((f.solved == true(), 1), else_=0).label("solved"),
            case((f.satisfaction.in_(ctx.pol.satisfied_levels), 1), else_=0).label("satisfied"),
            func.row_number().over(partition_by=(f.case_id, key), order_by=f.seq.desc()).label("rn"),
        ).where(*_facts(ctx, rollup.REVISIT)),
        Case.department_id,
        key_on_case=ctx.group_by == "department",
    ).subquery("r")
    return _latest_revisit(r)


def _rework_per_case(rows: Any) -> Select[Any]:
    """One row per verified case and key: counted once, reworked if any of its verifications sent it back."""
    return (
        select(
            rows.c.case_id,
            rows.c.key,
            func.max(rows.c.den).label("rework_rate_den"),
            func.max(rows.c.num).label("rework_rate_num"),
        )
        .group_by(rows.c.case_id, rows.c.key)
        .having(func.max(rows.c.den) == 1)
    )


def _latest_revisit(r: Any) -> Select[Any]:
    """The latest revisit in the window decides (a reopened case is asked again): its solved and satisfied
    flags as numerators over one case each."""
    one = literal(1, Integer)
    return select(
        r.c.case_id,
        r.c.key,
        one.label("solved_rate_den"),
        r.c.solved.label("solved_rate_num"),
        one.label("satisfaction_rate_den"),
        r.c.satisfied.label("satisfaction_rate_num"),
    ).where(r.c.rn == 1)


def _rework_rollup(ctx: Ctx) -> Select[Any]:
    f = MetricFact
    rework = tuple(ctx.pol.rework_actions)
    rows = _over_facts(
        ctx,
        select(
            f.case_id.label("case_id"),
            _key(ctx.session, ctx.group_by, Case.department_id, f.at).label("key"),
            case((f.action.in_(VERIFY_ACTIONS), 1), else_=0).label("den"),
            case((f.action.in_(rework), 1), else_=0).label("num"),
        ).where(*_facts(ctx, rollup.VERIFY), f.action.in_(sorted(set(VERIFY_ACTIONS + rework)))),
        Case.department_id,
        key_on_case=ctx.group_by == "department",
    ).subquery("v")
    return _rework_per_case(rows)


# Metrics computed together from one unit query: rows (case_id, key, <metric>_den, <metric>_num …).
FAMILIES: dict[str, tuple[Callable[[Ctx], Select[Any]], tuple[str, ...]]] = {
    "dispatch": (_dispatch_family, ("response_rate", "accurate_dispatch_rate")),
    "revisit": (_revisit_family, ("solved_rate", "satisfaction_rate")),
    "closure": (_closure_family, ("closure_rate", "ontime_closure_rate")),
    "rework": (_rework_family, ("rework_rate",)),
}
FAMILY_OF = {m: f for f, (_, ms) in FAMILIES.items() for m in ms}


def units(ctx: Ctx, metric: str) -> Select[Any]:
    """The unit rows (case_id, key, den, num) of one metric."""
    build, _ = FAMILIES[FAMILY_OF[check_metric(metric)]]
    f = build(ctx).subquery("f")
    return select(f.c.case_id, f.c.key, f.c[f"{metric}_den"].label("den"), f.c[f"{metric}_num"].label("num"))


def _family_counts(ctx: Ctx, family: str, metrics: list[str]) -> dict[str, dict[str, tuple[int, int]]]:
    build, _ = FAMILIES[family]
    f = build(ctx).subquery("f")
    cols: list[Any] = [f.c.key]
    for m in metrics:
        den, num = f.c[f"{m}_den"], f.c[f"{m}_num"]
        cols += [func.sum(case((and_(den == 1, num == 1), 1), else_=0)), func.sum(den)]
    out: dict[str, dict[str, tuple[int, int]]] = {m: {} for m in metrics}
    for row in ctx.session.execute(select(*cols).group_by(f.c.key)).all():
        for i, m in enumerate(metrics):
            n, d = int(row[1 + 2 * i] or 0), int(row[2 + 2 * i] or 0)
            if d:
                out[m][str(row[0])] = (n, d)
    return out


def counts(ctx: Ctx, metric: str) -> dict[str, tuple[int, int]]:
    """{key: (numerator, denominator)} of one metric (groups with an empty denominator left out)."""
    return _family_counts(ctx, FAMILY_OF[check_metric(metric)], [metric])[metric]


def compute(ctx: Ctx, metrics: list[str] | None = None) -> dict[str, dict[str, tuple[int, int]]]:
    """{metric: {key: (numerator, denominator)}}; metrics of one family share one query."""
    wanted = [check_metric(m) for m in (metrics or METRIC_IDS)]
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for family, (_, members) in FAMILIES.items():
        ms = [m for m in members if m in wanted]
        if ms:
            out.update(_family_counts(ctx, family, ms))
    return {m: out[m] for m in wanted}


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
