"""Synthetic positions of demo cases: points inside the real county polygons of Yueyang.

The shipped polygons (data/yueyang/yueyang_districts.geojson) are GCJ-02 (Amap); they are converted to
WGS-84, which is what Pingan stores. Most points cluster round the county seat (where people live), the
rest are spread over the county.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

from pingan.config import DATA_DIR
from pingan.geo.crs import gcj02_to_wgs84

DISTRICTS = DATA_DIR / "yueyang" / "yueyang_districts.geojson"

# Approximate county seats (WGS-84), used only to make demo points denser where people live.
SEATS: dict[str, tuple[float, float]] = {
    "430602": (113.129, 29.357),  # 岳阳楼区
    "430603": (113.273, 29.473),  # 云溪区
    "430611": (113.006, 29.461),  # 君山区
    "430621": (113.116, 29.144),  # 岳阳县 荣家湾镇
    "430623": (112.540, 29.531),  # 华容县
    "430624": (112.909, 28.689),  # 湘阴县
    "430626": (113.581, 28.701),  # 平江县
    "430681": (113.067, 28.806),  # 汨罗市
    "430682": (113.450, 29.477),  # 临湘市
}
# Rough population weights (10,000 residents) for matters whose text names no county.
WEIGHTS: dict[str, float] = {
    "430602": 110,
    "430603": 17,
    "430611": 23,
    "430621": 60,
    "430623": 55,
    "430624": 60,
    "430626": 90,
    "430681": 60,
    "430682": 45,
}


@dataclass(frozen=True)
class CountyShape:
    code: str
    name: str
    geom: BaseGeometry
    prepared: PreparedGeometry


@lru_cache(maxsize=1)
def county_shapes(path: Path = DISTRICTS) -> dict[str, CountyShape]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, CountyShape] = {}
    for f in data["features"]:
        code = str(f["properties"]["adcode"])
        geom = shapely.transform(shape(f["geometry"]), _to_wgs84)
        if not geom.is_valid:
            geom = geom.buffer(0)
        out[code] = CountyShape(code, str(f["properties"]["name"]), geom, prep(geom))
    return out


def _to_wgs84(coords: np.ndarray) -> np.ndarray:
    return np.array([gcj02_to_wgs84(float(x), float(y)) for x, y in coords], dtype=float).reshape(-1, 2)


def pick_county(rng: random.Random) -> str:
    codes = list(WEIGHTS)
    return rng.choices(codes, weights=[WEIGHTS[c] for c in codes])[0]


def sample_point(rng: random.Random, county_code: str) -> tuple[float, float]:
    """A (lon, lat) in WGS-84 inside the county's polygon."""
    cs = county_shapes()[county_code]
    minx, miny, maxx, maxy = cs.geom.bounds
    seat = SEATS.get(county_code)
    near_seat = seat is not None and rng.random() < 0.65
    for _ in range(200):
        if near_seat and seat is not None:
            lon, lat = rng.gauss(seat[0], 0.035), rng.gauss(seat[1], 0.03)
        else:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if cs.prepared.contains(Point(lon, lat)):
            return round(lon, 6), round(lat, 6)
        near_seat = False if rng.random() < 0.2 else near_seat
    p = cs.geom.representative_point()
    return round(p.x, 6), round(p.y, 6)
