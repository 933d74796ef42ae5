"""TOTP enrolment and checking; the only writer of user_totp."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from pingan.auth import totp
from pingan.auth.models import UserTotp
from pingan.errors import Conflict, Invalid
from pingan.orgs.models import User
from pingan.timeutil import utcnow


def second_factor(
    session: Session, user: User, otp: str | None, now: datetime | None = None
) -> Literal["none", "ok", "bad", "missing"]:
    """'none' when the account has no TOTP, 'missing' when it has one and no code came, else 'ok' / 'bad'."""
    row = session.get(UserTotp, user.id)
    if row is None or not row.enabled:
        return "none"
    if not otp:
        return "missing"
    step = totp.match(row.secret, otp, now.timestamp() if now else time.time())
    if step is None or step <= row.last_step:
        return "bad"
    row.last_step = step
    return "ok"


def setup(session: Session, user: User) -> str:
    """A new secret for the user (not yet active until confirmed with a code)."""
    row = session.get(UserTotp, user.id)
    if row is not None and row.enabled:
        raise Conflict("totp_enabled", "动态口令已启用，请先停用", "TOTP is already on; turn it off first")
    secret = totp.new_secret()
    if row is None:
        row = UserTotp(user_id=user.id, secret=secret, enabled=False, last_step=0, created_at=utcnow())
        session.add(row)
    else:
        row.secret = secret
        row.last_step = 0
    session.flush()
    return secret


def _check(row: UserTotp | None, code: str) -> int:
    step = totp.match(row.secret, code) if row is not None else None
    if row is None or step is None or step <= row.last_step:
        raise Invalid("bad_otp", "动态口令错误", "wrong one-time code", field="code")
    return step


def enable(session: Session, user: User, code: str) -> None:
    row = session.get(UserTotp, user.id)
    if row is None:
        raise Invalid("totp_not_set_up", "请先生成动态口令密钥", "call /auth/totp/setup first", field="code")
    row.last_step = _check(row, code)
    row.enabled = True
    session.flush()


def disable(session: Session, user: User, code: str) -> None:
    row = session.get(UserTotp, user.id)
    if row is None or not row.enabled:
        raise Invalid("totp_not_enabled", "未启用动态口令", "TOTP is not on", field="code")
    _check(row, code)
    session.delete(row)
    session.flush()


def admin_reset(session: Session, user: User) -> bool:
    row = session.get(UserTotp, user.id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
