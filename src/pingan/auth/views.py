"""HTTP API of identity administration: TOTP, accounts, sessions, channel API tokens, the security log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from pingan.auth import service as auth
from pingan.auth import totp
from pingan.deps import ActorDep, SessionDep, UserDep, require_roles
from pingan.errors import Invalid, NotFound
from pingan.orgs import service as orgs
from pingan.orgs.models import AuthToken, Department, User
from pingan.orgs.roles import Role
from pingan.orgs.views import MeOut, me_out
from pingan.security import events
from pingan.security.http import client_ip
from pingan.security.models import SecurityEvent

router = APIRouter(prefix="/api/v1", tags=["security 安全"])
ADMIN = [require_roles(Role.ADMIN)]


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")


class TotpSetupOut(BaseModel):
    secret: str
    otpauth_uri: str


@router.post("/auth/totp/setup", response_model=TotpSetupOut, summary="生成动态口令密钥 Start TOTP enrolment")
def totp_setup(session: SessionDep, user: UserDep) -> TotpSetupOut:
    secret = auth.setup(session, user)
    session.commit()
    return TotpSetupOut(secret=secret, otpauth_uri=totp.uri(secret, user.username))


@router.post("/auth/totp/enable", status_code=204, summary="启用动态口令 Confirm TOTP with a code")
def totp_enable(body: CodeIn, request: Request, session: SessionDep, user: UserDep) -> Response:
    auth.enable(session, user, body.code)
    events.record(session, "totp_enabled", actor_id=user.id, actor_name=user.username, ip=client_ip(request))
    session.commit()
    return Response(status_code=204)


@router.post("/auth/totp/disable", status_code=204, summary="停用动态口令 Turn TOTP off (needs a code)")
def totp_disable(body: CodeIn, request: Request, session: SessionDep, user: UserDep) -> Response:
    auth.disable(session, user, body.code)
    events.record(session, "totp_disabled", actor_id=user.id, actor_name=user.username, ip=client_ip(request))
    session.commit()
    return Response(status_code=204)


# ---- accounts (admin) ---------------------------------------------------------------------------------


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(default="", max_length=64)
    password: str = Field(min_length=1, max_length=200)
    role: Role
    region_code: str = Field(default="430600", pattern=r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$")
    department_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    channel: str | None = Field(default=None, pattern=r"^(hotline_12345|police_110|online)$")


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    region_code: str | None = Field(default=None, pattern=r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$")
    department_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    active: bool | None = None
    unlock: bool = False
    reset_totp: bool = False


class AdminUserOut(MeOut):
    active: bool
    locked_until: datetime | None
    totp_enabled: bool


def _admin_out(session: Any, user: User) -> AdminUserOut:
    from pingan.auth.models import UserTotp

    t = session.get(UserTotp, user.id)
    return AdminUserOut(
        **me_out(user).model_dump(),
        active=user.active,
        locked_until=user.locked_until,
        totp_enabled=bool(t and t.enabled),
    )


def _user(session: Any, user_id: int) -> User:
    user: User | None = session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", f"账号 {user_id} 不存在", f"user {user_id} not found")
    return user


def _check_department(session: Any, department_id: int | None) -> None:
    if department_id is not None and session.get(Department, department_id) is None:
        raise Invalid("department_unknown", "部门不存在", "no such department", field="department_id")


@router.get("/admin/users", response_model=list[AdminUserOut], summary="账号列表 Accounts", dependencies=ADMIN)
def list_users(session: SessionDep) -> list[AdminUserOut]:
    return [_admin_out(session, u) for u in session.scalars(select(User).order_by(User.id))]


@router.post(
    "/admin/users",
    response_model=AdminUserOut,
    status_code=201,
    summary="创建账号 Create an account",
    dependencies=ADMIN,
)
def create_user(body: UserIn, request: Request, session: SessionDep, actor: ActorDep) -> AdminUserOut:
    _check_department(session, body.department_id)
    user = orgs.create_user(
        session,
        body.username,
        body.password,
        body.role,
        body.display_name,
        body.region_code,
        body.department_id,
        body.channel,
    )
    events.record(
        session,
        "user_created",
        actor_id=actor.id,
        actor_name=actor.name,
        ip=client_ip(request),
        target=f"user:{user.id}",
        data={
            "username": user.username,
            "role": str(body.role),
            "region_code": body.region_code,
            "department_id": body.department_id,
        },
    )
    session.commit()
    return _admin_out(session, user)


@router.patch(
    "/admin/users/{user_id}",
    response_model=AdminUserOut,
    summary="修改账号权限 Change role, scope or status",
    dependencies=ADMIN,
)
def patch_user(user_id: int, body: UserPatch, request: Request, session: SessionDep, actor: ActorDep) -> AdminUserOut:
    user = _user(session, user_id)
    changes: dict[str, Any] = {}
    fields = body.model_dump(exclude_unset=True, exclude={"unlock", "reset_totp"})
    if "department_id" in fields:
        _check_department(session, body.department_id)
    new_role = Role(fields.get("role", user.role))
    new_dep = fields.get("department_id", user.department_id)
    if new_role == Role.HANDLER and new_dep is None:
        raise Invalid("department_required", "部门处置人员必须属于一个部门", "a handler needs a department")
    if new_role == Role.CHANNEL and not user.channel:
        raise Invalid("channel_required", "渠道账号必须指定渠道", "a channel account needs a channel")
    for key, value in fields.items():
        old = getattr(user, key)
        if value is not None and old != value:
            changes[key] = {"from": str(old) if old is not None else None, "to": str(value)}
            setattr(user, key, value)
    if body.unlock:
        user.locked_until = None
        user.failed_logins = 0
        changes["unlock"] = True
    if body.reset_totp and auth.admin_reset(session, user):
        changes["reset_totp"] = True
    revoked = 0
    if changes.keys() & {"role", "region_code", "department_id", "active"}:
        # A changed permission takes effect now: the account's sessions end.
        revoked = orgs.revoke_sessions(session, user, ("session", "api") if user.active is False else ("session",))
    if changes:
        events.record(
            session,
            "permission_change",
            actor_id=actor.id,
            actor_name=actor.name,
            ip=client_ip(request),
            target=f"user:{user.id}",
            data={"changes": changes, "sessions_revoked": revoked},
        )
    session.commit()
    return _admin_out(session, user)


class TokenOut(BaseModel):
    id: int
    kind: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None


def _token_out(t: AuthToken) -> TokenOut:
    return TokenOut(id=t.id, kind=t.kind, created_at=t.created_at, last_seen_at=t.last_seen_at, revoked_at=t.revoked_at)


@router.get(
    "/admin/users/{user_id}/sessions",
    response_model=list[TokenOut],
    summary="账号的会话与令牌 Sessions and tokens",
    dependencies=ADMIN,
)
def list_sessions(user_id: int, session: SessionDep) -> list[TokenOut]:
    _user(session, user_id)
    rows = session.scalars(select(AuthToken).where(AuthToken.user_id == user_id).order_by(AuthToken.id.desc()))
    return [_token_out(t) for t in rows]


@router.post(
    "/admin/users/{user_id}/sessions/revoke",
    summary="吊销全部会话 Revoke every session of an account",
    dependencies=ADMIN,
)
def revoke_user_sessions(
    user_id: int,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    include_api: Annotated[bool, Query(description="also revoke API tokens")] = False,
) -> dict[str, int]:
    user = _user(session, user_id)
    n = orgs.revoke_sessions(session, user, ("session", "api") if include_api else ("session",))
    events.record(
        session,
        "session_revoked",
        actor_id=actor.id,
        actor_name=actor.name,
        ip=client_ip(request),
        target=f"user:{user.id}",
        data={"revoked": n, "include_api": include_api},
    )
    session.commit()
    return {"revoked": n}


@router.post(
    "/admin/tokens/{token_id}/revoke",
    response_model=TokenOut,
    summary="吊销一个会话或令牌 Revoke one token",
    dependencies=ADMIN,
)
def revoke_token(token_id: int, request: Request, session: SessionDep, actor: ActorDep) -> TokenOut:
    from pingan.timeutil import utcnow

    row = session.get(AuthToken, token_id)
    if row is None:
        raise NotFound("token_not_found", "令牌不存在", "no such token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        orgs.auth_changed()
        events.record(
            session,
            "session_revoked",
            actor_id=actor.id,
            actor_name=actor.name,
            ip=client_ip(request),
            target=f"user:{row.user_id}",
            data={"token_id": row.id, "kind": row.kind},
        )
    session.commit()
    return _token_out(row)


class ApiTokenOut(BaseModel):
    token: str
    user_id: int
    channel: str


@router.post(
    "/admin/users/{user_id}/api-tokens",
    response_model=ApiTokenOut,
    status_code=201,
    summary="为渠道系统签发接口令牌 Issue an API token to a channel account (scoped to its channel)",
    dependencies=ADMIN,
)
def issue_api_token(user_id: int, request: Request, session: SessionDep, actor: ActorDep) -> ApiTokenOut:
    user = _user(session, user_id)
    if user.role != Role.CHANNEL or not user.channel:
        raise Invalid("not_channel_account", "只能为渠道账号签发接口令牌", "API tokens are for channel accounts only")
    token = orgs.issue_token(session, user, "api")
    events.record(
        session,
        "api_token_issued",
        actor_id=actor.id,
        actor_name=actor.name,
        ip=client_ip(request),
        target=f"user:{user.id}",
        data={"channel": user.channel},
    )
    session.commit()
    return ApiTokenOut(token=token, user_id=user.id, channel=user.channel)


# ---- the security-event log (read-only) ---------------------------------------------------------------


class SecurityEventOut(BaseModel):
    seq: int
    at: datetime
    kind: str
    kind_label: str
    outcome: str
    actor_id: int | None
    actor_name: str
    ip: str
    target: str
    detail: str
    data: dict[str, Any]
    hash: str


class SecurityPage(BaseModel):
    items: list[SecurityEventOut]
    total: int


@router.get(
    "/admin/security-events",
    response_model=SecurityPage,
    summary="安全审计日志 Security-event log (read-only)",
    dependencies=[require_roles(Role.ADMIN, Role.SUPERVISOR)],
)
def list_security_events(
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SecurityPage:
    q = select(SecurityEvent)
    if kind:
        q = q.where(SecurityEvent.kind == kind)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    if before_seq:
        q = q.where(SecurityEvent.seq < before_seq)
    rows = session.scalars(q.order_by(SecurityEvent.seq.desc()).limit(limit))
    return SecurityPage(
        items=[
            SecurityEventOut(
                seq=e.seq,
                at=e.at,
                kind=e.kind,
                kind_label=events.KINDS.get(e.kind, e.kind),
                outcome=e.outcome,
                actor_id=e.actor_id,
                actor_name=e.actor_name,
                ip=e.ip,
                target=e.target,
                detail=e.detail,
                data=e.data or {},
                hash=e.hash,
            )
            for e in rows
        ],
        total=total,
    )


@router.get(
    "/admin/security-events/verify",
    summary="校验安全日志哈希链 Verify the security log's hash chain",
    dependencies=[require_roles(Role.ADMIN, Role.SUPERVISOR)],
)
def verify_security_events(session: SessionDep) -> dict[str, Any]:
    n, problems = events.verify(session)
    return {"ok": not problems, "events": n, "problems": [str(p) for p in problems]}
