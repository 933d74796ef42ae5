"""Browser tests: a real uvicorn server on a free localhost port (in a thread) against the SQLite test
database, and Debian's chromium driven by Playwright. Skipped where chromium is not installed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from pingan.app import create_app
from pingan.config import DATA_DIR
from pingan.sim.org import DEMO_PASSWORD
from tests.conftest import Database

CHROMIUM = os.environ.get("PINGAN_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    db: Database
    tokens: dict[str, str]

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def api(self, method: str, username: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(username)}"}
        r = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)
        if r.status_code == 401:
            # Another test module cleaned the shared database (tokens included) since we logged in.
            self.tokens.pop(username, None)
            headers = {"Authorization": f"Bearer {self.token(username)}"}
            r = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)
        return r


@pytest.fixture(scope="session")
def live_server(sqlite_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The server, with automatic dispatch switched off (threshold 1.0) so that a person dispatches by clicking,
    and the routing model (when one is installed) loaded before the first page is timed."""
    sqlite_db.clean()
    policy_dir = tmp_path_factory.mktemp("policy")
    shutil.copytree(DATA_DIR / "policy", policy_dir, dirs_exist_ok=True)
    resp = policy_dir / "responsibility.yaml"
    resp.write_text(
        re.sub(r"(?m)^auto_dispatch_threshold:.*$", "auto_dispatch_threshold: 1.0", resp.read_text("utf-8")),
        encoding="utf-8",
    )
    old_policy_dir = os.environ.get("PINGAN_POLICY_DIR")
    os.environ["PINGAN_POLICY_DIR"] = str(policy_dir)  # policies are read through Settings() from the environment
    try:
        from pingan.dispatch import classifier

        classifier.load()
    except Exception:  # no model installed: routing answers without suggestions
        pass
    settings = sqlite_db.settings(upload_dir=tmp_path_factory.mktemp("uploads"), policy_dir=policy_dir)
    app = create_app(settings, background=False)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", sqlite_db, {})
    server.should_exit = True
    thread.join(timeout=10)
    if old_policy_dir is None:
        os.environ.pop("PINGAN_POLICY_DIR", None)
    else:
        os.environ["PINGAN_POLICY_DIR"] = old_policy_dir


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
