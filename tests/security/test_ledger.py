"""The global anchor ledger (防篡改, 8.1.4.7): a case deleted with its whole timeline, or a timeline cut back
consistently, leaves its own hash chain looking intact; the ledger names it. The ledger's own chain and its
head (recorded outside the database) catch edits, deletions and truncation of the ledger itself."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pingan.audit import ledger
from pingan.audit.chain import verify_all
from pingan.audit.models import LedgerEntry, LedgerHead
from pingan.cases.models import Case, CaseEvent
from pingan.cli import app
from pingan.db import make_engine, make_session_factory
from pingan.models import metadata
from tests.helpers import act, new_case


def _verify(db, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(app, ["audit", "verify", "--db", db.url, *args])
    return r.exit_code, r.output


def _anchor(db) -> str:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(app, ["audit", "anchor", "--db", db.url])
    assert r.exit_code == 0, r.output
    return r.output


def _head_arg(out: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith("ledger head: "))
    return line.split()[2]


def _delete_case_behind_the_apps_back(db, case_id: int) -> None:  # type: ignore[no-untyped-def]
    """What someone with database rights could do: remove the case and every row that points at it."""
    with db.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            for fk in table.foreign_keys:
                if fk.column.table.name == "cases" and table.name != "cases":
                    conn.execute(table.delete().where(fk.parent == case_id))
        conn.execute(text("DELETE FROM cases WHERE id = :id"), {"id": case_id})


def _three_cases(api) -> list[int]:  # type: ignore[no-untyped-def]
    ids = [new_case(api, f"LEDGER-{i}")["case_id"] for i in range(3)]
    act(api, "zuoxi", ids[1], "comment", note="已联系来电人")
    return ids


def test_a_deleted_case_is_named_by_the_ledger(api, db, session) -> None:  # type: ignore[no-untyped-def]
    ids = _three_cases(api)
    assert "4 ledger entries appended" in _anchor(db)  # 3 cases + the security chain (logins)
    code, out = _verify(db)
    assert code == 0 and "ledger 4 entries over 3 cases" in out, out
    assert _anchor(db).startswith("0 ledger entries")  # nothing new: nothing repeated
    _delete_case_behind_the_apps_back(db, ids[1])
    # The per-case chains alone cannot see it: what is left is intact.
    n_cases, _, problems = verify_all(session)
    assert n_cases == 2 and problems == []
    code, out = _verify(db)
    assert code == 1, out
    assert f"case {ids[1]} is missing (deleted with its timeline)" in out
    assert f"case {ids[0]}" not in out and f"case {ids[2]}" not in out


def test_a_timeline_cut_back_consistently_is_caught(api, db, session) -> None:  # type: ignore[no-untyped-def]
    ids = _three_cases(api)
    _anchor(db)
    case_id = ids[1]
    with db.engine.begin() as conn:  # drop the last event and rewind the case's head to match
        n = conn.execute(text("SELECT event_count FROM cases WHERE id = :id"), {"id": case_id}).scalar_one()
        prev = conn.execute(
            text("SELECT hash FROM case_events WHERE case_id = :id AND seq = :s"), {"id": case_id, "s": n - 1}
        ).scalar_one()
        conn.execute(text("DELETE FROM case_events WHERE case_id = :id AND seq = :s"), {"id": case_id, "s": n})
        conn.execute(
            text("UPDATE cases SET event_count = :n, head_hash = :h WHERE id = :id"),
            {"n": n - 1, "h": prev, "id": case_id},
        )
    assert verify_all(session)[2] == []
    code, out = _verify(db)
    assert code == 1 and f"case {case_id} event #{n} is missing (deleted)" in out, out


def test_the_ledger_itself_is_tamper_evident(api, db) -> None:  # type: ignore[no-untyped-def]
    _three_cases(api)
    _anchor(db)
    code, out = _verify(db)
    assert code == 0
    recorded = _head_arg(out)
    assert recorded.startswith("4:") and len(recorded) == 2 + 64
    assert _verify(db, "--ledger-head", recorded)[0] == 0
    table = LedgerEntry.__table__
    with db.engine.begin() as conn:
        orig = conn.execute(select(table.c.subject_hash).where(table.c.seq == 2)).scalar_one()
        conn.execute(table.update().where(table.c.seq == 2).values(subject_hash="f" * 64))
    code, out = _verify(db)
    assert code == 1 and "ledger entry #2: content does not match its hash (edited)" in out, out
    with db.engine.begin() as conn:
        conn.execute(table.update().where(table.c.seq == 2).values(subject_hash=orig))
        saved = dict(conn.execute(select(table).where(table.c.seq == 4)).mappings().one())
        conn.execute(table.delete().where(table.c.seq == 4))
    code, out = _verify(db)
    assert code == 1 and "1 trailing entries deleted" in out, out
    # Rewind the head row too: the database alone now looks consistent …
    head = LedgerHead.__table__
    with db.engine.begin() as conn:
        conn.execute(head.update().values(seq=3, hash=saved["prev_hash"]))
    assert _verify(db)[0] == 0
    # … but not against the head the operator recorded.
    code, out = _verify(db, "--ledger-head", recorded)
    assert code == 1 and "entry #4 (the recorded head) is missing: the ledger was truncated" in out, out
    bad = CliRunner().invoke(app, ["audit", "verify", "--db", db.url, "--ledger-head", "nonsense"])
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.output


def test_several_processes_anchor_without_duplicates(api, db) -> None:  # type: ignore[no-untyped-def]
    """Two processes' background jobs (two engines, two pools) anchor at once while cases keep coming."""
    engines = [make_engine(db.url) for _ in range(2)]
    factories = [make_session_factory(e) for e in engines]
    errors: list[BaseException] = []
    stop = threading.Event()

    def job(k: int) -> None:
        try:
            while not stop.is_set():
                ledger.anchor(factories[k], batch=3)
                stop.wait(0.02)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    try:
        ids = [new_case(api, f"PAR-{i}")["case_id"] for i in range(12)]
        for i in ids[::3]:
            act(api, "zuoxi", i, "comment", note="补充说明")
    finally:
        stop.set()
        for t in threads:
            t.join()
        for e in engines:
            e.dispose()
    assert errors == []
    ledger.anchor(make_session_factory(db.engine))
    with Session(db.engine) as s:
        seqs = list(s.scalars(select(LedgerEntry.seq).order_by(LedgerEntry.seq)))
        assert seqs == list(range(1, len(seqs) + 1))
        pairs = s.execute(select(LedgerEntry.case_id, LedgerEntry.subject_seq).where(LedgerEntry.case_id.is_not(None)))
        pairs = list(pairs)
        assert len(pairs) == len(set(pairs))  # no anchor twice
        newest = dict(s.execute(select(Case.id, Case.event_count).where(Case.id.in_(ids))).all())
        anchored = dict(
            s.execute(
                select(LedgerEntry.case_id, func.max(LedgerEntry.subject_seq)).group_by(LedgerEntry.case_id)
            ).all()
        )
        assert {i: anchored.get(i) for i in ids} == newest  # every case anchored at its head
    with Session(db.engine) as s:
        report = ledger.verify(s)
    assert report.problems == [] and report.cases == 12


def test_an_event_still_in_flight_is_not_skipped(api, db) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL hands out ids before commit: a transaction still open leaves a gap below later events.
    The cursor waits at the gap until it is settled, so the late event is anchored when it commits."""
    if db.kind == "sqlite":
        pytest.skip("SQLite has one writer: ids are handed out and committed in order")
    first = new_case(api, "FLIGHT-1")["case_id"]
    late = make_engine(db.url)
    conn = late.connect()
    tx = conn.begin()
    try:
        # An event written by a transaction that has not committed yet.
        conn.execute(
            text(
                "INSERT INTO case_events (case_id, seq, action, actor_name, actor_role, at, note, data,"
                " prev_hash, hash) SELECT id, event_count + 1, 'comment', 'x', 'x', now(), '', '{}', head_hash,"
                " :h FROM cases WHERE id = :id"
            ),
            {"h": "a" * 64, "id": first},
        )
        in_flight = conn.execute(text("SELECT max(id) FROM case_events")).scalar_one()
        second = new_case(api, "FLIGHT-2")["case_id"]  # commits an event with a higher id
        factory = make_session_factory(db.engine)
        ledger.anchor(factory)
        with Session(db.engine) as s:
            head = s.get(LedgerHead, 1)
            assert head is not None and head.event_cursor == in_flight - 1  # stopped at the gap
            assert s.scalar(select(func.count()).where(LedgerEntry.case_id == second)) == 1
        tx.commit()
        ledger.anchor(factory)
        with Session(db.engine) as s:
            got = s.scalar(select(func.max(LedgerEntry.subject_seq)).where(LedgerEntry.case_id == first))
            last = s.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == first))
            assert got == last and s.get(LedgerHead, 1).event_cursor > in_flight  # type: ignore[union-attr]
    finally:
        conn.close()
        late.dispose()


def test_the_server_background_job_anchors(api, db) -> None:  # type: ignore[no-untyped-def]
    import time

    from pingan.background import Worker

    case_id = new_case(api, "BG-1")["case_id"]
    worker = Worker(make_session_factory(db.engine), db.settings(sweeper_interval_s=0.2))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        anchored = None
        while anchored is None and time.monotonic() < deadline:
            with Session(db.engine) as s:
                anchored = s.scalar(select(LedgerEntry.subject_seq).where(LedgerEntry.case_id == case_id))
            time.sleep(0.2)
    finally:
        worker.stop()
        worker.join(30)
    assert anchored is not None and anchored >= 1
