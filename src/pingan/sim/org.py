"""The organisation every Pingan database starts with: real divisions, departments, and (for the demo)
one account per role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.geo.divisions import counties, load_divisions
from pingan.orgs import service as orgs
from pingan.orgs.models import Department, User
from pingan.orgs.roles import Role

DEMO_PASSWORD = "Pingan@2026demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    region_code: str = "430600"
    department_code: str | None = None
    channel: str | None = None


DEMO_USERS = [
    DemoUser("admin", "系统管理员", Role.ADMIN),
    DemoUser("zuoxi", "坐席·李敏", Role.OPERATOR),
    DemoUser("paiqian", "派遣员·王强", Role.DISPATCHER),
    DemoUser("chengguan", "市城管局·赵磊", Role.HANDLER, department_code="cg"),
    DemoUser("yylcg", "岳阳楼区城管局·陈静", Role.HANDLER, region_code="430602", department_code="cg_430602"),
    DemoUser("zhujian", "市住建局·周华", Role.HANDLER, department_code="zj"),
    DemoUser("wangge", "网格员·刘芳", Role.GRID_WORKER, region_code="430602"),
    DemoUser("duban", "督办员·孙伟", Role.SUPERVISOR),
    DemoUser("lingdao", "市领导·吴刚", Role.LEADER),
    DemoUser("yylq", "岳阳楼区指挥中心·郑洁", Role.DISPATCHER, region_code="430602"),
    DemoUser("api12345", "12345 平台接口", Role.CHANNEL, channel="hotline_12345"),
    DemoUser("api110", "110 平台接口", Role.CHANNEL, channel="police_110"),
    DemoUser("tiaojie", "调解员·何静", Role.MEDIATOR, region_code="430602"),
]


def seed_organisation(session: Session) -> dict[str, int]:
    """Divisions and departments (idempotent)."""
    regions = load_divisions(session)
    departments = orgs.seed_departments(session, counties(session))
    return {"regions": regions, "departments": departments}


def seed_demo_users(session: Session, password: str = DEMO_PASSWORD) -> list[User]:
    deps = {d.code: d.id for d in session.scalars(select(Department))}
    have = {u.username: u for u in session.scalars(select(User))}
    out = []
    for du in DEMO_USERS:
        user = have.get(du.username)
        if user is None:
            user = orgs.create_user(
                session,
                du.username,
                password,
                du.role,
                du.display_name,
                du.region_code,
                deps.get(du.department_code) if du.department_code else None,
                du.channel,
                must_change_password=False,
            )
        out.append(user)
    return out
