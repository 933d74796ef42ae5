"""The hash chain over each case's timeline (防篡改).

Each event's hash is SHA-256 over the previous event's hash and the event's canonical JSON. The case row
keeps the head hash and the event count, so a deleted last event is caught as well as an edited one.
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

from pingan.cases.models import Case, CaseEvent

GENESIS = "0" * 64


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    prev_hash: str,
    case_id: int,
    seq: int,
    action: str,
    actor_id: int | None,
    actor_name: str,
    actor_role: str,
    at: datetime,
    from_status: str | None,
    to_status: str | None,
    note: str,
    data: dict[str, Any],
) -> str:
    body = json.dumps(
        [case_id, seq, action, actor_id, actor_name, actor_role, _iso(at), from_status, to_status, note, data],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def hash_of(ev: CaseEvent) -> str:
    return event_hash(
        ev.prev_hash,
        ev.case_id,
        ev.seq,
        ev.action,
        ev.actor_id,
        ev.actor_name,
        ev.actor_role,
        ev.at,
        ev.from_status,
        ev.to_status,
        ev.note,
        ev.data or {},
    )


@dataclass
class Problem:
    case_id: int
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"case {self.case_id}" + (f" event #{self.seq} (id {self.event_id})" if self.seq else "")
        return f"{where}: {self.problem}"


def verify_case(case: Case, events: list[CaseEvent]) -> Iterator[Problem]:
    prev = GENESIS
    expected_seq = 1
    for ev in events:
        if ev.seq != expected_seq:
            yield Problem(case.id, expected_seq, None, f"event #{expected_seq} is missing (deleted)")
            expected_seq = ev.seq
        if ev.prev_hash != prev:
            yield Problem(case.id, ev.seq, ev.id, "previous-hash link broken (an earlier event was changed)")
        if hash_of(ev) != ev.hash:
            yield Problem(case.id, ev.seq, ev.id, "content does not match its hash (edited)")
        prev = ev.hash
        expected_seq += 1
    if case.event_count != len(events) or case.head_hash != prev:
        missing = case.event_count - len(events)
        what = f"{missing} trailing event(s) deleted" if missing > 0 else "head hash does not match the timeline"
        yield Problem(case.id, None, None, what)


def verify_all(session: Session, batch: int = 2000) -> tuple[int, int, list[Problem]]:
    """Check every case's chain. Returns (cases checked, events checked, problems)."""
    problems: list[Problem] = []
    n_cases = n_events = 0
    last_id = 0
    while True:
        cases = session.scalars(select(Case).where(Case.id > last_id).order_by(Case.id).limit(batch)).all()
        if not cases:
            break
        ids = [c.id for c in cases]
        by_case: dict[int, list[CaseEvent]] = {i: [] for i in ids}
        rows = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id.in_(ids)).order_by(CaseEvent.case_id, CaseEvent.seq)
        )
        for ev in rows:
            by_case[ev.case_id].append(ev)
        for c in cases:
            n_cases += 1
            n_events += len(by_case[c.id])
            problems.extend(verify_case(c, by_case[c.id]))
        last_id = ids[-1]
        session.expunge_all()
    return n_cases, n_events, problems
