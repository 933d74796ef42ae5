"""The duty rota of a mediation center (值班表): 2–3 people a day, fair, respecting unavailability.

Fair means: over the generated period, the numbers of duties of any two available members differ by at most
one. Generation is greedy (fewest duties first, then fewest remaining chances, then id) followed by a repair
pass that moves duties from the busiest to the least busy member where availability allows; when
unavailability makes exact fairness impossible, the result says so (`fair: false`) instead of pretending.
Every generation and every swap is recorded as a RotaEvent.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pingan.cases import deadlines
from pingan.cases.actors import Actor
from pingan.errors import Conflict, Invalid
from pingan.mediation import service
from pingan.mediation.models import DutySlot, Mediator, MediatorUnavailability, RotaEvent
from pingan.timeutil import utcnow

MAX_DAYS = 366


def members(session: Session, center: str) -> list[Mediator]:
    return list(
        session.scalars(select(Mediator).where(Mediator.center == center, Mediator.active).order_by(Mediator.id))
    )


def set_unavailable(session: Session, mediator_id: int, days: list[date], reason: str = "") -> int:
    service.get_mediator(session, mediator_id)
    have = set(
        session.scalars(
            select(MediatorUnavailability.day).where(
                MediatorUnavailability.mediator_id == mediator_id, MediatorUnavailability.day.in_(days)
            )
        )
    )
    new = [d for d in dict.fromkeys(days) if d not in have]
    for d in new:
        session.add(MediatorUnavailability(mediator_id=mediator_id, day=d, reason=reason))
    session.flush()
    return len(new)


def _days(session: Session, start: date, end: date, working_only: bool) -> list[date]:
    if end < start:
        raise Invalid("period_invalid", "结束日期不能早于开始日期", "end is before start")
    if (end - start).days >= MAX_DAYS:
        raise Invalid("period_too_long", "排班周期不能超过一年", "a rota period may not exceed a year")
    cal = deadlines.calendar(session) if working_only else None
    out = []
    day = start
    while day <= end:
        if cal is None or cal.is_workday(day)[0]:
            out.append(day)
        day += timedelta(days=1)
    return out


def plan(days: list[date], people: list[int], unavailable: dict[int, set[date]], per_day: int) -> dict[date, list[int]]:
    """Assign `per_day` people to each day: fair, deterministic, never on a day someone is unavailable."""
    counts = dict.fromkeys(people, 0)
    remaining = {p: sum(1 for d in days if d not in unavailable.get(p, set())) for p in people}
    out: dict[date, list[int]] = {}
    for day in days:
        free = [p for p in people if day not in unavailable.get(p, set())]
        free.sort(key=lambda p: (counts[p], remaining[p], p))
        chosen = sorted(free[:per_day])
        out[day] = chosen
        for p in chosen:
            counts[p] += 1
        for p in free:
            remaining[p] -= 1
    # Repair: move a duty from the busiest to the least busy member on a day the latter is free.
    for _ in range(len(days) * per_day):
        hi = max(people, key=lambda p: (counts[p], -p))
        lo = min(people, key=lambda p: (counts[p], p))
        if counts[hi] - counts[lo] <= 1:
            break
        moved = False
        for day in days:
            if hi in out[day] and lo not in out[day] and day not in unavailable.get(lo, set()):
                out[day] = sorted([p for p in out[day] if p != hi] + [lo])
                counts[hi] -= 1
                counts[lo] += 1
                moved = True
                break
        if not moved:
            break
    return out


def generate(
    session: Session,
    center: str,
    start: date,
    end: date,
    actor: Actor,
    per_day: int | None = None,
    replace: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    pol = service.policy().rota
    per_day = per_day or pol.per_day
    people = members(session, center)
    if len(people) < per_day:
        raise Conflict(
            "roster_too_small",
            f"{center} 只有 {len(people)} 名在册人员，每天需要 {per_day} 人",
            f"{center} has {len(people)} members; {per_day} are needed per day",
        )
    days = _days(session, start, end, pol.working_days_only)
    existing = session.scalars(
        select(DutySlot.id).where(DutySlot.center == center, DutySlot.day >= start, DutySlot.day <= end).limit(1)
    ).first()
    if existing is not None and not replace:
        raise Conflict("rota_exists", "该时段已有值班表（如需重排请指定 replace）", "a rota exists for this period")
    session.execute(delete(DutySlot).where(DutySlot.center == center, DutySlot.day >= start, DutySlot.day <= end))
    ids = [m.id for m in people]
    unavailable: dict[int, set[date]] = defaultdict(set)
    for mid, day in session.execute(
        select(MediatorUnavailability.mediator_id, MediatorUnavailability.day).where(
            MediatorUnavailability.mediator_id.in_(ids),
            MediatorUnavailability.day >= start,
            MediatorUnavailability.day <= end,
        )
    ):
        unavailable[mid].add(day)
    short = [d for d in days if sum(1 for p in ids if d not in unavailable[p]) < per_day]
    if short:
        raise Conflict(
            "not_enough_available",
            f"{short[0]} 等 {len(short)} 天可值班人数不足 {per_day} 人",
            f"{len(short)} day(s) have fewer than {per_day} people available (first {short[0]})",
            days=[d.isoformat() for d in short[:20]],
        )
    assignment = plan(days, ids, unavailable, per_day)
    for day, chosen in assignment.items():
        for mid in chosen:
            session.add(DutySlot(center=center, day=day, mediator_id=mid))
    summary = fairness(assignment, ids)
    session.add(
        RotaEvent(
            center=center,
            action="generate",
            actor_id=actor.id,
            actor_name=actor.name,
            at=at or utcnow(),
            data={"start": start.isoformat(), "end": end.isoformat(), "per_day": per_day, "days": len(days), **summary},
        )
    )
    session.flush()
    return {"center": center, "start": start, "end": end, "per_day": per_day, "days": len(days), **summary}


def fairness(assignment: dict[date, list[int]], people: list[int]) -> dict[str, Any]:
    counts = dict.fromkeys(people, 0)
    for chosen in assignment.values():
        for p in chosen:
            counts[p] = counts.get(p, 0) + 1
    lo, hi = (min(counts.values()), max(counts.values())) if counts else (0, 0)
    return {"counts": {str(k): v for k, v in counts.items()}, "min": lo, "max": hi, "fair": hi - lo <= 1}


def swap(
    session: Session,
    center: str,
    day: date,
    from_id: int,
    to_id: int,
    reason: str,
    actor: Actor,
    at: datetime | None = None,
) -> DutySlot:
    slot = session.scalars(
        select(DutySlot).where(DutySlot.center == center, DutySlot.day == day, DutySlot.mediator_id == from_id)
    ).first()
    if slot is None:
        raise Conflict("not_on_duty", f"{day} 该人员不在值班表上", f"mediator {from_id} is not on duty on {day}")
    target = service.get_mediator(session, to_id)
    if target.center != center:
        raise Invalid("not_in_center", "替班人员不在该中心名册上", "the substitute is not on this center's roster")
    busy = session.scalars(
        select(DutySlot.id).where(DutySlot.center == center, DutySlot.day == day, DutySlot.mediator_id == to_id)
    ).first()
    if busy is not None:
        raise Conflict("already_on_duty", f"{day} 替班人员已在值班", f"mediator {to_id} is already on duty on {day}")
    off = session.scalars(
        select(MediatorUnavailability.id).where(
            MediatorUnavailability.mediator_id == to_id, MediatorUnavailability.day == day
        )
    ).first()
    if off is not None:
        raise Conflict("unavailable", f"{day} 替班人员已登记不能值班", f"mediator {to_id} is unavailable on {day}")
    slot.swapped_from_id = slot.swapped_from_id or from_id
    slot.mediator_id = to_id
    session.add(
        RotaEvent(
            center=center,
            action="swap",
            actor_id=actor.id,
            actor_name=actor.name,
            at=at or utcnow(),
            data={"day": day.isoformat(), "from": from_id, "to": to_id, "reason": reason},
        )
    )
    session.flush()
    return slot


def rota(session: Session, center: str, start: date, end: date) -> list[dict[str, Any]]:
    names = {m.id: m for m in members(session, center)}
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for slot in session.scalars(
        select(DutySlot)
        .where(DutySlot.center == center, DutySlot.day >= start, DutySlot.day <= end)
        .order_by(DutySlot.day, DutySlot.mediator_id)
    ):
        m = names.get(slot.mediator_id)
        by_day[slot.day].append(
            {
                "mediator_id": slot.mediator_id,
                "name": m.name if m else "",
                "kind": m.kind if m else "",
                "swapped_from_id": slot.swapped_from_id,
            }
        )
    return [{"day": d.isoformat(), "on_duty": v} for d, v in sorted(by_day.items())]
