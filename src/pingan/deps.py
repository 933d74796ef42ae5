"""FastAPI dependencies shared by every domain's views: the database session and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

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
    user = orgs.authenticate(session, token, timedelta(minutes=settings.session_idle_minutes), touch=not readonly)
    if readonly:
        _touch_if_due(request, session, token)
    else:
        session.commit()
    return user


def _touch_if_due(request: Request, session: Session, token: str) -> None:
    # A read holds no SQLite write lock; the activity stamp is its own short write, when it is due.
    if orgs.touch_due(session, token):
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


def current_actor_unlocked(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    """`current_actor` for endpoints that write in a transaction of their own (the intake batcher): the token
    is checked in a read-only session, so a request waiting for its batch holds no write lock."""
    token = _bearer(authorization, request)
    idle = timedelta(minutes=get_settings(request).session_idle_minutes)
    factory: sessionmaker[Session] = request.app.state.readonly_factory
    with factory() as session:
        user = orgs.authenticate(session, token, idle, touch=False)
        _touch_if_due(request, session, token)
        return current_actor(user)


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
