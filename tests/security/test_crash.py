"""Nothing lost (数据完整性): 10,000 intake requests — one per case — from a client that retries on error,
while the server is killed with SIGKILL twice and restarted → exactly 10,000 cases, none duplicated, none
lost, every timeline intact; on SQLite (WAL, synchronous FULL) and on PostgreSQL.

The suite sends 1,000 requests per database to stay within CI time; PINGAN_CRASH_CASES=10000 runs the
issue's full figure (recorded in SECURITY.md / the closing notes)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from sqlalchemy import func, select

from pingan.audit.chain import verify_all
from pingan.cases.models import Case, CaseEvent
from pingan.orgs import service as orgs
from pingan.orgs.models import User
from tests.security.crashkit import Server, hammer

N = int(os.environ.get("PINGAN_CRASH_CASES", "1000"))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_sigkill_twice_loses_and_duplicates_nothing(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        if db.kind == "sqlite":
            assert s.connection().exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert s.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        user = s.scalars(select(User).where(User.username == "api12345")).one()
        token = orgs.issue_token(s, user, "api")
        s.commit()
    prefix = "CRASH-" + uuid.uuid4().hex[:6]
    server = Server(db.url)
    server.start()
    kills: list[int] = []
    kill_at = [N // 4, (N * 3) // 5]
    killing = threading.Lock()

    def on_progress(done: int) -> None:
        # Kill when the client has had kill_at answers; restart at once (the client keeps retrying meanwhile).
        if kill_at and done >= kill_at[0] and killing.acquire(blocking=False):
            try:
                if kill_at and done >= kill_at[0]:
                    kill_at.pop(0)
                    server.kill()
                    kills.append(done)
                    server.start()
            finally:
                killing.release()

    try:
        out = hammer(server, token, N, prefix, on_progress=on_progress, give_up_s=3000)
    finally:
        server.stop()
    print(
        f"\n{db.kind}: {N} cases in {out.seconds:.1f} s ({N / out.seconds:.0f}/s), kills after {kills}, "
        f"retries {out.retries} {out.errors}, server starts {server.starts}"
    )
    assert len(kills) == 2 and server.starts == 3
    assert len(out.answers) == N
    with db.session() as s:
        ours = select(Case).where(Case.channel == "hotline_12345", Case.external_id.like(f"{prefix}-%"))
        rows = s.execute(select(Case.id, Case.external_id).where(ours.whereclause)).all()  # type: ignore[arg-type]
        assert len(rows) == N, f"{len(rows)} cases for {N} requests"
        assert len({e for _, e in rows}) == N  # none duplicated
        by_ext = {e: i for i, e in rows}
        assert by_ext == out.answers  # every answer the client got is the case that exists
        intakes = s.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.action == "intake", CaseEvent.case_id.in_([i for i, _ in rows]))
        )
        assert intakes == N  # exactly one 受理 event each
        _, _, problems = verify_all(s)
        assert problems == []
