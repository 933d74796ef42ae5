"""Security audit (安全审计): security events join their own hash chain; `pingan audit verify` checks it with
the case timelines; the database refuses to change or delete events inside the retention period."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from pingan.cli import app
from pingan.security import events
from pingan.security.models import SecurityEvent
from pingan.sim.org import DEMO_PASSWORD


def _verify(db) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(app, ["audit", "verify", "--db", db.url])
    return r.exit_code, r.output


@contextmanager
def _guard_off(db) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """What an attacker with database rights could do: switch the guard triggers off (and back on)."""
    with db.engine.begin() as conn:
        if db.kind == "postgresql":
            conn.execute(text("ALTER TABLE security_events DISABLE TRIGGER security_events_guard"))
        else:
            conn.execute(text("DROP TRIGGER security_events_no_update"))
            conn.execute(text("DROP TRIGGER security_events_no_delete"))
    try:
        yield
    finally:
        with db.engine.begin() as conn:
            if db.kind == "postgresql":
                conn.execute(text("ALTER TABLE security_events ENABLE TRIGGER security_events_guard"))
            else:
                from importlib import import_module

                mig = import_module("migrations.versions.0008_trust")
                for stmt in mig.SQLITE_GUARD:
                    conn.execute(text(stmt))


def test_security_events_are_chained(api, session, db) -> None:  # type: ignore[no-untyped-def]
    api.client.post("/api/v1/auth/login", json={"username": "zuoxi", "password": "wrong-Password-9"})
    api.client.post("/api/v1/auth/login", json={"username": "zuoxi", "password": DEMO_PASSWORD})
    rows = session.scalars(select(SecurityEvent).order_by(SecurityEvent.seq)).all()
    assert [r.kind for r in rows[-2:]] == ["login_failed", "login"]
    for prev, cur in zip(rows, rows[1:], strict=False):
        assert cur.prev_hash == prev.hash and cur.seq == prev.seq + 1
    n, problems = events.verify(session)
    assert problems == [] and n == len(rows)
    code, out = _verify(db)
    assert code == 0 and "security events" in out, out


def test_the_database_refuses_to_change_or_delete_events(api, db) -> None:  # type: ignore[no-untyped-def]
    api.client.post("/api/v1/auth/login", json={"username": "zuoxi", "password": DEMO_PASSWORD})
    for stmt in ("UPDATE security_events SET detail = 'x'", "DELETE FROM security_events"):
        with pytest.raises(DBAPIError), db.engine.begin() as conn:
            conn.execute(text(stmt))
    with db.session() as s:
        assert s.scalar(select(SecurityEvent.id).limit(1)) is not None


def test_no_route_deletes_or_edits_the_log(api) -> None:  # type: ignore[no-untyped-def]
    from fastapi.routing import iter_route_contexts

    for rc in iter_route_contexts(api.client.app.routes):
        path = getattr(rc, "path", "")
        if "security-events" in path or "audit" in path:
            assert set(getattr(rc, "methods", set()) or set()) <= {"GET", "HEAD"}, path


def test_verify_names_edited_and_deleted_events(api, session, db) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        api.client.post("/api/v1/auth/login", json={"username": "zuoxi", "password": DEMO_PASSWORD})
    seqs = list(session.scalars(select(SecurityEvent.seq).order_by(SecurityEvent.seq)))
    middle, last = seqs[-2], seqs[-1]
    with _guard_off(db):
        with db.engine.begin() as conn:
            orig = conn.execute(text("SELECT detail FROM security_events WHERE seq = :s"), {"s": middle}).scalar_one()
            conn.execute(text("UPDATE security_events SET detail = 'covered up' WHERE seq = :s"), {"s": middle})
        code, out = _verify(db)
        assert code == 1 and f"event #{middle}" in out and "edited" in out
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE security_events SET detail = :d WHERE seq = :s"), {"d": orig, "s": middle})
            table = SecurityEvent.__table__
            saved = dict(conn.execute(select(table).where(table.c.seq == last)).mappings().one())
            conn.execute(text("DELETE FROM security_events WHERE seq = :s"), {"s": last})
        code, out = _verify(db)
        assert code == 1 and "trailing event(s) deleted" in out
        with db.engine.begin() as conn:
            conn.execute(table.insert().values(**saved))
    code, out = _verify(db)
    assert code == 0, out


def test_login_failures_and_lockouts_are_logged_with_address(api, session) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        api.client.post("/api/v1/auth/login", json={"username": "lingdao", "password": "Wrong-Password-1"})
    rows = session.scalars(select(SecurityEvent).order_by(SecurityEvent.seq.desc()).limit(6)).all()
    assert rows[0].kind == "lockout" and rows[0].actor_name == "lingdao"
    assert all(r.ip == "testclient" for r in rows[:5])
    page = api.get("admin", "/api/v1/admin/security-events", params={"kind": "lockout"}).json()
    assert page["total"] >= 1 and page["items"][0]["kind_label"] == "账号锁定"
    assert api.get("zuoxi", "/api/v1/admin/security-events").status_code == 403
    assert api.get("admin", "/api/v1/admin/security-events/verify").json()["ok"] is True
