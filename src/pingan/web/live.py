"""Map data and live updates for the command center: county outlines, recent cases, and an SSE stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pingan.cases import lifecycle
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.queries import scoped
from pingan.config import DATA_DIR
from pingan.deps import ActorDep, SessionDep
from pingan.geo.crs import gcj02_to_wgs84
from pingan.timeutil import utcnow

router = APIRouter(prefix="/web/api", include_in_schema=False)

MAP_LIMIT = 800
STREAM_SECONDS = 120.0
POLL_SECONDS = 2.0


def _convert(coords: Any) -> Any:
    if isinstance(coords[0], (int, float)):
        lon, lat = gcj02_to_wgs84(float(coords[0]), float(coords[1]))
        return [round(lon, 6), round(lat, 6)]
    return [_convert(c) for c in coords]


@lru_cache(maxsize=1)
def counties_geojson() -> str:
    """County outlines shipped in data/yueyang (source GCJ-02, converted to WGS-84 like every stored position)."""
    raw = json.loads((DATA_DIR / "yueyang" / "yueyang_districts.geojson").read_text(encoding="utf-8"))
    for feat in raw["features"]:
        feat["geometry"]["coordinates"] = _convert(feat["geometry"]["coordinates"])
        props = feat["properties"]
        feat["properties"] = {"code": str(props.get("adcode")), "name": props.get("name")}
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))


@router.get("/counties.geojson")
def counties(actor: ActorDep) -> JSONResponse:
    return JSONResponse(content=json.loads(counties_geojson()), headers={"Cache-Control": "private, max-age=3600"})


# Only what a map point shows: loading whole cases (content, encrypted caller fields …) for 800 points cost
# more than the query itself.
_POINT_COLUMNS = (
    Case.id,
    Case.tracking_code,
    Case.title,
    Case.status,
    Case.lat,
    Case.lon,
    Case.deadline_at,
    Case.updated_at,
)


def _point(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "code": c.tracking_code,
        "title": c.title,
        "status": c.status,
        "label": lifecycle.STATUS_LABELS.get(c.status, c.status),
        "lat": c.lat,
        "lon": c.lon,
        "overdue": bool(c.status in lifecycle.WITH_DEPARTMENT and c.deadline_at and c.deadline_at < utcnow()),
    }


def _recent(session: Session, actor: Actor, since: datetime | None, limit: int) -> list[Any]:
    base: Any = select(*_POINT_COLUMNS).select_from(Case)
    q = scoped(base, actor).where(Case.lat.is_not(None))
    if since is not None:
        q = q.where(Case.updated_at > since).order_by(Case.updated_at.asc())
    else:
        q = q.where(Case.status.not_in(lifecycle.TERMINAL)).order_by(Case.updated_at.desc())
    return list(session.execute(q.limit(limit)).all())


@router.get("/map-cases")
def map_cases(session: SessionDep, actor: ActorDep) -> JSONResponse:
    """The most recently changed open cases with a position (at most MAP_LIMIT), for the map's first paint."""
    rows = _recent(session, actor, None, MAP_LIMIT)
    return JSONResponse({"cases": [_point(c) for c in rows], "limit": MAP_LIMIT, "at": utcnow().isoformat()})


@router.get("/live")
async def live(request: Request, actor: ActorDep) -> StreamingResponse:
    """Server-sent events: every case (with a position) that changed since the stream opened.

    The stream ends after STREAM_SECONDS; the browser's EventSource reconnects by itself.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory

    def poll(since: datetime) -> tuple[list[dict[str, Any]], datetime]:
        with factory() as session:
            rows = _recent(session, actor, since, 200)
            points = [_point(c) for c in rows]
            newest = max((c.updated_at for c in rows), default=since)
        return points, newest

    async def stream() -> AsyncIterator[str]:
        since = utcnow() - timedelta(seconds=1)
        yield "retry: 3000\n\n"
        loop_until = asyncio.get_running_loop().time() + STREAM_SECONDS
        while asyncio.get_running_loop().time() < loop_until:
            if await request.is_disconnected():
                return
            points, since = await anyio.to_thread.run_sync(poll, since)
            for p in points:
                yield f"event: case\ndata: {json.dumps(p, ensure_ascii=False)}\n\n"
            if not points:
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
