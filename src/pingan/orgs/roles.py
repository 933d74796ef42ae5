"""Roles of the closed loop (角色). Who may do what is in cases.lifecycle; who may see what in orgs.scope."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # 坐席: takes 12345 calls, registers, revisits
    DISPATCHER = "dispatcher"  # 派遣员: 立案, 派遣, 核查, 结案
    HANDLER = "handler"  # 部门处置人员: 签收, 退单, 处置, 反馈
    GRID_WORKER = "grid_worker"  # 网格员: reports, 即办, on-site 核查
    SUPERVISOR = "supervisor"  # 督办: urges, supervises, approves extensions
    LEADER = "leader"  # 领导: read-only dashboards
    ADMIN = "admin"  # 管理员: users, policy
    CHANNEL = "channel"  # a channel platform's API client (12345 / 110 system)
    SYSTEM = "system"  # the sweeper and the automatic dispatcher
    MEDIATOR = "mediator"  # 调解员: people's mediation (pingan.mediation)


ROLE_LABELS: dict[Role, str] = {
    Role.OPERATOR: "坐席",
    Role.DISPATCHER: "派遣员",
    Role.HANDLER: "部门处置人员",
    Role.GRID_WORKER: "网格员",
    Role.SUPERVISOR: "督办员",
    Role.LEADER: "领导",
    Role.ADMIN: "管理员",
    Role.CHANNEL: "渠道接口",
    Role.SYSTEM: "系统",
    Role.MEDIATOR: "调解员",
}

STAFF_ROLES = frozenset(Role) - {Role.SYSTEM}
