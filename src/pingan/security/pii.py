"""Personal information in cases: unmasking (with a reason, logged), the purge policy, key rotation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, Text, select, type_coerce, update
from sqlalchemy.orm import Session

from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.orgs.roles import Role
from pingan.security import crypto, events
from pingan.timeutil import utcnow

# Who may see a caller's full name, phone and ID number (after giving a reason). Departments never:
# they receive masked data and, for a 保密 case, nothing about the caller at all.
UNMASK_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR})


@dataclass
class Unmasked:
    case_id: int
    caller_name: str | None
    caller_phone: str | None
    caller_id_number: str | None


def unmask(session: Session, case: Case, actor: Actor, reason: str, ip: str = "") -> Unmasked:
    from pingan.errors import Forbidden

    if actor.role not in UNMASK_ROLES:
        events.record(
            session,
            "unmask",
            outcome="denied",
            actor_id=actor.id,
            actor_name=actor.name,
            ip=ip,
            target=f"case:{case.id}",
            detail=reason,
        )
        session.commit()
        raise Forbidden("unmask_forbidden", "当前角色无权查看完整个人信息", "this role may not unmask personal data")
    events.record(
        session,
        "unmask",
        actor_id=actor.id,
        actor_name=actor.name,
        ip=ip,
        target=f"case:{case.id}",
        detail=reason,
        data={"fields": ["caller_name", "caller_phone", "caller_id_number"]},
    )
    return Unmasked(case.id, case.caller_name, case.caller_phone, case.caller_id_number)


def purge(session: Session, older_than: timedelta, now: datetime | None = None, batch: int = 1000) -> int:
    """Remove the caller's personal data from cases closed before now − older_than. Everything else
    (category, region, times, status, satisfaction, the timeline) stays, so statistics are unchanged."""
    now = now or utcnow()
    cutoff = now - older_than
    q = (
        select(Case.id)
        .where(Case.closed_at.is_not(None), Case.closed_at < cutoff)
        .where(
            (Case.caller_name.is_not(None))
            | (Case.caller_phone.is_not(None))
            | (Case.caller_id_number.is_not(None))
            | (Case.caller_phone_last4.is_not(None))
        )
        .order_by(Case.id)
    )
    ids = list(session.scalars(q))
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        session.execute(
            update(Case)
            .where(Case.id.in_(chunk))
            .values(caller_name=None, caller_phone=None, caller_id_number=None, caller_phone_last4=None)
            .execution_options(synchronize_session=False)
        )
    events.record(
        session,
        "privacy_purge",
        actor_name="pingan privacy purge",
        data={"cases": len(ids), "closed_before": cutoff.isoformat(), "older_than_days": older_than.days},
    )
    session.flush()
    return len(ids)


def encrypted_columns() -> list[tuple[Table, Column[Any]]]:
    from pingan.models import metadata

    out = []
    for table in metadata.sorted_tables:
        for col in table.columns:
            if isinstance(col.type, crypto.EncryptedText):
                out.append((table, col))
    return out


def key_usage(session: Session) -> dict[str, int]:
    """How many stored values each key id encrypts ('plain' for values written before encryption)."""
    counts: dict[str, int] = {}
    for _table, col in encrypted_columns():
        for (raw,) in session.execute(select(type_coerce(col, Text)).where(col.is_not(None))):
            kid = crypto.key_id_of(raw) or "plain"
            counts[kid] = counts.get(kid, 0) + 1
    return counts


def reencrypt(session: Session, batch: int = 500) -> int:
    """Re-encrypt every value not under the active key (commits per batch). Returns how many."""
    ring = crypto.load_keyring(reload=True)
    n = 0
    for table, col in encrypted_columns():
        pk = list(table.primary_key.columns)[0]
        last: Any = None
        while True:
            q = select(pk, type_coerce(col, Text)).where(col.is_not(None)).order_by(pk).limit(batch)
            if last is not None:
                q = q.where(pk > last)
            rows = session.execute(q).all()
            if not rows:
                break
            for key, raw in rows:
                if crypto.key_id_of(raw) != ring.active:
                    assert isinstance(col.type, crypto.EncryptedText)
                    plain = crypto.decrypt(raw, col.type.purpose, ring)
                    # Bound through the column's type: encrypted again, under the active key.
                    session.execute(update(table).where(pk == key).values({col.name: plain}))
                    n += 1
            last = rows[-1][0]
            session.commit()
    return n


def rotate(session: Session, drop_old: bool = True) -> dict[str, Any]:
    """A new active key, every value re-encrypted under it, then (by default) the old keys removed."""
    before = crypto.load_keyring(reload=True)
    ring = crypto.add_key()
    n = reencrypt(session)
    usage = key_usage(session)
    stale = {k: v for k, v in usage.items() if k != ring.active}
    dropped: list[str] = []
    if drop_old and not stale:
        crypto.drop_keys_except({ring.active})
        dropped = sorted(before.keys)
    events.record(
        session,
        "key_rotated",
        actor_name="pingan privacy rotate-key",
        data={"new_key": ring.active, "reencrypted": n, "dropped": dropped, "stale": stale},
    )
    session.commit()
    return {"active": ring.active, "reencrypted": n, "dropped": dropped, "stale": stale}
