"""HTTP API of the geography: divisions, locating, map layers (GeoJSON with ETag), grid workers, places."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, func, select

from pingan.cases.lifecycle import OPEN
from pingan.cases.models import Case
from pingan.cases.queries import scoped
from pingan.db import database_key
from pingan.deps import ActorDep, SessionDep, require_roles
from pingan.errors import Forbidden, NotFound
from pingan.geo import divisions, service
from pingan.geo.crs import from_wgs84, to_wgs84
from pingan.geo.grids import import_grid_file, import_roster, read_roster_xlsx
from pingan.geo.locate import Location, locate
from pingan.geo.models import Grid, GridAssignment, GridWorker, LayerState, Region, RegionShape
from pingan.geo.shapes import from_wkb, geojson_geometry
from pingan.orgs.roles import Role
from pingan.privacy import mask_phone

router = APIRouter(prefix="/api/v1/geo", tags=["geo 地理"])

CrsName = Literal["wgs84", "gcj02", "bd09"]
CODE_RE = r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$"
PHONE_ROLES = {Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR}
SYNTHETIC_NOTE = "合成数据（演示用，非真实边界） synthetic demo data, not real boundaries"


class RegionOut(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None
    subtype: str


def _out(r: Region) -> RegionOut:
    return RegionOut(code=r.code, name=r.name, level=r.level, parent_code=r.parent_code, subtype=r.subtype)


class RegionDetail(RegionOut):
    ancestors: list[RegionOut]
    has_shape: bool
    shape_synthetic: bool | None


@router.get("/regions/search", summary="区划搜索 Search divisions by name, pinyin, initials or near spelling")
def search_regions(
    session: SessionDep, actor: ActorDep, q: Annotated[str, Query(min_length=1, max_length=50)], limit: int = 20
) -> list[dict[str, Any]]:
    hits = service.search(session, q, max(1, min(limit, 100)))
    return [
        {"code": p.code, "name": p.name, "level": p.level, "parent_code": p.parent_code, "how": how, "score": score}
        for p, how, score in hits
    ]


@router.get("/regions/counts", summary="区划计数 Counts by level and subtype")
def region_counts(
    session: SessionDep, actor: ActorDep, code: Annotated[str | None, Query(pattern=CODE_RE)] = None
) -> dict[str, dict[str, int]]:
    return divisions.counts(session, code)


@router.get("/regions/{code}", response_model=RegionDetail, summary="区划详情 A division and its ancestors")
def get_region(session: SessionDep, actor: ActorDep, code: str) -> RegionDetail:
    r = divisions.get_region(session, code)
    shape = session.get(RegionShape, code)
    return RegionDetail(
        **_out(r).model_dump(),
        ancestors=[_out(a) for a in divisions.ancestors(session, code)],
        has_shape=shape is not None,
        shape_synthetic=shape.synthetic if shape else None,
    )


@router.get("/regions/{code}/children", response_model=list[RegionOut], summary="下级区划 Children")
def get_children(session: SessionDep, actor: ActorDep, code: str) -> list[RegionOut]:
    return [_out(r) for r in divisions.children(session, code)]


@router.get("/regions/{code}/descendants", response_model=list[RegionOut], summary="全部下级 Descendants")
def get_descendants(
    session: SessionDep,
    actor: ActorDep,
    code: str,
    level: Annotated[str | None, Query(pattern=r"^(county|township|village)$")] = None,
) -> list[RegionOut]:
    return [_out(r) for r in divisions.descendants(session, code, level)]


class LocateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: CrsName | None = Field(default=None, description="coordinate system of lon/lat: wgs84 / gcj02 / bd09")
    address: str | None = Field(default=None, max_length=300)
    out_crs: CrsName = Field(default="wgs84", description="coordinate system of positions in the answer")

    @model_validator(mode="after")
    def _check(self) -> LocateIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.lon is not None and self.crs is None:
            raise ValueError("crs is required with a position (wgs84, gcj02 or bd09)")
        if self.lon is None and not (self.address or "").strip():
            raise ValueError("give a position (lon, lat, crs) or an address")
        return self


class LocateOut(BaseModel):
    region_code: str
    county_code: str
    town_code: str | None
    village_code: str | None
    grid_code: str | None
    level: str
    confidence: float
    matched: str
    names: dict[str, str]
    position: dict[str, Any] | None
    synthetic: bool


def _location_out(session: SessionDep, loc: Location, pos: tuple[float, float] | None, out_crs: str) -> LocateOut:
    codes = [c for c in (loc.county_code, loc.town_code, loc.village_code) if c]
    names = {r.level: r.name for r in session.scalars(select(Region).where(Region.code.in_(codes)))}
    synthetic = False
    if loc.grid_code:
        g = session.get(Grid, loc.grid_code)
        if g is not None:
            names["grid"] = g.name
            synthetic = g.synthetic
    position = None
    if pos is not None:
        x, y = from_wgs84(pos[0], pos[1], out_crs)
        position = {"lon": round(x, 7), "lat": round(y, 7), "crs": out_crs}
    return LocateOut(
        region_code=loc.region_code,
        county_code=loc.county_code,
        town_code=loc.town_code,
        village_code=loc.village_code,
        grid_code=loc.grid_code,
        level=loc.level,
        confidence=loc.confidence,
        matched=loc.matched,
        names=names,
        position=position,
        synthetic=synthetic,
    )


@router.post("/locate", response_model=LocateOut, summary="定位 Point or address → grid, village, town, county")
def locate_endpoint(body: LocateIn, session: SessionDep, actor: ActorDep) -> LocateOut:
    if body.lon is not None and body.lat is not None and body.crs is not None:
        lon, lat = to_wgs84(body.lon, body.lat, body.crs)
        loc = service.locate_point_strict(session, lon, lat)
        if loc.level != "grid" and body.address:
            loc = locate(session, lon, lat, body.address)
        return _location_out(session, loc, (lon, lat), body.out_crs)
    loc = locate(session, None, None, body.address)
    return _location_out(session, loc, None, body.out_crs)


# ---------------------------------------------------------------- map layers

_cache_lock = threading.Lock()
_body_cache: OrderedDict[tuple[Any, ...], tuple[bytes, str]] = OrderedDict()


def _cached_json(request: Request, key: tuple[Any, ...], build: Any) -> Response:
    with _cache_lock:
        hit = _body_cache.get(key)
    if hit is None:
        body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()
        hit = (body, '"' + hashlib.sha1(body).hexdigest() + '"')
        with _cache_lock:
            _body_cache[key] = hit
            while len(_body_cache) > 64:
                _body_cache.popitem(last=False)
    body, etag = hit
    headers = {"ETag": etag, "Cache-Control": "private, max-age=60"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)


def _tolerance(zoom: int) -> float:
    """Half a screen pixel in degrees at this web-map zoom level."""
    return 360.0 / (256 * 2**zoom) / 2


def _version(session: SessionDep) -> tuple[int, int]:
    v = session.scalar(select(LayerState.version).where(LayerState.name == "grids")) or 0
    n = session.scalar(select(func.count()).select_from(RegionShape)) or 0
    return int(v), int(n)


@router.get("/map/divisions", summary="区划面 GeoJSON (simplified by zoom, ETag)")
def map_divisions(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    level: Annotated[str, Query(pattern=r"^(county|township|village)$")] = "county",
    parent: Annotated[str | None, Query(pattern=CODE_RE)] = None,
    zoom: Annotated[int, Query(ge=0, le=20)] = 10,
    crs: CrsName = "wgs84",
) -> Response:
    def build() -> dict[str, Any]:
        q = select(RegionShape, Region).join(Region, Region.code == RegionShape.code).where(RegionShape.level == level)
        if parent:
            q = q.where(RegionShape.code.like(f"{parent}%"))
        feats = []
        tol = _tolerance(zoom)
        for shape, region in session.execute(q.order_by(RegionShape.code)):
            geom = from_wkb(shape.geom).simplify(tol, preserve_topology=True)
            props = {
                "code": region.code,
                "name": region.name,
                "level": level,
                "subtype": region.subtype,
                "synthetic": shape.synthetic,
                "source": shape.source,
            }
            if shape.synthetic:
                props["note"] = SYNTHETIC_NOTE
            feats.append(
                {"type": "Feature", "id": region.code, "properties": props, "geometry": geojson_geometry(geom, crs)}
            )
        return {"type": "FeatureCollection", "crs_name": crs, "features": feats}

    return _cached_json(request, ("div", database_key(session), _version(session), level, parent, zoom, crs), build)


@router.get("/map/grids", summary="网格面 GeoJSON of a town/village (simplified by zoom, ETag)")
def map_grids(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    parent: Annotated[str, Query(pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="county, town or village code")],
    zoom: Annotated[int, Query(ge=0, le=20)] = 14,
    crs: CrsName = "wgs84",
) -> Response:
    def build() -> dict[str, Any]:
        q = select(Grid).where(Grid.code.like(f"{parent}%")).order_by(Grid.code)
        tol = _tolerance(zoom)
        feats = []
        for g in session.scalars(q):
            geom = from_wkb(g.geom).simplify(tol, preserve_topology=True)
            props = {
                "code": g.code,
                "name": g.name,
                "village_code": g.village_code,
                "area_m2": g.area_m2,
                "urban": g.urban,
                "synthetic": g.synthetic,
            }
            if g.synthetic:
                props["note"] = SYNTHETIC_NOTE
            feats.append(
                {"type": "Feature", "id": g.code, "properties": props, "geometry": geojson_geometry(geom, crs)}
            )
        return {"type": "FeatureCollection", "crs_name": crs, "features": feats}

    return _cached_json(request, ("grid", database_key(session), _version(session), parent, zoom, crs), build)


_LEVEL_COLUMN = {
    "grid": Case.grid_code,
    "village": Case.village_code,
    "township": Case.town_code,
    "county": Case.county_code,
}


@router.get("/map/choropleth", summary="分区案件数 Open cases per grid/village/town/county")
def choropleth(
    session: SessionDep,
    actor: ActorDep,
    level: Annotated[str, Query(pattern=r"^(grid|village|township|county)$")] = "township",
    parent: Annotated[str | None, Query(pattern=CODE_RE)] = None,
) -> dict[str, Any]:
    col = _LEVEL_COLUMN[level]
    # Data scope of the actor (departments, channels, grid workers, county centers) — issue 4.
    base = cast(
        "Select[Any]", select(col, func.count()).where(Case.status.in_([str(s) for s in OPEN]), col.is_not(None))
    )
    q = scoped(base, actor)
    q = q.group_by(col)
    scope = actor.region_code if actor.region_code and actor.region_code != "430600" else None
    for prefix in (scope, parent):
        if prefix:
            q = q.where(col.like(f"{prefix}%"))
    counts = {code: int(n) for code, n in session.execute(q)}
    return {
        "level": level,
        "parent": parent,
        "measure": "open cases (status not closed/revisited/rejected/merged/transferred) per region",
        "counts": counts,
        "total": sum(counts.values()),
    }


# ---------------------------------------------------------------- grids and their workers


@router.get("/grids/{code}", summary="网格详情 A grid, its centre in the requested CRS, and its workers")
def get_grid(session: SessionDep, actor: ActorDep, code: str, crs: CrsName = "wgs84") -> dict[str, Any]:
    g = session.get(Grid, code)
    if g is None:
        raise NotFound("grid_not_found", f"没有网格 {code}", f"no grid {code}")
    c = from_wkb(g.geom).representative_point()
    x, y = from_wgs84(c.x, c.y, crs)
    show_phone = actor.role in PHONE_ROLES
    workers = session.execute(
        select(GridWorker, GridAssignment.captain)
        .join(GridAssignment, GridAssignment.worker_id == GridWorker.id)
        .where(GridAssignment.grid_code == code)
        .order_by(GridAssignment.captain.desc(), GridWorker.id)
    )
    return {
        "code": g.code,
        "name": g.name,
        "village_code": g.village_code,
        "town_code": g.town_code,
        "county_code": g.county_code,
        "area_m2": g.area_m2,
        "urban": g.urban,
        "synthetic": g.synthetic,
        "note": SYNTHETIC_NOTE if g.synthetic else "",
        "centre": {"lon": round(x, 7), "lat": round(y, 7), "crs": crs},
        "workers": [
            {
                "id": w.id,
                "worker_no": w.worker_no,
                "name": w.name,
                "phone": w.phone if show_phone else mask_phone(w.phone),
                "on_duty": w.on_duty,
                "captain": captain,
                "synthetic": w.synthetic,
            }
            for w, captain in workers
        ],
    }


class PlaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=64)
    region_code: str = Field(pattern=r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$")
    kind: Literal["alias", "place"] = "place"
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: CrsName | None = None

    @model_validator(mode="after")
    def _check(self) -> PlaceIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.lon is not None and self.crs is None:
            raise ValueError("crs is required with a position (wgs84, gcj02 or bd09)")
        return self


@router.post(
    "/places",
    status_code=201,
    summary="登记地名 Register a place or alias for the address gazetteer",
    dependencies=[require_roles(Role.ADMIN, Role.DISPATCHER)],
)
def add_place(body: PlaceIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    pos = to_wgs84(body.lon, body.lat, body.crs) if body.lon is not None and body.lat is not None and body.crs else None
    p = service.add_place(session, body.name, body.region_code, body.kind, pos)
    return {"id": p.id, "name": p.name, "region_code": p.region_code, "kind": p.kind}


@router.post(
    "/grids/import",
    summary="导入网格图层 Import a grid layer (GeoJSON or zipped Shapefile); a bad file imports nothing",
    dependencies=[require_roles(Role.ADMIN)],
)
async def import_grids(
    session: SessionDep,
    actor: ActorDep,
    file: UploadFile,
    crs: CrsName = "wgs84",
    tolerance_m2: Annotated[float, Query(ge=0, le=10_000)] = 10.0,
    dry_run: bool = False,
) -> dict[str, Any]:
    raw = await file.read()
    report = import_grid_file(session, raw, file.filename or "grids.geojson", crs, tolerance_m2, None, dry_run)
    return {"features": report.features, "imported": not dry_run, "dry_run": dry_run}


@router.post(
    "/workers/import",
    summary="导入网格员花名册 Import the grid-worker roster (xlsx); a bad roster imports nothing",
    dependencies=[require_roles(Role.ADMIN)],
)
async def import_workers(session: SessionDep, actor: ActorDep, file: UploadFile) -> dict[str, Any]:
    return import_roster(session, read_roster_xlsx(await file.read()))


class DutyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_duty: bool


@router.post("/workers/{worker_id}/duty", summary="在岗/离岗 Put a grid worker on or off duty")
def set_duty(worker_id: int, body: DutyIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    w = session.get(GridWorker, worker_id)
    if w is None:
        raise NotFound("worker_not_found", f"没有网格员 {worker_id}", f"no grid worker {worker_id}")
    own = w.user_id is not None and w.user_id == actor.id
    if not own and actor.role not in (Role.ADMIN, Role.DISPATCHER):
        raise Forbidden(
            "duty_forbidden",
            "只能设置本人或由管理员/派遣员设置在岗状态",
            "only the worker, an admin or a dispatcher may change duty",
        )
    w.on_duty = body.on_duty
    return {"id": w.id, "on_duty": w.on_duty}
