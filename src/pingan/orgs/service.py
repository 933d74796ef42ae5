"""Users, departments and login tokens: the only writer of the orgs tables."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.errors import Conflict, Invalid, Unauthorized
from pingan.orgs.models import AuthToken, Department, User
from pingan.orgs.passwords import check_complexity, hash_password, verify_password
from pingan.orgs.policies import DepartmentPolicy
from pingan.orgs.roles import Role
from pingan.policy import registry
from pingan.timeutil import utcnow

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=10)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    display_name: str = "",
    region_code: str = "430600",
    department_id: int | None = None,
    channel: str | None = None,
    must_change_password: bool = True,
    check: bool = True,
    password_hash: str | None = None,
) -> User:
    role = Role(role)
    if check:
        check_complexity(password)
    if role == Role.HANDLER and department_id is None:
        raise Invalid(
            "department_required", "部门处置人员必须属于一个部门", "a handler needs a department", field="department_id"
        )
    if role == Role.CHANNEL and channel is None:
        raise Invalid("channel_required", "渠道账号必须指定渠道", "a channel account needs a channel", field="channel")
    user = User(
        username=username,
        display_name=display_name or username,
        # A precomputed hash of `password` (the demo creates many accounts with one password).
        password_hash=password_hash or hash_password(password),
        role=role,
        region_code=region_code,
        department_id=department_id,
        channel=channel,
        must_change_password=must_change_password,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("username_taken", f"用户名 {username} 已存在", f"username {username} is taken") from exc
    return user


def login(
    session: Session,
    username: str,
    password: str,
    now: datetime | None = None,
    *,
    otp: str | None = None,
    ip: str = "",
) -> tuple[str, User]:
    """Check the password (and the TOTP code when the account has one); 5 failures lock it for 10 minutes.

    Every outcome is written to the security-event log.
    """
    from pingan.auth import service as auth
    from pingan.security import events

    now = now or utcnow()
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    bad = Unauthorized("bad_credentials", "用户名或密码错误", "wrong username or password")
    if user is None or not user.active:
        events.record(
            session, "login_failed", outcome="failed", actor_name=username[:64], ip=ip, detail="unknown or inactive"
        )
        session.commit()
        raise bad
    if user.locked_until and user.locked_until > now:
        events.record(
            session,
            "login_failed",
            outcome="denied",
            actor_id=user.id,
            actor_name=username,
            ip=ip,
            detail="account locked",
        )
        session.commit()
        raise Unauthorized(
            "locked",
            "连续登录失败次数过多，账号已锁定 10 分钟",
            "too many failed logins; the account is locked for 10 minutes",
            status=423,
        )
    password_ok = verify_password(user.password_hash, password)
    second = auth.second_factor(session, user, otp, now) if password_ok else None
    if not password_ok or second == "bad":
        user.failed_logins += 1
        events.record(
            session,
            "login_failed",
            outcome="failed",
            actor_id=user.id,
            actor_name=username,
            ip=ip,
            detail="wrong password" if not password_ok else "wrong one-time code",
            data={"failures": user.failed_logins},
        )
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            events.record(
                session,
                "lockout",
                outcome="denied",
                actor_id=user.id,
                actor_name=username,
                ip=ip,
                data={"until": user.locked_until.isoformat()},
            )
        session.commit()
        raise bad
    if second == "missing":
        session.commit()
        raise Unauthorized("otp_required", "请输入动态口令", "this account needs its one-time code (otp)")
    user.failed_logins = 0
    user.locked_until = None
    token = issue_token(session, user, "session", now)
    events.record(
        session, "login", actor_id=user.id, actor_name=username, ip=ip, data={"second_factor": second == "ok"}
    )
    return token, user


def issue_token(session: Session, user: User, kind: str = "session", now: datetime | None = None) -> str:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(AuthToken(token_hash=token_digest(token), user_id=user.id, kind=kind, created_at=now, last_seen_at=now))
    session.flush()
    return token


def authenticate(
    session: Session, token: str, idle: timedelta, now: datetime | None = None, touch: bool = True
) -> User:
    """The token's user, or Unauthorized. `touch` records the activity (idle timeout) in this session."""
    now = now or utcnow()
    row, user = _token_and_user(session, token, idle, now)
    if touch and needs_touch(row.last_seen_at, now):
        row.last_seen_at = now
    return user


def authenticate_read(session: Session, token: str, idle: timedelta, now: datetime | None = None) -> tuple[User, bool]:
    """`authenticate` for a request that does not write in this session: (user, whether the token's activity
    stamp is due to be written again, by the caller in a short write of its own)."""
    now = now or utcnow()
    row, user = _token_and_user(session, token, idle, now)
    return user, needs_touch(row.last_seen_at, now)


def _token_and_user(session: Session, token: str, idle: timedelta, now: datetime) -> tuple[AuthToken, User]:
    # One query for both: authentication runs on every request.
    found = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == token_digest(token))
    ).one_or_none()
    if found is None or found[0].revoked_at is not None:
        raise Unauthorized("bad_token", "登录已失效，请重新登录", "invalid or revoked token")
    row, user = found
    if row.kind == "session" and now - row.last_seen_at > idle:
        raise Unauthorized("session_expired", "长时间未操作，请重新登录", "session expired after inactivity")
    if not user.active:
        raise Unauthorized("user_inactive", "账号已停用", "account disabled")
    return row, user


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at > timedelta(seconds=30)


def touch(session: Session, token: str, now: datetime | None = None) -> None:
    """Record activity on a token (its own short write, for requests that otherwise only read)."""
    now = now or utcnow()
    row = session.scalars(select(AuthToken).where(AuthToken.token_hash == token_digest(token))).one_or_none()
    if row is not None and needs_touch(row.last_seen_at, now):
        row.last_seen_at = now


_auth_generation = 0


def auth_generation() -> int:
    """Bumped whenever this process revokes a token: per-process caches of authenticated tokens start over."""
    return _auth_generation


def auth_changed() -> None:
    global _auth_generation
    _auth_generation += 1


def revoke(session: Session, token: str) -> None:
    row = session.scalars(select(AuthToken).where(AuthToken.token_hash == token_digest(token))).one_or_none()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        auth_changed()


def change_password(session: Session, user: User, old: str, new: str, ip: str = "") -> None:
    from pingan.security import events

    if not verify_password(user.password_hash, old):
        raise Unauthorized("bad_credentials", "原密码错误", "the current password is wrong")
    if old == new:
        raise Invalid("same_password", "新密码不能与原密码相同", "the new password must differ", field="new_password")
    check_complexity(new)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    events.record(session, "password_changed", actor_id=user.id, actor_name=user.username, ip=ip)


def revoke_sessions(session: Session, user: User, kinds: tuple[str, ...] = ("session",)) -> int:
    """Revoke every live token of the given kinds; returns how many."""
    now = utcnow()
    rows = session.scalars(
        select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None), AuthToken.kind.in_(kinds))
    ).all()
    for row in rows:
        row.revoked_at = now
    auth_changed()
    session.flush()
    return len(rows)


def seed_departments(session: Session, county_codes: dict[str, str]) -> int:
    """City departments from the departments policy, plus a counterpart in every county that has one.

    county_codes maps code → name (e.g. 430602 → 岳阳楼区). Idempotent.
    """
    pol = registry.load("departments", DepartmentPolicy)
    existing = {d.code: d for d in session.scalars(select(Department))}
    n = 0
    for spec in pol.departments:
        city = existing.get(spec.code)
        if city is None:
            city = Department(
                code=spec.code,
                name=pol.city_prefix + spec.name,
                short_name=spec.short_name,
                name_en=spec.name_en,
                region_code="430600",
            )
            session.add(city)
            session.flush()
            n += 1
        if not spec.county_counterpart:
            continue
        for code, cname in county_codes.items():
            key = f"{spec.code}_{code}"
            if key not in existing:
                session.add(
                    Department(
                        code=key,
                        name=cname + spec.name,
                        short_name=f"{cname[:-1]}{spec.short_name}",
                        name_en=spec.name_en,
                        region_code=code,
                        parent_id=city.id,
                    )
                )
                n += 1
    session.flush()
    return n


def counterpart(session: Session, city_department_code: str, county_code: str) -> Department | None:
    """The county counterpart of a city department (or the city department itself)."""
    dep = session.scalars(select(Department).where(Department.code == f"{city_department_code}_{county_code}")).first()
    return dep or session.scalars(select(Department).where(Department.code == city_department_code)).first()
