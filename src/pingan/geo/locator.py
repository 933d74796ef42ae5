"""Point → grid / village / town / county from the polygon layer, fast.

`GridIndex` is built once per process (per database and layer version) from the stored WGS-84 polygons:

- a bucket raster over the city's bounds: a bucket wholly inside one grid (contains_properly) answers at once;
- other buckets keep a short, code-ordered candidate list, tested with prepared polygons (shapely 2).

Points on an edge shared by two grids go to the grid with the smaller code (covers, first in code order):
deterministic whichever way the query is made. Points in no grid fall back to the county polygons; points in
no county are outside the city (None here; the API answers a clear 422).

An import bumps `geo_layer_state.version`; every process compares it on each call and rebuilds when it changed.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from pingan.db import database_key
from pingan.geo.locate import Location
from pingan.geo.models import Grid, LayerState, RegionShape
from pingan.geo.shapes import from_wkb

BUCKET_DEG = 0.003  # ≈ 290 m × 330 m near 29°N
# The ufunc behind shapely.intersects_xy, without its Python wrapper: half the cost of one call.
_intersects_xy = getattr(shapely.lib, "intersects_xy", shapely.intersects_xy)


@dataclass(frozen=True)
class Hit:
    grid: int  # index into GridIndex arrays, -1 when no grid
    county: str | None


class GridIndex:
    def __init__(
        self,
        codes: list[str],
        geoms: list[BaseGeometry],
        counties: dict[str, BaseGeometry],
        bucket_deg: float = BUCKET_DEG,
    ) -> None:
        order = sorted(range(len(codes)), key=lambda i: codes[i])
        self.codes = [codes[i] for i in order]
        self.geoms = np.array([geoms[i] for i in order], dtype=object)
        shapely.prepare(self.geoms)
        self.county_codes = sorted(counties)
        self.county_geoms = np.array([counties[c] for c in self.county_codes], dtype=object)
        if len(self.county_geoms):
            shapely.prepare(self.county_geoms)
        everything = list(self.geoms) + list(self.county_geoms)
        if not everything:
            raise ValueError("empty layer")
        minx, miny, maxx, maxy = shapely.total_bounds(np.array(everything, dtype=object))
        self.x0, self.y0 = float(minx), float(miny)
        self.d = bucket_deg
        self.nx = max(1, math.ceil((maxx - minx) / bucket_deg))
        self.ny = max(1, math.ceil((maxy - miny) / bucket_deg))
        self._build_buckets()

    def _build_buckets(self) -> None:
        nb = self.nx * self.ny
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny), indexing="xy")
        bx, by = ix.ravel(), iy.ravel()
        bid = by * self.nx + bx
        boxes = shapely.box(
            self.x0 + bx * self.d, self.y0 + by * self.d, self.x0 + (bx + 1) * self.d, self.y0 + (by + 1) * self.d
        )
        owner = np.full(nb, -2, dtype=np.int32)  # -2: no grid touches it; -1: look at candidates
        starts = np.zeros(nb + 1, dtype=np.int64)
        cand = np.zeros(0, dtype=np.int32)
        if len(self.geoms):
            tree = shapely.STRtree(self.geoms)
            b_idx, g_idx = tree.query(boxes, predicate="intersects")
            inside = shapely.contains_properly(self.geoms[g_idx], boxes[b_idx])
            owner[bid[b_idx]] = -1
            owner[bid[b_idx[inside]]] = g_idx[inside].astype(np.int32)
            mixed = owner[bid[b_idx]] == -1
            b_m, g_m = bid[b_idx[mixed]], g_idx[mixed]
            o = np.lexsort((g_m, b_m))  # by bucket, then by grid index (= code order)
            b_m, g_m = b_m[o], g_m[o]
            counts = np.bincount(b_m, minlength=nb)
            starts[1:] = np.cumsum(counts)
            cand = g_m.astype(np.int32)
        self.owner = owner
        self.starts = starts
        self.cand = cand
        self.owner_list = owner.tolist()  # Python ints: fastest for one point at a time
        self.starts_list = starts.tolist()
        self.cand_list = cand.tolist()
        self.mixed_share = float((owner == -1).sum()) / max(1, int((owner != -2).sum()))

    # -- one point

    def grid_at(self, x: float, y: float) -> int:
        if not (x >= self.x0 and y >= self.y0):  # also catches NaN
            return -1
        ix = int((x - self.x0) / self.d)
        iy = int((y - self.y0) / self.d)
        if ix >= self.nx or iy >= self.ny:
            return -1
        b = iy * self.nx + ix
        o = self.owner_list[b]
        if o >= 0:
            return o
        if o == -2:
            return -1
        geoms = self.geoms
        intersects_xy = _intersects_xy
        for j in self.cand_list[self.starts_list[b] : self.starts_list[b + 1]]:
            if intersects_xy(geoms[j], x, y):
                return j
        return -1

    def county_at(self, x: float, y: float) -> str | None:
        for code, g in zip(self.county_codes, self.county_geoms, strict=True):
            if shapely.intersects_xy(g, x, y):
                return code
        return None

    # -- many points

    def grids_at(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Grid index per point (-1: none); the same answer as grid_at, vectorised."""
        xs = np.asarray(xs, dtype=float)
        ys = np.asarray(ys, dtype=float)
        out = np.full(len(xs), -1, dtype=np.int64)
        ix = np.floor((xs - self.x0) / self.d).astype(np.int64)
        iy = np.floor((ys - self.y0) / self.d).astype(np.int64)
        ok = (ix >= 0) & (iy >= 0) & (ix < self.nx) & (iy < self.ny)
        b = np.where(ok, iy * self.nx + ix, 0)
        o = np.where(ok, self.owner[b], -2)
        out[o >= 0] = o[o >= 0]
        pts = np.nonzero(o == -1)[0]
        if len(pts):
            s = self.starts[b[pts]]
            n = self.starts[b[pts] + 1] - s
            rep = np.repeat(pts, n)
            offs = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            gi = self.cand[np.repeat(s, n) + offs]
            hit = shapely.intersects_xy(self.geoms[gi], xs[rep], ys[rep])
            rep, gi = rep[hit], gi[hit]
            if len(rep):
                best = np.full(len(xs), np.iinfo(np.int64).max, dtype=np.int64)
                np.minimum.at(best, rep, gi)
                sel = best != np.iinfo(np.int64).max
                out[sel] = best[sel]
        return out


@dataclass
class _Cached:
    version: int
    index: GridIndex | None


_lock = threading.Lock()
_cache: dict[str, _Cached] = {}
_generation = 0


def invalidate() -> None:
    """Forget every cached index of this process (imports call it; other processes see the version change)."""
    global _generation
    with _lock:
        _cache.clear()
        _generation += 1


def layer_version(session: Session, name: str) -> int:
    """The version of a layer ("grids", "places"); read once per intake batch (see `batch_cache`)."""
    cache: dict[str, int] | None = session.info.get(BATCH_CACHE)
    if cache is not None and name in cache:
        return cache[name]
    v = int(session.connection().scalar(_VERSION, {"name": name}) or 0)
    if cache is not None:
        cache[name] = v
    return v


BATCH_CACHE = "pingan.layer_versions"
_VERSION = select(LayerState.version).where(LayerState.name == bindparam("name"))


def _layer_version(session: Session) -> int:
    return layer_version(session, "grids")


def build_index(session: Session) -> GridIndex | None:
    rows = session.execute(select(Grid.code, Grid.geom)).all()
    counties = {
        code: from_wkb(geom)
        for code, geom in session.execute(
            select(RegionShape.code, RegionShape.geom).where(RegionShape.level == "county")
        )
    }
    if not rows and not counties:
        return None
    return GridIndex([r[0] for r in rows], list(shapely.from_wkb([r[1] for r in rows])), counties)


def index_for(session: Session) -> GridIndex | None:
    key = database_key(session)
    version = _layer_version(session)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit.version == version:
            return hit.index
        gen = _generation
    index = build_index(session)
    with _lock:
        if gen == _generation:
            _cache[key] = _Cached(version, index)
    return index


def location_of(index: GridIndex, lon: float, lat: float) -> Location | None:
    j = index.grid_at(lon, lat)
    if j >= 0:
        code = index.codes[j]
        return Location(
            region_code=code,
            county_code=code[:6],
            town_code=code[:9],
            village_code=code[:12],
            grid_code=code,
            level="grid",
            confidence=1.0,
            matched="point",
        )
    county = index.county_at(lon, lat)
    if county is None:
        return None
    return Location(region_code=county, county_code=county, level="county", confidence=0.9, matched="point")


def locate_point(session: Session, lon: float, lat: float) -> Location | None:
    """The grid (or county) of a WGS-84 point; None when no layer is loaded or the point is outside the city."""
    index = index_for(session)
    if index is None:
        return None
    return location_of(index, lon, lat)
