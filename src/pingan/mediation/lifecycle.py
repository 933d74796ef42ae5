"""The transition tables of disputes (人民调解法 2011) and petitions (信访工作条例): (state, action, role) → state.

Anything not in a table is refused with a 409 that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pingan.errors import Conflict
from pingan.orgs.roles import Role


class DStatus(StrEnum):
    REGISTERED = "registered"  # 登记
    REFUSED = "refused"  # 当事人拒绝调解 (不能调解)
    ACCEPTED = "accepted"  # 受理
    MEDIATING = "mediating"  # 调解中 (at least one session)
    AGREED = "agreed"  # 达成协议 (待签署)
    PERFORMING = "performing"  # 履行中 (协议已签署)
    PERFORMED = "performed"  # 履行完毕 (待回访)
    REVISITED = "revisited"  # 已回访 (待结案)
    CLOSED = "closed"  # 结案
    TERMINATED = "terminated"  # 调解终止 (告知其他途径)


D_LABELS: dict[str, str] = {
    DStatus.REGISTERED: "已登记",
    DStatus.REFUSED: "拒绝调解",
    DStatus.ACCEPTED: "已受理",
    DStatus.MEDIATING: "调解中",
    DStatus.AGREED: "已达成协议",
    DStatus.PERFORMING: "履行中",
    DStatus.PERFORMED: "履行完毕",
    DStatus.REVISITED: "已回访",
    DStatus.CLOSED: "已结案",
    DStatus.TERMINATED: "调解终止",
}

D_TERMINAL = frozenset({DStatus.REFUSED, DStatus.CLOSED, DStatus.TERMINATED})
D_OPEN = frozenset(DStatus) - D_TERMINAL
# Still being mediated: the one-month limit runs.
D_IN_MEDIATION = frozenset({DStatus.REGISTERED, DStatus.ACCEPTED, DStatus.MEDIATING})
# An agreement was reached (whatever happened after).
D_AGREED = frozenset({DStatus.AGREED, DStatus.PERFORMING, DStatus.PERFORMED, DStatus.REVISITED, DStatus.CLOSED})
D_SIGNED = frozenset({DStatus.PERFORMING, DStatus.PERFORMED, DStatus.REVISITED, DStatus.CLOSED})


class PStatus(StrEnum):
    REGISTERED = "registered"  # 登记
    NOT_ACCEPTED = "not_accepted"  # 不予受理
    ACCEPTED = "accepted"  # 受理 (办理中)
    REPLIED = "replied"  # 已出具处理意见
    CLOSED = "closed"  # 办结


P_LABELS: dict[str, str] = {
    PStatus.REGISTERED: "已登记",
    PStatus.NOT_ACCEPTED: "不予受理",
    PStatus.ACCEPTED: "办理中",
    PStatus.REPLIED: "已答复",
    PStatus.CLOSED: "已办结",
}
P_TERMINAL = frozenset({PStatus.NOT_ACCEPTED, PStatus.CLOSED})
P_OPEN = frozenset(PStatus) - P_TERMINAL

R = Role
_MED = frozenset({R.MEDIATOR, R.DISPATCHER, R.ADMIN})
_DESK = frozenset({R.OPERATOR, R.DISPATCHER, R.ADMIN})
_ALL_STAFF = frozenset({R.OPERATOR, R.DISPATCHER, R.GRID_WORKER, R.SUPERVISOR, R.MEDIATOR, R.ADMIN})
# Who may register a dispute (grid 排查, desk walk-in, mediation centers for court referrals).
REGISTER_ROLES = frozenset({R.OPERATOR, R.DISPATCHER, R.GRID_WORKER, R.MEDIATOR, R.ADMIN, R.SYSTEM})
PETITION_DESK = frozenset({R.OPERATOR, R.DISPATCHER, R.ADMIN, R.SYSTEM})


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset[str]
    target: str | None
    roles: frozenset[Role]


def _t(action: str, label: str, sources: object, target: str | None, roles: object) -> Transition:
    return Transition(action, label, frozenset(sources), target, frozenset(roles))  # type: ignore[call-overload]


D = DStatus
DISPUTE_TABLE: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("accept", "受理", {D.REGISTERED}, D.ACCEPTED, _MED),
        _t("refuse", "当事人拒绝调解", {D.REGISTERED}, D.REFUSED, _MED),
        _t("assign_mediator", "指派调解员", {D.REGISTERED, D.ACCEPTED, D.MEDIATING}, None, _MED),
        _t("hold_session", "调解", {D.ACCEPTED, D.MEDIATING}, D.MEDIATING, _MED),
        _t("assess_risk", "风险评估", D_OPEN, None, _MED | {R.GRID_WORKER}),
        _t("start_cooling_off", "进入冷静期", {D.ACCEPTED, D.MEDIATING}, None, _MED),
        _t("reach_agreement", "达成协议", {D.MEDIATING}, D.AGREED, _MED),
        _t("sign", "签署协议", {D.AGREED}, D.PERFORMING, _MED),
        _t("record_performance", "履行情况", {D.PERFORMING}, None, _MED | {R.GRID_WORKER}),
        _t("complete_performance", "履行完毕", {D.PERFORMING}, D.PERFORMED, _MED),
        _t("revisit", "回访", {D.PERFORMING, D.PERFORMED}, None, _MED | {R.OPERATOR, R.GRID_WORKER}),
        _t("close", "结案", {D.REVISITED}, D.CLOSED, _MED),
        _t("terminate", "调解终止", {D.ACCEPTED, D.MEDIATING, D.AGREED}, D.TERMINATED, _MED),
        _t("apply_judicial", "申请司法确认", D_SIGNED, None, _MED),
        _t("judicial_result", "司法确认结果", D_SIGNED, None, _MED),
        _t(
            "record_incident", "记录激化", D_OPEN | {D.CLOSED, D.TERMINATED}, None, _MED | {R.SUPERVISOR, R.GRID_WORKER}
        ),
        _t("comment", "备注", frozenset(DStatus), None, _ALL_STAFF),
    ]
}

P = PStatus
PETITION_TABLE: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("accept", "受理", {P.REGISTERED}, P.ACCEPTED, PETITION_DESK),
        _t("not_accept", "不予受理", {P.REGISTERED}, P.NOT_ACCEPTED, PETITION_DESK),
        _t("reply", "出具处理意见", {P.ACCEPTED}, P.REPLIED, PETITION_DESK | {R.HANDLER, R.MEDIATOR}),
        _t("close", "办结", {P.REPLIED}, P.CLOSED, PETITION_DESK),
        _t("mark_backlog", "列为积案", P_OPEN, None, {R.DISPATCHER, R.SUPERVISOR, R.ADMIN, R.SYSTEM}),
        _t("to_dispute", "转矛盾纠纷调解", {P.REGISTERED, P.ACCEPTED}, None, PETITION_DESK | {R.MEDIATOR}),
        _t("comment", "备注", frozenset(PStatus), None, _ALL_STAFF | {R.HANDLER}),
    ]
}


def check(table: dict[str, Transition], labels: dict[str, str], status: str, action: str, role: str) -> Transition:
    """The transition for (status, action, role), or a clear refusal."""
    t = table.get(action)
    if t is None:
        raise Conflict(
            "unknown_action", f"未知的操作：{action}", f"unknown action: {action}", status=404, known=sorted(table)
        )
    if role not in t.roles:
        allowed = "、".join(sorted(str(r) for r in t.roles))
        raise Conflict(
            "role_not_allowed",
            f"角色“{role}”无权执行“{t.label}”（允许：{allowed}）",
            f"role '{role}' may not '{action}' (allowed: {', '.join(sorted(t.roles))})",
            action=action,
        )
    if status not in t.sources:
        raise Conflict(
            "invalid_transition",
            f"当前状态为“{labels.get(status, status)}”，不能执行“{t.label}”",
            f"the record is '{status}'; '{action}' is allowed only from {sorted(str(s) for s in t.sources)}",
            action=action,
            status_now=status,
        )
    return t


def available(table: dict[str, Transition], status: str, role: str) -> list[Transition]:
    return [t for t in table.values() if status in t.sources and role in t.roles]
