"""Anchoring every case timeline (and the security log) in one global hash chain, and checking it.

What it catches: a case deleted together with its whole timeline (which its own chain cannot show), the
rewriting of an anchored event, a deleted or edited ledger entry, and a truncated ledger whose head row was
left alone. A ledger whose tail was cut *and* whose head row was rewound, or one recomputed from scratch,
verifies again — unless the operator kept the head printed by `pingan audit verify` somewhere outside the
database and passes it back (`--ledger-head SEQ:HASH`). Changes made between an event's commit and the
next anchoring pass (the background interval) are not covered by the ledger, only by the case chains.

Many processes may run `anchor()`: a pass locks the head row (PostgreSQL: FOR UPDATE SKIP LOCKED, so a
second process skips the pass; SQLite: BEGIN IMMEDIATE already serialises writers).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from pingan.audit.models import LedgerEntry, LedgerHead
from pingan.cases.models import Case, CaseEvent
from pingan.security.models import SecurityChainHead, SecurityEvent
from pingan.timeutil import utcnow

GENESIS = "0" * 64
LAG = timedelta(minutes=5)  # no write transaction stays open longer than this


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, seq: int, at: datetime, case_id: int | None, subject_seq: int, subject_hash: str) -> str:
    body = json.dumps([seq, _iso(at), case_id, subject_seq, subject_hash], separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _lock_head(session: Session) -> LedgerHead | None:
    """The head row, locked for this transaction; None when another process holds it (PostgreSQL)."""
    bind = session.get_bind()
    values = {"id": 1, "seq": 0, "hash": GENESIS, "event_cursor": 0, "settled_id": 0, "pending_id": 0}
    if bind.dialect.name == "postgresql":
        session.execute(postgresql.insert(LedgerHead).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(LedgerHead).values(**values).on_conflict_do_nothing())
    q = select(LedgerHead).where(LedgerHead.id == 1).with_for_update(skip_locked=True)
    return session.scalars(q).one_or_none()


def _append(session: Session, head: LedgerHead, at: datetime, case_id: int | None, seq: int, hash_: str) -> None:
    n = head.seq + 1
    h = entry_hash(head.hash, n, at, case_id, seq, hash_)
    session.add(
        LedgerEntry(seq=n, at=at, case_id=case_id, subject_seq=seq, subject_hash=hash_, prev_hash=head.hash, hash=h)
    )
    head.seq, head.hash = n, h


def anchor_pass(session: Session, batch: int = 2000, lag: timedelta = LAG) -> tuple[int, bool]:
    """One pass inside the caller's transaction: anchor the newest event of every case that has events
    beyond its last anchor among the next `batch` events after the cursor, and the security chain's head.
    Returns (entries appended, more events may be waiting)."""
    head = _lock_head(session)
    if head is None:
        return 0, False  # another process is anchoring right now
    now = utcnow()
    # Settle ids: the highest id seen `lag` ago can no longer be overtaken by a transaction still open.
    top = session.scalar(select(func.max(CaseEvent.id))) or 0
    if head.pending_at is not None and now - head.pending_at >= lag:
        head.settled_id = max(head.settled_id, head.pending_id)
        head.pending_at = None
    if head.pending_at is None:
        head.pending_id, head.pending_at = top, now
    rows = session.execute(
        select(CaseEvent.id, CaseEvent.case_id, CaseEvent.seq, CaseEvent.hash)
        .where(CaseEvent.id > head.event_cursor)
        .order_by(CaseEvent.id)
        .limit(batch)
    ).all()
    full = len(rows) == batch
    newest: dict[int, tuple[int, str]] = {}
    for _, case_id, seq, hash_ in rows:
        if seq > newest.get(case_id, (0, ""))[0]:
            newest[case_id] = (seq, hash_)
    anchored: dict[int, int] = {}
    if newest:
        anchored = dict(
            session.execute(  # type: ignore[arg-type]
                select(LedgerEntry.case_id, func.max(LedgerEntry.subject_seq))
                .where(LedgerEntry.case_id.in_(list(newest)))
                .group_by(LedgerEntry.case_id)
            ).all()
        )
    appended = 0
    for case_id in sorted(newest):
        seq, hash_ = newest[case_id]
        if seq > anchored.get(case_id, 0):
            _append(session, head, now, case_id, seq, hash_)
            appended += 1
    security = session.get(SecurityChainHead, 1)
    if security is not None and security.seq > head.security_seq:
        _append(session, head, now, None, security.seq, security.hash)
        head.security_seq = security.seq
        appended += 1
    # Advance the cursor over what is settled and then over the unbroken run of ids; a gap above the
    # settled ids may still be filled by a transaction in flight, so the events after it are read again
    # next time (their anchors are not repeated).
    cursor = max(head.event_cursor, min(head.settled_id, rows[-1][0] if full else head.settled_id))
    for event_id, *_ in rows:
        if event_id <= cursor:
            continue
        if event_id != cursor + 1:
            break
        cursor = event_id
    head.event_cursor = cursor
    session.flush()
    return appended, full


def anchor(factory: sessionmaker[Session], budget_s: float = 10.0, batch: int = 2000) -> int:
    """Anchor until caught up (or `budget_s` passed), one transaction per batch. The background job."""
    total = 0
    deadline = time.monotonic() + budget_s
    while True:
        with factory() as session:
            n, more = anchor_pass(session, batch=batch)
            session.commit()
        total += n
        if not more or time.monotonic() > deadline:
            return total


@dataclass
class Problem:
    seq: int | None  # the ledger entry
    problem: str

    def __str__(self) -> str:
        return f"ledger{f' entry #{self.seq}' if self.seq else ''}: {self.problem}"


@dataclass
class LedgerReport:
    entries: int
    cases: int
    head_seq: int
    head_hash: str
    problems: list[Problem]


def parse_head(text: str) -> tuple[int, str]:
    """'SEQ:HASH' as printed by `pingan audit verify`."""
    seq, _, hash_ = text.partition(":")
    if not seq.strip().isdigit() or len(hash_.strip()) != 64:
        raise ValueError("expected SEQ:HASH (the ledger head printed by `pingan audit verify`)")
    return int(seq), hash_.strip().lower()


def verify(session: Session, expect_head: tuple[int, str] | None = None, batch: int = 2000) -> LedgerReport:
    """Walk the ledger: its own chain, and every anchored event (the case must exist, its event #n must
    still carry the anchored hash). Names each missing or rewritten case once."""
    problems: list[Problem] = []
    prev, expected, n, last_seq = GENESIS, 1, 0, 0
    cases_seen: set[int] = set()
    bad_cases: set[int] = set()
    security_bad = False
    expect_found = False
    while True:
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.seq > last_seq).order_by(LedgerEntry.seq).limit(batch)
        ).all()
        if not entries:
            break
        case_ids = {e.case_id for e in entries if e.case_id is not None}
        existing = set(session.scalars(select(Case.id).where(Case.id.in_(case_ids)))) if case_ids else set()
        pairs = [(e.case_id, e.subject_seq) for e in entries if e.case_id is not None]
        events: dict[tuple[int, int], str] = {}
        if pairs:
            q = select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.hash).where(
                tuple_(CaseEvent.case_id, CaseEvent.seq).in_(pairs)
            )
            events = {(c, s): h for c, s, h in session.execute(q)}
        sec_seqs = [e.subject_seq for e in entries if e.case_id is None]
        sec: dict[int, str] = {}
        if sec_seqs:
            q2 = select(SecurityEvent.seq, SecurityEvent.hash).where(SecurityEvent.seq.in_(sec_seqs))
            sec = {s: h for s, h in session.execute(q2)}
        for e in entries:
            n += 1
            if e.seq != expected:
                problems.append(Problem(expected, f"entries #{expected}–#{e.seq - 1} are missing (deleted)"))
            if e.prev_hash != prev:
                problems.append(Problem(e.seq, "previous-hash link broken (an earlier entry was changed)"))
            if entry_hash(e.prev_hash, e.seq, e.at, e.case_id, e.subject_seq, e.subject_hash) != e.hash:
                problems.append(Problem(e.seq, "content does not match its hash (edited)"))
            if expect_head is not None and e.seq == expect_head[0]:
                expect_found = True
                if e.hash != expect_head[1]:
                    problems.append(Problem(e.seq, "does not match the recorded head (the ledger was rewritten)"))
            prev, expected = e.hash, e.seq + 1
            if e.case_id is None:
                got = sec.get(e.subject_seq)
                if got != e.subject_hash and not security_bad:
                    security_bad = True
                    what = "is missing (deleted)" if got is None else "no longer matches its anchored hash"
                    problems.append(Problem(e.seq, f"security event #{e.subject_seq} {what}"))
                continue
            cases_seen.add(e.case_id)
            if e.case_id in bad_cases:
                continue
            got = events.get((e.case_id, e.subject_seq))
            if e.case_id not in existing and got is None:
                bad_cases.add(e.case_id)
                problems.append(Problem(e.seq, f"case {e.case_id} is missing (deleted with its timeline)"))
            elif got is None:
                bad_cases.add(e.case_id)
                problems.append(Problem(e.seq, f"case {e.case_id} event #{e.subject_seq} is missing (deleted)"))
            elif got != e.subject_hash:
                bad_cases.add(e.case_id)
                problems.append(
                    Problem(e.seq, f"case {e.case_id} event #{e.subject_seq} no longer matches its anchored hash")
                )
        last_seq = entries[-1].seq
        session.expunge_all()
    head = session.get(LedgerHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected - 1 or head_hash != prev:
        missing = head_seq - (expected - 1)
        what = f"{missing} trailing entries deleted" if missing > 0 else "the head row does not match the ledger"
        problems.append(Problem(None, what))
    if expect_head is not None and not expect_found:
        problems.append(
            Problem(None, f"entry #{expect_head[0]} (the recorded head) is missing: the ledger was truncated")
        )
    return LedgerReport(n, len(cases_seen), expected - 1, prev, problems)
