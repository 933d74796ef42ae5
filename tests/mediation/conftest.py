"""Fixtures of the mediation tests: clean mediation tables around each test, and mediator accounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from pingan.cases.actors import Actor
from pingan.orgs import service as orgs
from pingan.orgs.models import User
from pingan.orgs.roles import Role
from pingan.sim.org import DEMO_PASSWORD

# Children first: the tables are emptied in this order (and the outbox, which alerts write to).
TABLES = [
    "petition_events",
    "dispute_events",
    "dispute_documents",
    "mediation_sessions",
    "dispute_parties",
    "petitions",
    "disputes",
    "duty_slots",
    "rota_events",
    "mediator_unavailability",
    "mediators",
    "outbox",
]
MEDIATOR_USERS = [("tj_test_a", "调解员·李勇", "430682"), ("tj_test_b", "调解员·周敏", "430621")]


def _wipe(db: Any) -> None:
    with db.engine.begin() as conn:
        for t in TABLES:
            conn.execute(text(f"DELETE FROM {t}"))


@pytest.fixture(autouse=True)
def _mediation_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    if "db" not in request.fixturenames:
        yield
        return
    db = request.getfixturevalue("db")
    _wipe(db)
    with db.session() as s:
        have = {u.username for u in s.scalars(select(User))}
        for username, name, _region in MEDIATOR_USERS:
            if username not in have:
                orgs.create_user(s, username, DEMO_PASSWORD, Role.MEDIATOR, name, "430600",
                                 must_change_password=False)  # fmt: skip
        s.commit()
    yield
    _wipe(db)


def user_actor(session: Any, username: str) -> Actor:
    u = session.scalars(select(User).where(User.username == username)).one()
    return Actor(id=u.id, name=u.display_name, role=Role(u.role), department_id=u.department_id,
                 region_code=u.region_code)  # fmt: skip
