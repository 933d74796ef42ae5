"""Writing and verifying the security-event log (login, failures, lockouts, permission changes,
unmasking, exports, policy edits, key rotation, purges).

`record()` joins the caller's transaction: the event is committed together with what it describes, or
not at all. Writers serialise on the chain-head row (SELECT … FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.security.models import SecurityChainHead, SecurityEvent
from pingan.timeutil import utcnow

GENESIS = "0" * 64
RETENTION_DAYS = 183  # ≥ 6 months (等保 2.0 / 网络安全法 第二十一条)

# The kinds of events this log knows (others may be added; these are the ones the code writes).
KINDS = {
    "login": "登录成功",
    "login_failed": "登录失败",
    "lockout": "账号锁定",
    "logout": "退出",
    "password_changed": "修改密码",
    "totp_enabled": "启用动态口令",
    "totp_disabled": "停用动态口令",
    "user_created": "创建账号",
    "permission_change": "权限变更",
    "session_revoked": "会话吊销",
    "api_token_issued": "签发接口令牌",
    "unmask": "查看完整个人信息",
    "export": "导出",
    "policy_edit": "策略修改",
    "key_rotated": "密钥轮换",
    "privacy_purge": "个人信息清除",
    "backup": "备份",
    "restore": "恢复",
    "rate_limited": "请求过于频繁",
}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(prev_hash: str, ev: SecurityEvent) -> str:
    body = json.dumps(
        [
            ev.seq,
            _iso(ev.at),
            ev.kind,
            ev.outcome,
            ev.actor_id,
            ev.actor_name,
            ev.ip,
            ev.target,
            ev.detail,
            ev.data or {},
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _head(session: Session) -> SecurityChainHead:
    head = session.scalars(select(SecurityChainHead).where(SecurityChainHead.id == 1).with_for_update()).one_or_none()
    if head is None:
        head = SecurityChainHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def record(
    session: Session,
    kind: str,
    *,
    actor_id: int | None = None,
    actor_name: str = "",
    outcome: str = "ok",
    ip: str = "",
    target: str = "",
    detail: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> SecurityEvent:
    """Append one event to the chain inside the caller's transaction."""
    head = _head(session)
    ev = SecurityEvent(
        seq=head.seq + 1,
        at=at or utcnow(),
        kind=kind,
        outcome=outcome,
        actor_id=actor_id,
        actor_name=actor_name[:64],
        ip=ip[:64],
        target=target[:120],
        detail=detail,
        data=data or {},
        prev_hash=head.hash,
    )
    ev.hash = compute_hash(head.hash, ev)
    session.add(ev)
    head.seq = ev.seq
    head.hash = ev.hash
    session.flush()
    return ev


@dataclass
class Problem:
    seq: int | None
    problem: str

    def __str__(self) -> str:
        return f"security log{f' event #{self.seq}' if self.seq else ''}: {self.problem}"


def verify(session: Session, batch: int = 5000) -> tuple[int, list[Problem]]:
    """Walk the whole chain. Returns (events checked, problems): edited, deleted or re-ordered events."""
    problems: list[Problem] = []
    prev = GENESIS
    expected = 1
    n = 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(SecurityEvent).where(SecurityEvent.seq > last_seq).order_by(SecurityEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            n += 1
            if ev.seq != expected:
                problems.append(Problem(expected, f"events #{expected}–#{ev.seq - 1} are missing (deleted)"))
            if ev.prev_hash != prev:
                problems.append(Problem(ev.seq, "previous-hash link broken (an earlier event was changed)"))
            if compute_hash(ev.prev_hash, ev) != ev.hash:
                problems.append(Problem(ev.seq, "content does not match its hash (edited)"))
            prev = ev.hash
            expected = ev.seq + 1
        last_seq = rows[-1].seq
        session.expunge_all()
    head = session.get(SecurityChainHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected - 1 or head_hash != prev:
        missing = head_seq - (expected - 1)
        what = f"{missing} trailing event(s) deleted" if missing > 0 else "chain head does not match the log"
        problems.append(Problem(None, what))
    return n, problems


def iter_events(session: Session, kind: str | None = None) -> Iterator[SecurityEvent]:
    q = select(SecurityEvent).order_by(SecurityEvent.seq)
    if kind:
        q = q.where(SecurityEvent.kind == kind)
    yield from session.scalars(q)


def record_now(request: Any, kind: str, **kw: Any) -> None:
    """Record an event in its own write transaction — for GET handlers, whose session is read-only
    (on SQLite it does not take the write lock)."""
    from pingan.db import session_scope

    with session_scope(request.app.state.session_factory) as session:
        record(session, kind, **kw)
