"""HTTP-level protections: rate limits on login and public intake (shared by all server processes through
the database), CSRF checks for cookie sessions.

Installed by `pingan.app.create_app` through `install(app)`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DataError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pingan.db import make_engine

log = logging.getLogger("pingan.security")

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


@dataclass
class Rule:
    name: str
    prefixes: tuple[str, ...]
    limit: int  # requests …
    window_s: float  # … per this many seconds, per client address
    methods: frozenset[str] = frozenset({"POST"})


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def default_rules() -> list[Rule]:
    """N requests per window (default 60 s) per client address; PINGAN_RATE_WINDOW_S changes the window."""
    window = float(max(_env_int("PINGAN_RATE_WINDOW_S", 60), 1))
    public = _env_int("PINGAN_RATE_PUBLIC_PER_MIN", 60)
    return [
        Rule("login", ("/api/v1/auth/login",), _env_int("PINGAN_RATE_LOGIN_PER_MIN", 60), window),
        Rule("public_intake", ("/api/v1/public/reports",), public, window),
        Rule(
            "public_lookup",
            ("/api/v1/public/track", "/api/v1/public/attachments"),
            public,
            window,
            frozenset({"GET", "POST"}),
        ),
    ]


# One statement per limited request: count the request in the current window unless the two-window
# sliding estimate (previous window's hits × the part of it still inside the last `window` seconds + this
# window's hits) would pass the limit. Rows hold (window_start, hits, prev_hits); every SET expression reads
# the row as it was (SQL semantics on both PostgreSQL and SQLite), and the upsert is atomic on both: the
# row lock (PostgreSQL) or the single writer (SQLite) serialises concurrent requests of all processes.
_CUR = "(CASE WHEN rate_counters.window_start = :w THEN rate_counters.hits ELSE 0 END)"
_PREV = (
    "(CASE WHEN rate_counters.window_start = :w THEN rate_counters.prev_hits"
    " WHEN rate_counters.window_start = :pw THEN rate_counters.hits ELSE 0 END)"
)
_OK = f"(CASE WHEN {_PREV} * :frac + {_CUR} + 1 <= :lim THEN 1 ELSE 0 END)"
UPSERT = text(
    "INSERT INTO rate_counters (key, window_start, hits, prev_hits, last_ok, expires_at)"
    " VALUES (:key, :w, :first, 0, :first, :exp)"
    " ON CONFLICT (key) DO UPDATE SET"
    f" window_start = :w, prev_hits = {_PREV}, hits = {_CUR} + {_OK}, last_ok = {_OK}, expires_at = :exp"
    " RETURNING hits, prev_hits, last_ok"
)
CLEANUP = text("DELETE FROM rate_counters WHERE expires_at < :now")


def retry_after(limit: int, window: int, elapsed: float, hits: int, prev_hits: int) -> float:
    """Seconds until the sliding estimate leaves room for one more request (none come meanwhile)."""
    if limit <= 0:
        return float(window)
    if hits + 1 <= limit and prev_hits > 0:  # the previous window's share must fade
        return max(window * (1 - (limit - hits - 1) / prev_hits) - elapsed, 0.0)
    # This window is full: wait for the next one, where these hits become the fading previous window.
    return (window - elapsed) + max(window * (1 - (limit - 1) / max(hits, 1)), 0.0)


_COUNTER_ENGINES: dict[str, Engine] = {}
_COUNTER_LOCK = threading.Lock()


def counter_engine(url: str) -> Engine:
    """One small pool per process and database for the counters, every statement its own transaction, and no
    wait for the disk at commit (PostgreSQL synchronous_commit off; SQLite WAL synchronous NORMAL): a crash
    may forget the last moments' counts, never corrupt anything, and the request does not pay for an fsync."""
    with _COUNTER_LOCK:
        engine = _COUNTER_ENGINES.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = make_engine(url)

                @event.listens_for(engine, "connect")
                def _relaxed(dbapi_conn: Any, _record: Any) -> None:  # runs after make_engine's pragmas
                    dbapi_conn.execute("PRAGMA synchronous=NORMAL")

            else:
                engine = make_engine(
                    url, pool_size=2, max_overflow=8, connect_args={"options": "-c synchronous_commit=off"}
                )
            engine = engine.execution_options(isolation_level="AUTOCOMMIT", sqlite_begin="NONE")
            _COUNTER_ENGINES[url] = engine
        return engine


@dataclass
class RateLimiter:
    """Rate limits per (rule, client address), counted in the database (`rate_counters`) so that every
    server process (`pingan serve --workers N`, several hosts) shares one budget."""

    rules: list[Rule]
    engine: Engine | None = None
    enabled: bool = True
    cleanup_every_s: float = 300.0
    clock: Callable[[], float] = time.time  # wall clock: shared by every process
    _next_cleanup: float = 0.0
    _autocommit: Engine | None = field(default=None, repr=False)

    def rule_for(self, method: str, path: str) -> Rule | None:
        if not self.enabled:
            return None
        for rule in self.rules:
            if method in rule.methods and path.startswith(rule.prefixes):
                return rule
        return None

    def _conn_engine(self) -> Engine:
        if self._autocommit is None:
            assert self.engine is not None
            self._autocommit = counter_engine(self.engine.url.render_as_string(hide_password=False))
        return self._autocommit

    def check(self, rule: Rule, who: str, now: float | None = None) -> float | None:
        """None when allowed (and counted); else the seconds until the next request would be allowed.
        Blocking (a database round trip): call it from a worker thread."""
        now = self.clock() if now is None else now
        window = max(int(rule.window_s), 1)
        w = int(now // window) * window
        elapsed = now - w
        params = {
            "key": f"{rule.name}|{who}"[:120],
            "w": w,
            "pw": w - window,
            "frac": 1.0 - elapsed / window,
            "lim": rule.limit,
            "first": 1 if rule.limit >= 1 else 0,
            "exp": w + 2 * window,
        }
        try:
            with self._conn_engine().connect() as conn:
                hits, prev_hits, ok = conn.execute(UPSERT, params).one()
                if now >= self._next_cleanup:
                    self._next_cleanup = now + self.cleanup_every_s
                    conn.execute(CLEANUP, {"now": int(now)})
        except OperationalError:  # database down or busy: the request itself will say so (503)
            log.warning("rate limit not checked: database unavailable", exc_info=True)
            return None
        if ok:
            return None
        return retry_after(rule.limit, window, elapsed, int(hits), int(prev_hits))


def _same_origin(request: Request) -> bool | None:
    """True/False when the browser said where the request came from, None when it did not."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source and source != "null":
        host = request.headers.get("host", "")
        return urlsplit(source).netloc == host
    if source == "null":
        return False
    site = request.headers.get("sec-fetch-site")
    if site:
        return site in ("same-origin", "none")
    return None


def _error(status: int, code: str, zh: str, en: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": zh, "message_en": en}}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    from pingan.security import crypto

    crypto.load_keyring()  # the key file is created on first start (and a broken one fails the start)
    limiter = RateLimiter(
        default_rules(), engine=app.state.engine, enabled=os.environ.get("PINGAN_RATE_LIMIT", "on") != "off"
    )

    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # An id or number the database cannot hold (e.g. /cases/9223372036854775808): the client's error.
        return _error(422, "out_of_range", "数值超出范围", "a number in the request is out of range")

    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.state.rate_limiter = limiter

    app.add_middleware(Protect, limiter=limiter)


def add_missing_headers(message: Message, pairs: tuple[tuple[bytes, bytes], ...]) -> None:
    """Append the headers the response does not set itself (names lower-case) to an http.response.start."""
    headers = message.setdefault("headers", [])
    present = {k.lower() for k, _ in headers}
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers)
    headers.extend(pair for pair in pairs if pair[0] not in present)


_COMMON_HEADERS = (
    (b"permissions-policy", b"geolocation=(self), camera=(self), microphone=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_API_HEADERS = (
    *_COMMON_HEADERS,
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
)
_PAGE_HEADERS = (
    *_COMMON_HEADERS,
    (b"content-security-policy", b"frame-ancestors 'none'; object-src 'none'; base-uri 'self'"),
)
_HTTPS_HEADERS = ((b"strict-transport-security", b"max-age=31536000"),)


class Protect:
    """CSRF check, rate limits and the stricter security headers, as plain ASGI (no task per request)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        method, path = scope["method"], scope["path"]
        refused = await self._refuse(request, method, path)
        if refused is not None:
            await refused(scope, receive, send)
            return
        extra: tuple[tuple[bytes, bytes], ...] = _API_HEADERS if path.startswith("/api/") else _PAGE_HEADERS
        if scope.get("scheme") == "https":
            extra = extra + _HTTPS_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing_headers(message, extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, request: Request, method: str, path: str) -> Response | None:
        # CSRF: a state-changing request that authenticates with the session cookie (not a bearer header)
        # must come from our own pages. The cookie is also SameSite=Strict; this is the second line.
        if (
            method in UNSAFE
            and "pingan_token" in request.cookies
            and not request.headers.get("authorization")
            and _same_origin(request) is False
        ):
            return _error(403, "csrf", "跨站请求被拒绝", "cross-site request refused (CSRF)")
        rule = self.limiter.rule_for(method, path)
        if rule is not None:
            wait = await run_in_threadpool(self.limiter.check, rule, client_ip(request))
            if wait is not None:
                return _error(
                    429,
                    "rate_limited",
                    "请求过于频繁，请稍后再试",
                    "too many requests; slow down",
                    {"Retry-After": str(int(wait) + 1)},
                )
        return None
