"""Who is looking at a page: the session cookie checked like the API does; pages redirect instead of 401."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import Request
from sqlalchemy.orm import Session

from pingan.cases.actors import Actor
from pingan.deps import actor_of, get_settings
from pingan.errors import Unauthorized
from pingan.orgs import service as orgs
from pingan.orgs.models import User
from pingan.orgs.roles import Role

COOKIE = "pingan_token"


class LoginRedirect(Exception):
    """Raised by a page when nobody (valid) is logged in; answered with a redirect to /login."""

    def __init__(self, target: str, reason: str = "") -> None:
        super().__init__(target)
        self.target = target
        self.reason = reason


def page_user(request: Request, session: Session) -> tuple[User, Actor]:
    token = request.cookies.get(COOKIE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRedirect(f"/login?next={quote(here)}")
    try:
        user = orgs.authenticate(session, token, timedelta(minutes=get_settings(request).session_idle_minutes))
    except Unauthorized as exc:
        raise LoginRedirect(f"/login?next={quote(here)}&expired=1", exc.code) from exc
    session.commit()
    if user.must_change_password and user.role != Role.CHANNEL:
        raise LoginRedirect("/password?first=1")
    return user, actor_of(user)


def home_for(role: str) -> str:
    if role == Role.HANDLER:
        return "/workbench"
    if role == Role.GRID_WORKER:
        return "/grid"
    if role == Role.LEADER:
        return "/"
    return "/"
