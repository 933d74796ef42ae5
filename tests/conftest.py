"""Test databases: every test that asks for `db` runs on SQLite and on the real PostgreSQL.

Each pytest run creates its own databases (a temporary SQLite file and a fresh PostgreSQL database),
migrates them with Alembic, seeds the real divisions, departments and one account per role once, and
empties the case tables before every test.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from pingan.app import create_app
from pingan.config import Settings
from pingan.db import make_autocommit_factory, make_engine, make_session_factory, session_scope
from pingan.migrate import upgrade
from pingan.sim.org import DEMO_PASSWORD, seed_demo_users, seed_organisation


def _test_policy_dir() -> Path:
    """The shipped policies with automatic dispatch switched off: tests walk the loop by hand unless a test
    turns it on (tests/intake/test_auto_dispatch.py uses the shipped policy)."""
    shipped = Path(__file__).resolve().parents[1] / "data" / "policy"
    target = Path(tempfile.mkdtemp(prefix="pingan-policy-"))
    for f in shipped.glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        if f.name == "responsibility.yaml":
            text = re.sub(r"(?m)^auto_dispatch_threshold:.*$", "auto_dispatch_threshold: 1.0", text)
        (target / f.name).write_text(text, encoding="utf-8")
    return target


SHIPPED_POLICY_DIR = Path(__file__).resolve().parents[1] / "data" / "policy"
os.environ["PINGAN_POLICY_DIR"] = str(_test_policy_dir())

PG_ADMIN_URL = os.environ.get("PINGAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Tables emptied before each test (organisation and accounts are kept).
VOLATILE = ["outbox", "case_events", "case_departments", "attachments", "cases", "holiday_notices", "auth_tokens"]
VOLATILE += ["rate_counters"]  # rate limits are shared through the database: each test starts afresh
VOLATILE += ["audit_ledger", "audit_ledger_head"]  # the global anchor ledger follows the cases
VOLATILE += ["metric_facts"]  # the KPI rollup (pingan.metrics.rollup) follows the timeline


@dataclass
class Database:
    kind: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]

    def session(self) -> Session:
        return self.factory()

    def settings(self, **kw: object) -> Settings:
        s = Settings()
        s.db_url = self.url
        for k, v in kw.items():
            setattr(s, k, v)
        return s

    def clean(self) -> None:
        with self.engine.begin() as conn:
            if self.kind == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(VOLATILE)} RESTART IDENTITY CASCADE"))
            else:
                for t in VOLATILE:
                    conn.execute(text(f"DELETE FROM {t}"))


def _prepare(kind: str, url: str) -> Database:
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        seed_organisation(session)
        seed_demo_users(session)
    return Database(kind, url, engine, factory)


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path = tmp_path_factory.mktemp("sqlite") / "pingan.db"
    db = _prepare("sqlite", f"sqlite:///{path}")
    yield db
    db.engine.dispose()


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_db() -> Iterator[Database]:
    name = f"pingan_test_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = _prepare("postgresql", url)
    yield db
    db.engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    database: Database = request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")
    database.clean()
    yield database


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """Autocommit: every query sees what the server has committed so far, and holds no lock."""
    with make_autocommit_factory(db.engine)() as s:
        yield s


class Api:
    """A TestClient that logs in as a demo account per role on first use."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = self.client.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            self.client.cookies.clear()  # each call says who it is; anonymous calls stay anonymous
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def as_(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def post(self, username: str, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.client.post(url, headers=self.as_(username), **kw)  # type: ignore[arg-type]

    def get(self, username: str, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.client.get(url, headers=self.as_(username), **kw)  # type: ignore[arg-type]


@pytest.fixture
def api(db: Database) -> Iterator[Api]:
    app = create_app(db.settings(), background=False)
    with TestClient(app) as client:
        client.cookies.clear()
        yield Api(client)


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data"
