"""Helpers for the security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, update

from pingan.auth.models import UserTotp
from pingan.orgs.models import User
from pingan.sim.org import DEMO_USERS


@pytest.fixture(autouse=True)
def _reset_accounts(db) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Security tests lock, disable and re-role demo accounts and create new ones: undo that afterwards."""
    yield
    demo = {u.username: u for u in DEMO_USERS}
    with db.session() as s:
        s.execute(delete(UserTotp))
        for user in s.scalars(select(User)):
            if user.username not in demo:
                continue
            du = demo[user.username]
            user.failed_logins = 0
            user.locked_until = None
            user.active = True
            user.role = du.role
            user.region_code = du.region_code
        s.commit()
        extra = [u.id for u in s.scalars(select(User).where(User.username.not_in(list(demo))))]
        if extra:
            from pingan.orgs.models import AuthToken

            s.execute(delete(AuthToken).where(AuthToken.user_id.in_(extra)))
            s.execute(update(User).where(User.id.in_(extra)).values(active=False))
            s.commit()
