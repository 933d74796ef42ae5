"""HTTP-level protections: rate limits on login and public intake, CSRF checks for cookie sessions.

Installed by `pingan.app.create_app` through `install(app)`.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError

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
    return [
        Rule("login", ("/api/v1/auth/login",), _env_int("PINGAN_RATE_LOGIN_PER_MIN", 60), 60.0),
        Rule("public_intake", ("/api/v1/public/reports",), _env_int("PINGAN_RATE_PUBLIC_PER_MIN", 60), 60.0),
        Rule(
            "public_lookup",
            ("/api/v1/public/track", "/api/v1/public/attachments"),
            _env_int("PINGAN_RATE_PUBLIC_PER_MIN", 60),
            60.0,
            frozenset({"GET", "POST"}),
        ),
    ]


@dataclass
class RateLimiter:
    """A sliding-window counter per (rule, client address), in memory (one server process)."""

    rules: list[Rule]
    hits: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rule_for(self, method: str, path: str) -> Rule | None:
        for rule in self.rules:
            if method in rule.methods and path.startswith(rule.prefixes):
                return rule
        return None

    def check(self, rule: Rule, who: str, now: float | None = None) -> float | None:
        """None when allowed (and counted); else the seconds until the next request would be allowed."""
        now = time.monotonic() if now is None else now
        with self.lock:
            q = self.hits.setdefault((rule.name, who), deque())
            while q and q[0] <= now - rule.window_s:
                q.popleft()
            if len(q) >= rule.limit:
                return max(q[0] + rule.window_s - now, 0.0)
            q.append(now)
            if len(self.hits) > 100_000:  # bound memory under address spraying
                self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > now - rule.window_s}
            return None


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
    limiter = RateLimiter(default_rules())

    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # An id or number the database cannot hold (e.g. /cases/9223372036854775808): the client's error.
        return _error(422, "out_of_range", "数值超出范围", "a number in the request is out of range")

    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.state.rate_limiter = limiter

    @app.middleware("http")
    async def _protect(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        method, path = request.method, request.url.path
        # CSRF: a state-changing request that authenticates with the session cookie (not a bearer header)
        # must come from our own pages. The cookie is also SameSite=Strict; this is the second line.
        if (
            method in UNSAFE
            and "pingan_token" in request.cookies
            and not request.headers.get("authorization")
            and _same_origin(request) is False
        ):
            return _error(403, "csrf", "跨站请求被拒绝", "cross-site request refused (CSRF)")
        rule = limiter.rule_for(method, path)
        if rule is not None:
            wait = limiter.check(rule, client_ip(request))
            if wait is not None:
                return _error(
                    429,
                    "rate_limited",
                    "请求过于频繁，请稍后再试",
                    "too many requests; slow down",
                    {"Retry-After": str(int(wait) + 1)},
                )
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if path.startswith("/api/"):
            headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
            headers.setdefault("Cache-Control", "no-store")
        else:
            headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'; object-src 'none'; base-uri 'self'")
        if request.url.scheme == "https":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
