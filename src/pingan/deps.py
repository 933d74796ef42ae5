"""FastAPI dependencies shared by every domain's views: the database session and the acting user."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from pingan.cases.actors import Actor
from pingan.config import Settings
from pingan.errors import Forbidden, Unauthorized
from pingan.orgs import service as orgs
from pingan.orgs.models import User
from pingan.orgs.roles import Role


def get_session(request: Request) -> Iterator[Session]:
    # Reads must not hold SQLite's write lock; PostgreSQL treats both the same.
    readonly = request.method in ("GET", "HEAD", "OPTIONS")
    factory: sessionmaker[Session] = (
        request.app.state.readonly_factory if readonly else request.app.state.session_factory
    )
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]


def _bearer(authorization: str | None, request: Request) -> str:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    cookie = request.cookies.get("pingan_token")
    if cookie:
        return cookie
    raise Unauthorized("login_required", "请先登录", "authentication required")


def current_user(request: Request, session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> User:
    token = _bearer(authorization, request)
    settings = get_settings(request)
    readonly = request.method in ("GET", "HEAD", "OPTIONS")
    idle = timedelta(minutes=settings.session_idle_minutes)
    if readonly:
        user, due = orgs.authenticate_read(session, token, idle)
        _touch_if_due(request, token, due)
        return user
    user = orgs.authenticate(session, token, idle)
    session.commit()
    return user


def _touch_if_due(request: Request, token: str, due: bool) -> None:
    # A read holds no SQLite write lock; the activity stamp is its own short write, when it is due.
    if due:
        factory: sessionmaker[Session] = request.app.state.session_factory
        with factory() as w, w.begin():
            orgs.touch(w, token)


UserDep = Annotated[User, Depends(current_user)]


def actor_of(user: User) -> Actor:
    return Actor(
        id=user.id,
        name=user.display_name,
        role=Role(user.role),
        department_id=user.department_id,
        region_code=user.region_code,
        channel=user.channel,
    )


def current_actor(user: UserDep) -> Actor:
    if user.must_change_password and user.role != Role.CHANNEL:
        raise Forbidden("password_change_required", "首次登录请先修改密码", "change your password before continuing")
    return actor_of(user)


ActorDep = Annotated[Actor, Depends(current_actor)]


# Intake authenticates every single-matter request; a token checked within the last few seconds is taken
# from memory. A revocation in this process (logout, revoke, permission change) empties the cache at once;
# one made in another server process takes effect here within AUTH_CACHE_S.
AUTH_CACHE_S = 5.0
_AUTH_CACHE_MAX = 10_000
_auth_cache: dict[str, tuple[float, int, Actor]] = {}


async def current_actor_unlocked(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    """`current_actor` for endpoints that write in a transaction of their own (the intake batcher): the token
    is checked in a read-only session, so a request waiting for its batch holds no write lock."""
    token = _bearer(authorization, request)
    now = time.monotonic()
    generation = orgs.auth_generation()
    hit = _auth_cache.get(token)
    if hit is not None and hit[0] > now and hit[1] == generation:
        return hit[2]
    actor = await run_in_threadpool(_check_token, request, token)
    if len(_auth_cache) >= _AUTH_CACHE_MAX:
        _auth_cache.clear()
    _auth_cache[token] = (now + AUTH_CACHE_S, generation, actor)
    return actor


def _check_token(request: Request, token: str) -> Actor:
    idle = timedelta(minutes=get_settings(request).session_idle_minutes)
    factory: sessionmaker[Session] = request.app.state.readonly_factory
    with factory() as session:
        user, due = orgs.authenticate_read(session, token, idle)
        actor = current_actor(user)
    _touch_if_due(request, token, due)
    return actor


UnlockedActorDep = Annotated[Actor, Depends(current_actor_unlocked)]


def require_roles(*roles: Role) -> Any:
    def dep(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            raise Forbidden(
                "role_forbidden",
                "当前角色无权访问",
                f"role '{actor.role}' may not use this endpoint",
                allowed=[str(r) for r in roles],
            )
        return actor

    return Depends(dep)
