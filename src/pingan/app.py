"""The FastAPI application: routers of every domain, structured errors, limits and headers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pingan import __version__
from pingan.background import Worker
from pingan.config import Settings
from pingan.db import make_engine, make_readonly_factory, make_session_factory
from pingan.errors import PinganError
from pingan.security.http import add_missing_headers

log = logging.getLogger("pingan")


def _validation_body(errors: list[Any]) -> dict[str, Any]:
    details = [
        {"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    return {
        "error": {
            "code": "validation_error",
            "message": "提交的数据不符合要求，请检查标出的字段",
            "message_en": "the request is invalid; see the fields listed",
            "details": details,
        }
    }


_BASIC_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class LimitsAndHeaders:
    """Body size limit (413) and the basic security headers, as plain ASGI (no per-request task or copy)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                body = {
                    "error": {"code": "too_large", "message": "提交的内容过大", "message_en": "request body too large"}
                }
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing_headers(message, _BASIC_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    settings: Settings | None = None,
    background: bool | None = None,
    extra_jobs: list[Callable[[], object]] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.db_url)
    factory = make_session_factory(engine)
    run_bg = settings.run_background if background is None else background

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.warm_up:
            from pingan.warmup import warm_up

            await run_in_threadpool(warm_up, make_readonly_factory(engine))
        worker = Worker(factory, settings, extra_jobs) if run_bg else None
        if worker:
            worker.start()
        yield
        if worker:
            worker.stop()
        engine.dispose()

    app = FastAPI(
        title="Pingan 平安 API",
        version=__version__,
        lifespan=lifespan,
        description="三网融合指挥中心：网格 + 12345 + 110 — one command center for every citizen matter.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.readonly_factory = make_readonly_factory(engine)

    @app.exception_handler(PinganError)
    async def _pingan_error(request: Request, exc: PinganError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(ValidationError)
    async def _model_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            {
                "error": {
                    "code": "db_unavailable",
                    "message": "数据库繁忙，请稍后重试",
                    "message_en": "database busy or unavailable; retry",
                }
            },
            status_code=503,
            headers={"Retry-After": "1"},
        )

    app.add_middleware(LimitsAndHeaders, max_body_bytes=settings.max_body_bytes)

    from pingan.security import http as security_http

    security_http.install(app)  # rate limits, CSRF check, more security headers

    from pingan import admin_views
    from pingan.cases import views as case_views
    from pingan.intake import views as intake_views
    from pingan.orgs import views as org_views

    # Intake first: the busiest paths are matched before the others are tried. Then the domain routers: their
    # fixed paths (/api/v1/cases/export.xlsx) must win over /api/v1/cases/{case_id}.
    app.include_router(intake_views.router)
    _include_optional(app)
    for router in (org_views.router, case_views.router, admin_views.router):
        app.include_router(router)
    return app


def _include_optional(app: FastAPI) -> None:
    """Routers of domain packages that add them (geo, dispatch, web, …) register through `ROUTERS`."""
    from pingan import plugins

    for router in plugins.routers():
        app.include_router(router)
