"""The one transition table of the case lifecycle: (state, action, role) → new state.

The API, the UI, the sweeper, the demo simulator and the tests all go through `check`. Anything not
in the table is refused with a 409 that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pingan.errors import Conflict
from pingan.orgs.roles import Role


class Status(StrEnum):
    RECEIVED = "received"  # 受理 (待立案)
    REJECTED = "rejected"  # 不予立案
    MERGED = "merged"  # 并案
    TRANSFER_PENDING = "transfer_pending"  # 转办待对方确认 (首接负责 still ours)
    TRANSFERRED = "transferred"  # 已转出 (110 accepted)
    REGISTERED = "registered"  # 立案 (待派遣)
    ASSIGNED = "assigned"  # 已交办 (待签收)
    SIGNED = "signed"  # 已签收
    IN_PROGRESS = "in_progress"  # 处置中
    SUSPENDED = "suspended"  # 缓办/挂账
    FEEDBACK = "feedback"  # 已反馈 (待核查)
    VERIFIED = "verified"  # 核查通过 (待结案)
    CLOSED = "closed"  # 已结案 (待回访)
    REVISITED = "revisited"  # 已回访


STATUS_LABELS: dict[str, str] = {
    Status.RECEIVED: "待立案",
    Status.REJECTED: "不予立案",
    Status.MERGED: "已并案",
    Status.TRANSFER_PENDING: "转办待确认",
    Status.TRANSFERRED: "已转出",
    Status.REGISTERED: "待派遣",
    Status.ASSIGNED: "待签收",
    Status.SIGNED: "已签收",
    Status.IN_PROGRESS: "处置中",
    Status.SUSPENDED: "缓办",
    Status.FEEDBACK: "待核查",
    Status.VERIFIED: "待结案",
    Status.CLOSED: "待回访",
    Status.REVISITED: "已回访",
}

TERMINAL = frozenset({Status.REJECTED, Status.MERGED, Status.TRANSFERRED, Status.REVISITED})
# States in which a department holds the case and its deadline runs.
WITH_DEPARTMENT = frozenset({Status.ASSIGNED, Status.SIGNED, Status.IN_PROGRESS})
OPEN = frozenset(Status) - TERMINAL - {Status.CLOSED}

S = Status
R = Role
_DESK = frozenset({R.OPERATOR, R.DISPATCHER, R.ADMIN})
_DISPATCH = frozenset({R.DISPATCHER, R.ADMIN, R.SYSTEM})
_HANDLE = frozenset({R.HANDLER})
_APPROVE = frozenset({R.DISPATCHER, R.SUPERVISOR, R.ADMIN})
_ANY_OPEN = frozenset(OPEN)


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset[Status]
    target: Status | None  # None: the status does not change (urge, comment, requests …)
    roles: frozenset[Role]


def _t(
    action: str,
    label: str,
    sources: set[Status] | frozenset[Status],
    target: Status | None,
    roles: set[Role] | frozenset[Role],
) -> Transition:
    return Transition(action, label, frozenset(sources), target, frozenset(roles))


TABLE: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("register", "立案", {S.RECEIVED}, S.REGISTERED, _DESK | {R.SYSTEM}),
        _t("reject", "不予立案", {S.RECEIVED}, S.REJECTED, _DESK),
        _t("merge", "并案", {S.RECEIVED, S.REGISTERED}, S.MERGED, _DESK),
        _t("transfer_110", "转110", {S.RECEIVED, S.REGISTERED}, S.TRANSFER_PENDING, _DESK),
        _t("confirm_transfer", "对方确认接收", {S.TRANSFER_PENDING}, S.TRANSFERRED, _DESK | {R.CHANNEL}),
        _t("refuse_transfer", "对方不予接收(首接负责)", {S.TRANSFER_PENDING}, S.RECEIVED, _DESK | {R.CHANNEL}),
        _t("handle_on_spot", "即办", {S.RECEIVED}, S.CLOSED, {R.GRID_WORKER}),
        _t("assign", "派遣", {S.REGISTERED}, S.ASSIGNED, _DISPATCH),
        _t("sign", "签收", {S.ASSIGNED}, S.SIGNED, _HANDLE),
        _t("return", "退单", {S.ASSIGNED, S.SIGNED}, S.REGISTERED, _HANDLE),
        _t("start", "开始处置", {S.SIGNED}, S.IN_PROGRESS, _HANDLE),
        _t("feedback", "处置反馈", {S.SIGNED, S.IN_PROGRESS}, S.FEEDBACK, _HANDLE),
        _t("co_feedback", "协办反馈", {S.ASSIGNED, S.SIGNED, S.IN_PROGRESS}, None, _HANDLE),
        _t("verify_pass", "核查通过", {S.FEEDBACK}, S.VERIFIED, _APPROVE | {R.GRID_WORKER}),
        _t("verify_fail", "核查不通过(返工)", {S.FEEDBACK}, S.IN_PROGRESS, _APPROVE | {R.GRID_WORKER}),
        _t("close", "结案", {S.VERIFIED}, S.CLOSED, {R.DISPATCHER, R.ADMIN}),
        # The resident channel (RESIDENT_CHANNEL) rates online through the same transition (pingan.cases.rating).
        _t("revisit", "回访", {S.CLOSED}, S.REVISITED, {R.OPERATOR, R.DISPATCHER, R.ADMIN, R.CHANNEL}),
        _t("reopen", "重新办理", {S.CLOSED, S.REVISITED}, S.IN_PROGRESS, {R.SUPERVISOR, R.DISPATCHER, R.SYSTEM}),
        _t("request_extension", "延期申请", {S.SIGNED, S.IN_PROGRESS}, None, _HANDLE),
        _t("approve_extension", "批准延期", {S.SIGNED, S.IN_PROGRESS}, None, _APPROVE),
        _t("deny_extension", "驳回延期", {S.SIGNED, S.IN_PROGRESS}, None, _APPROVE),
        _t("request_suspension", "缓办申请", {S.SIGNED, S.IN_PROGRESS}, None, _HANDLE),
        _t("approve_suspension", "批准缓办", {S.SIGNED, S.IN_PROGRESS}, S.SUSPENDED, _APPROVE),
        _t("deny_suspension", "驳回缓办", {S.SIGNED, S.IN_PROGRESS}, None, _APPROVE),
        _t("resume", "恢复办理", {S.SUSPENDED}, S.IN_PROGRESS, _APPROVE),
        _t("urge", "催办", _ANY_OPEN - {S.RECEIVED}, None, {R.DISPATCHER, R.SUPERVISOR, R.SYSTEM}),
        _t("supervise", "督办", _ANY_OPEN - {S.RECEIVED}, None, {R.SUPERVISOR, R.SYSTEM}),
        _t("escalate", "升级", _ANY_OPEN - {S.RECEIVED}, None, {R.SUPERVISOR, R.SYSTEM}),
        _t(
            "comment",
            "备注",
            frozenset(Status),
            None,
            {R.OPERATOR, R.DISPATCHER, R.HANDLER, R.GRID_WORKER, R.SUPERVISOR, R.ADMIN},
        ),
    ]
}

# The channel of residents rating a result online; the only channel that may take 回访 (service._check_scope).
RESIDENT_CHANNEL = "resident"

# Events that are not actions a user picks: the first event of every case.
INTAKE_ACTION = "intake"


def get(action: str) -> Transition:
    t = TABLE.get(action)
    if t is None:
        raise Conflict(
            "unknown_action", f"未知的操作：{action}", f"unknown action: {action}", status=404, known=sorted(TABLE)
        )
    return t


def check(status: str, action: str, role: str) -> Transition:
    """The transition for (status, action, role), or a clear refusal."""
    t = get(action)
    if role not in t.roles:
        allowed = "、".join(sorted(str(r) for r in t.roles))
        # The contract: every refused transition is a 409 with the reason.
        raise Conflict(
            "role_not_allowed",
            f"角色“{role}”无权执行“{t.label}”（允许：{allowed}）",
            f"role '{role}' may not '{action}' (allowed: {', '.join(sorted(t.roles))})",
            action=action,
        )
    if status not in t.sources:
        label = STATUS_LABELS.get(status, status)
        raise Conflict(
            "invalid_transition",
            f"案件当前状态为“{label}”，不能执行“{t.label}”",
            f"case is '{status}'; '{action}' is allowed only from {sorted(s.value for s in t.sources)}",
            action=action,
            status_now=status,
        )
    return t


def available(status: str, role: str) -> list[Transition]:
    return [t for t in TABLE.values() if status in t.sources and role in t.roles]
