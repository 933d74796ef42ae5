"""A small known scenario built through the case service (open_case + act), with backdated times.

September 2026 (no holiday before the 25th). D1 = 岳阳楼区城市管理局 (cg_430602), D2 = 市住建局 (zj).

c1  岳阳楼区  D1 signed on time → feedback → verify_pass → closed on time → revisit 满意, solved
c2  岳阳楼区  urgent; D1 signed late → feedback → verify_fail (返工) → feedback → verify_pass → closed late
             → revisit 基本满意, not solved
c3  岳阳楼区  D2 returned (退单) unsigned → D1 signed on time → still open (deadline passes in September)
c4  华容县    D2 signed on time → … → closed on time → revisit 不满意, not solved (reopens: new deadline in October)
c5  岳阳楼区  D1 signed on time → 缓办 approved (suspended)
c6  岳阳楼区  received only (待立案)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.schemas import ActionInput
from pingan.geo.locate import locate
from pingan.orgs.models import Department, User
from pingan.orgs.roles import Role
from pingan.timeutil import CST

T0 = datetime(2026, 9, 7, 9, 0, tzinfo=CST)  # a Monday
SINCE = datetime(2026, 9, 1, tzinfo=CST)
UNTIL = datetime(2026, 10, 1, tzinfo=CST)

YYL = "岳阳楼区五里牌街道"
HR = "华容县章华镇"
LAMP = "市政设施"  # the category of c1–c3; c4–c6 have none


@dataclass
class World:
    d1: int
    d2: int
    ids: dict[str, int]


def _user_actor(session: Session, username: str) -> Actor:
    u = session.scalars(select(User).where(User.username == username)).one()
    return Actor(u.id, u.display_name, Role(u.role), u.department_id, u.region_code, u.channel)


def _dep(session: Session, code: str) -> int:
    return session.scalars(select(Department.id).where(Department.code == code)).one()


def new_case(
    session: Session,
    no: str,
    address: str,
    at: datetime,
    urgency: str = "normal",
    channel: str = "hotline_12345",
    category: str | None = None,
) -> int:
    """Open a case with its 受理 event through the case service, located like the pipeline does.

    Routing is left out on purpose: whether the classifier would auto-dispatch a case is not what these tests
    are about, and an automatic dispatch would add events the scenario does not plan.
    """
    loc = locate(session, None, None, address)
    case = Case(
        channel=channel,
        external_id=no,
        case_type="投诉",
        urgency=urgency,
        title=f"{address}路灯不亮 {no}",
        content=f"{address}某小区门口路灯不亮，请尽快维修（{no}）",
        address=address,
        region_code=loc.grid_code or loc.region_code,
        county_code=loc.county_code,
        town_code=loc.town_code,
        village_code=loc.village_code,
        grid_code=loc.grid_code,
        locate_level=loc.level,
        category=category,
        received_at=at,
        owner_platform="12345",
        extra={},
        departments=[],
    )
    case, created = service.open_case(session, case, _user_actor(session, "zuoxi"), at, {"channel": channel})
    assert created and case.county_code == ("430602" if address == YYL else "430623"), case.county_code
    return case.id


def build(session: Session) -> World:
    disp = _user_actor(session, "paiqian")
    op = _user_actor(session, "zuoxi")
    d1, d2 = _dep(session, "cg_430602"), _dep(session, "zj")
    h1 = Actor(None, "岳阳楼区城管局·处置员", Role.HANDLER, d1)
    h2 = Actor(None, "市住建局·处置员", Role.HANDLER, d2)
    h = timedelta(hours=1)
    d = timedelta(days=1)

    def act(cid: int, action: str, actor: Actor, at: datetime, **kw: object) -> None:
        service.act(session, cid, action, actor, ActionInput(**kw), at)  # type: ignore[arg-type]

    def through_close(cid: int, handler: Actor, start: datetime, close_at: datetime) -> None:
        act(cid, "feedback", handler, start, result="已修复")
        act(cid, "verify_pass", disp, start + h)
        act(cid, "close", disp, close_at)

    ids: dict[str, int] = {}
    c1 = ids["c1"] = new_case(session, "M-1", YYL, T0, category=LAMP)
    act(c1, "register", disp, T0 + 0.1 * h)
    act(c1, "assign", disp, T0 + 0.2 * h, department_id=d1)
    act(c1, "sign", h1, T0 + 0.5 * h)
    through_close(c1, h1, T0 + d, T0 + d + 2 * h)
    act(c1, "revisit", op, T0 + 2 * d, satisfaction="满意", solved=True)

    c2 = ids["c2"] = new_case(session, "M-2", YYL, T0, urgency="urgent", category=LAMP)
    act(c2, "register", disp, T0 + 0.1 * h)
    act(c2, "assign", disp, T0 + 0.2 * h, department_id=d1)
    act(c2, "sign", h1, T0 + d)  # the sign-in limit is 2 working hours
    act(c2, "feedback", h1, T0 + d + h, result="已修复")
    act(c2, "verify_fail", disp, T0 + d + 2 * h, reason="现场仍不亮")
    through_close(c2, h1, T0 + 2 * d, T0 + 3 * d)  # urgent: 1 working day → late
    act(c2, "revisit", op, T0 + 4 * d, satisfaction="基本满意", solved=False)

    c3 = ids["c3"] = new_case(session, "M-3", YYL, T0, category=LAMP)
    act(c3, "register", disp, T0 + 0.1 * h)
    act(c3, "assign", disp, T0 + 0.2 * h, department_id=d2)
    act(c3, "return", h2, T0 + h, reason="不属于本部门职责")
    act(c3, "assign", disp, T0 + 2 * h, department_id=d1)
    act(c3, "sign", h1, T0 + 2.5 * h)

    c4 = ids["c4"] = new_case(session, "M-4", HR, T0)
    act(c4, "register", disp, T0 + 0.1 * h)
    act(c4, "assign", disp, T0 + 0.2 * h, department_id=d2)
    act(c4, "sign", h2, T0 + 0.5 * h)
    through_close(c4, h2, T0 + d, T0 + d + 2 * h)
    act(c4, "revisit", op, T0 + 8 * d, satisfaction="不满意", solved=False)

    c5 = ids["c5"] = new_case(session, "M-5", YYL, T0)
    act(c5, "register", disp, T0 + 0.1 * h)
    act(c5, "assign", disp, T0 + 0.2 * h, department_id=d1)
    act(c5, "sign", h1, T0 + 0.5 * h)
    act(c5, "request_suspension", h1, T0 + d, reason="需等待管线改造")
    act(c5, "approve_suspension", disp, T0 + d + h)

    ids["c6"] = new_case(session, "M-6", YYL, T0 + 3 * d)
    session.commit()
    return World(d1, d2, ids)


# The truth of the scenario (see the module docstring), whole city: metric → (numerator cases, denominator cases).
CITY: dict[str, tuple[set[str], set[str]]] = {
    "response_rate": ({"c1", "c3", "c4", "c5"}, {"c1", "c2", "c3", "c4", "c5"}),
    "accurate_dispatch_rate": ({"c1", "c2", "c4", "c5"}, {"c1", "c2", "c3", "c4", "c5"}),
    "solved_rate": ({"c1"}, {"c1", "c2", "c4"}),
    "satisfaction_rate": ({"c1", "c2"}, {"c1", "c2", "c4"}),
    "closure_rate": ({"c1", "c2"}, {"c1", "c2", "c3", "c5"}),
    "ontime_closure_rate": ({"c1"}, {"c1", "c2", "c3"}),
    "rework_rate": ({"c2"}, {"c1", "c2", "c4"}),
}


def actor_of(session: Session, username: str) -> Actor:
    u = session.scalars(select(User).where(User.username == username)).one()
    return Actor(u.id, u.display_name, Role(u.role), u.department_id, u.region_code, u.channel)


def ids_of(w: World, names: set[str]) -> list[int]:
    return sorted(w.ids[n] for n in names)
