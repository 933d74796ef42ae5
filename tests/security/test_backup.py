"""Backup (数据备份与恢复): `pingan backup` while writes continue, `pingan restore` into an empty database →
consistent (every timeline and the security chain verify) and identical (a second round trip changes
nothing), on SQLite (online backup API) and PostgreSQL (pg_dump / pg_restore)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from pingan.audit.chain import verify_all
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cli import app
from pingan.db import make_engine, make_session_factory
from pingan.intake import adapters, pipeline
from pingan.intake.schemas import Hotline12345In
from pingan.models import metadata
from pingan.orgs.roles import Role
from pingan.security import events
from tests.conftest import PG_ADMIN_URL

SKIP_COMPARE = {"security_events", "security_chain_head"}  # `pingan backup`/`restore` log themselves


def _dump(url: str, tables: set[str] | None = None) -> dict[str, list[str]]:
    engine = make_engine(url)
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if tables is None or table.name in tables:
                out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
        out["alembic_version"] = sorted(
            repr(tuple(r)) for r in conn.execute(text("SELECT version_num FROM alembic_version"))
        )
    engine.dispose()
    return out


@pytest.fixture
def empty_url(db, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    urls: list[str] = []

    def make() -> str:
        if db.kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'restored-{len(urls)}.db'}"
        else:
            name = f"pingan_restore_{uuid.uuid4().hex[:8]}"
            with create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        urls.append(url)
        return url

    yield make  # type: ignore[misc]
    if db.kind == "postgresql":
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for url in urls:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()


def _writer(db, stop: threading.Event, written: list[int]) -> None:  # type: ignore[no-untyped-def]
    actor = Actor(id=None, name="备份测试", role=Role.OPERATOR)
    tag = uuid.uuid4().hex[:6]
    i = 0
    while not stop.is_set():
        body = Hotline12345In(
            work_order_no=f"BK-{tag}-{i}",
            case_type="投诉",
            title=f"备份期间写入 {i}",
            content="岳阳楼区某小区噪音扰民，请处理",
            caller_phone="13812341234",
            caller_name="王备份",
        )
        with db.session() as s:
            written.append(pipeline.submit(s, adapters.from_hotline(body, actor), actor).case_id)
            s.commit()
        i += 1


def test_backup_while_writing_and_restore_round_trip(db, empty_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    written: list[int] = []
    t = threading.Thread(target=_writer, args=(db, stop, written), daemon=True)
    t.start()
    try:
        while len(written) < 5:
            time.sleep(0.05)
        before = len(written)
        file = tmp_path / "pingan.backup"
        r = CliRunner().invoke(app, ["backup", str(file), "--db", db.url])
        assert r.exit_code == 0, r.output
        during = len(written)
        deadline = time.monotonic() + 60
        while len(written) < during + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(60)
    assert len(written) > during  # writes really went on around the backup

    target = empty_url()
    r = CliRunner().invoke(app, ["restore", str(file), "--db", target, "--yes"])
    assert r.exit_code == 0, r.output

    # Consistent: every case that made it has its whole timeline; the security chain is intact.
    engine = make_engine(target)
    with make_session_factory(engine)() as s:
        n_cases, _, problems = verify_all(s)
        assert problems == []
        _, sec_problems = events.verify(s)
        assert sec_problems == []
        restored_ids = set(s.scalars(select(Case.id)))
        assert set(written[:before]) <= restored_ids  # everything committed before the backup began
        assert restored_ids <= set(written) | set(s.scalars(select(Case.id).where(Case.external_id.not_like("BK-%"))))
        assert s.scalar(select(Case.caller_name).where(Case.id == written[0])) == "王备份"  # decrypts
        raw = s.execute(text("SELECT caller_phone FROM cases WHERE id = :i"), {"i": written[0]}).scalar_one()
        assert raw.startswith("v1:")  # the backup holds ciphertext, never the phone number
    engine.dispose()

    # Identical: the restored rows are the source's rows (the source only gained cases since).
    live = _dump(db.url)
    got = _dump(target)
    for name, rows in got.items():
        if name in SKIP_COMPARE:
            continue
        if name in ("cases", "case_events", "case_departments", "outbox"):
            assert set(rows) <= set(live[name]), name
        else:
            assert rows == live[name], name
    assert len(got["cases"]) == n_cases >= before

    # A second round trip from the restored database changes nothing at all.
    file2 = tmp_path / "again.backup"
    assert CliRunner().invoke(app, ["backup", str(file2), "--db", target]).exit_code == 0
    target2 = empty_url()
    assert CliRunner().invoke(app, ["restore", str(file2), "--db", target2, "--yes"]).exit_code == 0
    again = _dump(target2)
    for name in got:
        if name not in SKIP_COMPARE:
            assert again[name] == got[name], name


def test_restore_refuses_a_foreign_file(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "x.backup"
    bogus.write_bytes(b"not a backup at all")
    r = CliRunner().invoke(app, ["restore", str(bogus), "--db", db.url, "--yes"])
    assert r.exit_code != 0
    with db.session() as s:
        assert s.scalar(text("SELECT count(*) FROM users")) > 0  # untouched
