"""Synthetic people of the demo: callers (names and mobile numbers) and the staff who act on cases.

Every caller name and phone number here is generated. Phone numbers all have 0000 in the middle
(1xx-0000-xxxx), a pattern that marks them as synthetic at a glance; they are still valid-looking Chinese
mobile numbers, so that the phone checks and the tracking lookup (last four digits) work.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pingan.cases.actors import Actor
from pingan.intake.schemas import normalise_phone
from pingan.orgs import service as orgs
from pingan.orgs.models import Department, User
from pingan.orgs.passwords import hash_password
from pingan.orgs.roles import Role
from pingan.sim.org import DEMO_PASSWORD

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲辉鹏飞红建文斌宇浩凯琳雪梅兰婷慧晨阳"
MOBILE_PREFIXES = ("138", "139", "150", "151", "158", "135", "186", "187", "189", "133", "177", "199", "181", "136")


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def mobile(rng: random.Random) -> str:
    """A synthetic mobile number in E.164 (+86 1xx 0000 xxxx)."""
    number = f"{rng.choice(MOBILE_PREFIXES)}0000{rng.randrange(10_000):04d}"
    out = normalise_phone(number)
    assert out is not None
    return out


def actor_of(user: User) -> Actor:
    return Actor(
        id=user.id,
        name=user.display_name,
        role=Role(user.role),
        department_id=user.department_id,
        region_code=user.region_code,
        channel=user.channel,
    )


@lru_cache(maxsize=1)
def _demo_hash() -> str:
    return hash_password(DEMO_PASSWORD)


class Staff:
    """The demo accounts that act, found by role, department or county; missing ones are created with the
    demo password (one handler per department the demo hands cases to, one grid worker per county)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_name: dict[str, User] = {}
        self.handlers: dict[int, User] = {}
        self.grid: dict[str, User] = {}
        self._actors: dict[int, Actor] = {}

    def _user(self, username: str) -> User:
        user = self.by_name.get(username)
        if user is None:
            user = self.session.scalars(select(User).where(User.username == username)).one()
            self.by_name[username] = user
        return user

    def actor(self, user: User) -> Actor:
        a = self._actors.get(user.id)
        if a is None:
            a = self._actors[user.id] = actor_of(user)
        return a

    def named(self, username: str) -> Actor:
        return self.actor(self._user(username))

    @property
    def operator(self) -> Actor:
        return self.named("zuoxi")

    @property
    def supervisor(self) -> Actor:
        return self.named("duban")

    def dispatcher(self, county_code: str) -> Actor:
        if county_code == "430602":
            return self.named("yylq")
        return self.named("paiqian")

    def channel(self, channel: str) -> Actor:
        return self.named({"hotline_12345": "api12345", "police_110": "api110"}[channel])

    def handler(self, department_id: int) -> Actor:
        user = self.handlers.get(department_id) or self._find(
            select(User).where(User.role == Role.HANDLER, User.department_id == department_id)
        )
        if user is None:
            dep = self.session.get(Department, department_id)
            assert dep is not None
            rng = random.Random(f"handler:{dep.code}")
            user = orgs.create_user(
                self.session,
                f"h_{dep.code}",
                DEMO_PASSWORD,
                Role.HANDLER,
                f"{dep.short_name}·{person_name(rng)}",
                dep.region_code,
                dep.id,
                must_change_password=False,
                password_hash=_demo_hash(),
            )
        self.handlers[department_id] = user
        return self.actor(user)

    def _find(self, query: Select[Any]) -> User | None:
        return self.session.scalars(query.where(User.active.is_(True)).order_by(User.id).limit(1)).first()

    def grid_worker(self, county_code: str) -> Actor:
        user = self.grid.get(county_code) or self._find(
            select(User).where(User.role == Role.GRID_WORKER, User.region_code == county_code)
        )
        if user is None:
            rng = random.Random(f"grid:{county_code}")
            user = orgs.create_user(
                self.session,
                f"wangge_{county_code}",
                DEMO_PASSWORD,
                Role.GRID_WORKER,
                f"网格员·{person_name(rng)}",
                county_code,
                must_change_password=False,
                password_hash=_demo_hash(),
            )
        self.grid[county_code] = user
        return self.actor(user)
