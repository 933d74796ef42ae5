"""Rate limits on login and public intake are one budget for every server process: the counters live in the
database (`rate_counters`), so `pingan serve --workers 2` or two hosts do not double a client's allowance."""

from __future__ import annotations

import math

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pingan.app import create_app
from pingan.security.http import RateLimiter, Rule
from pingan.security.models import RateCounter
from tests.security.crashkit import Server

REPORT = {"title": "路灯不亮", "content": "小区路灯坏了一个月", "caller_phone": "13712345678"}
BAD_LOGIN = {"username": "nobody", "password": "x"}


def _assert_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    assert err["code"] == "rate_limited" and err["message"] == "请求过于频繁，请稍后再试"
    assert err["message_en"] == "too many requests; slow down"
    assert 1 <= int(r.headers["Retry-After"]) <= 7201


def test_two_apps_on_one_database_share_one_budget(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PINGAN_RATE_LOGIN_PER_MIN", "4")
    monkeypatch.setenv("PINGAN_RATE_PUBLIC_PER_MIN", "3")
    apps = [create_app(db.settings(), background=False) for _ in range(2)]
    for app in apps:  # one instant for both (a window boundary would let the older hits fade)
        app.state.rate_limiter.clock = lambda: 1_800_000_000.0
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        codes = [c.post("/api/v1/auth/login", json=BAD_LOGIN).status_code for c in (a, b, a, b)]
        assert codes == [401] * 4
        _assert_limited(a.post("/api/v1/auth/login", json=BAD_LOGIN))
        _assert_limited(b.post("/api/v1/auth/login", json=BAD_LOGIN))
        codes = [
            c.post("/api/v1/public/reports", json={**REPORT, "client_request_id": f"shared-{i}"}).status_code
            for i, c in enumerate((a, b, a))
        ]
        assert codes == [201] * 3
        _assert_limited(b.post("/api/v1/public/reports", json={**REPORT, "client_request_id": "shared-9"}))
    # One row per (rule, address); refused requests are not counted.
    with db.session() as s:
        rows = {r.key: r.hits for r in s.scalars(select(RateCounter))}
    assert rows == {"login|testclient": 4, "public_intake|testclient": 3}


@pytest.mark.slow
def test_two_server_processes_share_one_budget(db) -> None:  # type: ignore[no-untyped-def]
    # An hour's window: a loaded machine must not carry the requests across a window boundary.
    env = {"PINGAN_RATE_LOGIN_PER_MIN": "4", "PINGAN_RATE_PUBLIC_PER_MIN": "3", "PINGAN_RATE_WINDOW_S": "3600"}
    servers = [Server(db.url, env=env), Server(db.url, env=env)]
    try:
        for srv in servers:
            srv.start()
        # The first intake of a process loads jieba: slow on a busy machine.
        a, b = (httpx.Client(base_url=srv.url, timeout=180) for srv in servers)
        with a, b:
            assert [c.post("/api/v1/auth/login", json=BAD_LOGIN).status_code for c in (a, b, b, a)] == [401] * 4
            _assert_limited(a.post("/api/v1/auth/login", json=BAD_LOGIN))
            _assert_limited(b.post("/api/v1/auth/login", json=BAD_LOGIN))
            rs = [
                c.post("/api/v1/public/reports", json={**REPORT, "client_request_id": f"process-{i}"})
                for i, c in enumerate((b, a, b))
            ]
            assert [r.status_code for r in rs] == [201] * 3, rs[0].text
            _assert_limited(a.post("/api/v1/public/reports", json={**REPORT, "client_request_id": "process-9"}))
            _assert_limited(b.post("/api/v1/public/reports", json={**REPORT, "client_request_id": "process-10"}))
    finally:
        for srv in servers:
            srv.stop()


def test_sliding_window_retry_after_and_cleanup(db) -> None:  # type: ignore[no-untyped-def]
    limiter = RateLimiter([], engine=db.engine)
    rule = Rule("test", ("/x",), limit=2, window_s=60)
    w = 1_800_000_000 - 1_800_000_000 % 60  # a window start
    assert limiter.check(rule, "1.2.3.4", now=w + 10) is None
    assert limiter.check(rule, "1.2.3.4", now=w + 11) is None
    wait = limiter.check(rule, "1.2.3.4", now=w + 12)
    # The window is full; in the next one the 2 hits fade: 2 × (1 − t/60) + 1 ≤ 2 from t = 30 s.
    assert wait is not None and math.isclose(wait, 48 + 30)
    assert limiter.check(rule, "5.6.7.8", now=w + 12) is None  # another address has its own budget
    assert limiter.check(rule, "1.2.3.4", now=w + 60 + 29) is not None  # 2 × 31/60 + 1 > 2
    assert limiter.check(rule, "1.2.3.4", now=w + 12 + wait) is None  # exactly when Retry-After said
    assert limiter.check(rule, "1.2.3.4", now=w + 60 + 31) is not None  # 2 × 29/60 + 1 + 1 > 2
    assert limiter.check(rule, "1.2.3.4", now=w + 180) is None  # two windows later: a fresh budget
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RateCounter)) == 2
    # Rows whose windows have passed are deleted (at most every cleanup_every_s, in the same call).
    limiter._next_cleanup = 0.0
    assert limiter.check(rule, "9.9.9.9", now=w + 600) is None
    with db.session() as s:
        assert set(s.scalars(select(RateCounter.key))) == {"test|9.9.9.9"}


def test_rate_limit_off_switch(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PINGAN_RATE_LOGIN_PER_MIN", "1")
    monkeypatch.setenv("PINGAN_RATE_LIMIT", "off")  # benchmarks only
    with TestClient(create_app(db.settings(), background=False)) as c:
        assert [c.post("/api/v1/auth/login", json=BAD_LOGIN).status_code for _ in range(3)] == [401] * 3
