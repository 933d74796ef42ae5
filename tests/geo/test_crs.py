"""WGS-84 / GCJ-02 / BD-09 conversions: published reference values and round trips within 1 m."""

from __future__ import annotations

import numpy as np
import pytest

from pingan.geo import crs
from pingan.geo.crs import distance_m

# Published reference pairs (wandergis/coordTransform, the usual reference implementation), at Beijing.
REFERENCE = [
    ("wgs84", "gcj02", (116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    ("gcj02", "bd09", (116.404, 39.915), (116.41036949371029, 39.92133699351021)),
    ("bd09", "gcj02", (116.404, 39.915), (116.39762729119315, 39.90865673957631)),
]
FUNCS = {
    ("wgs84", "gcj02"): crs.wgs84_to_gcj02,
    ("gcj02", "bd09"): crs.gcj02_to_bd09,
    ("bd09", "gcj02"): crs.bd09_to_gcj02,
}
# Points across Yueyang (city centre, Pingjiang, Huarong, the lake).
YUEYANG = [(113.129, 29.357), (113.581, 28.702), (112.540, 29.531), (112.95, 29.2), (114.1, 28.5), (112.3, 29.8)]


@pytest.mark.parametrize(("src", "dst", "inp", "expected"), REFERENCE)
def test_reference_points(src: str, dst: str, inp: tuple[float, float], expected: tuple[float, float]) -> None:
    out = FUNCS[(src, dst)](*inp)
    assert distance_m(*out, *expected) < 1.0


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
@pytest.mark.parametrize("point", YUEYANG)
def test_round_trip_within_a_metre(system: str, point: tuple[float, float]) -> None:
    there = crs.from_wgs84(*point, system)
    # The offsets are real (hundreds of metres), so a no-op conversion would fail the first check.
    assert distance_m(*there, *point) > 100
    back = crs.to_wgs84(*there, system)
    assert distance_m(*back, *point) < 1.0
    # And the other way: a GCJ/BD point to WGS and back.
    wgs = crs.to_wgs84(*point, system)
    assert distance_m(*crs.from_wgs84(*wgs, system), *point) < 1.0


def test_vectorised_matches_scalar() -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(112.3, 114.2, 500)
    lat = rng.uniform(28.4, 29.9, 500)
    for system in ("gcj02", "bd09"):
        vx, vy = crs.from_wgs84_arr(lon, lat, system)
        bx, by = crs.to_wgs84_arr(vx, vy, system)
        for i in range(0, 500, 50):
            sx, sy = crs.from_wgs84(lon[i], lat[i], system)
            assert distance_m(sx, sy, vx[i], vy[i]) < 0.01
            assert distance_m(bx[i], by[i], lon[i], lat[i]) < 1.0


def test_outside_china_is_not_shifted() -> None:
    assert crs.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    with pytest.raises(ValueError):
        crs.to_wgs84(113.0, 29.0, "epsg3857")
