"""The deterministic SYNTHETIC grid layer of the demo city (合成数据, not real boundaries).

No public polygons exist below county level, so the demo generates them:

1. 屈原管理区 (430671) has no polygon in the shipped data: a synthetic ~200 km² area around its seat is cut out
   of 汨罗市/湘阴县 (whose shipped polygons cover it) — marked synthetic.
2. Inside each county polygon, one seed per real town/street (NBS code): streets (街道) cluster around the
   county seat, towns/townships spread out (best-candidate sampling); Voronoi cells clipped to the county give
   town cells — so urban cells are smaller.
3. Inside each town cell, one seed per real village/community: communities cluster round the town seed,
   villages spread out; Voronoi again gives village/community cells that tile the town exactly.
4. Inside each village/community cell, 8–12 grids for a community, 3–4 for a village (about 10,000 citywide):
   grid code = the 12-digit village code + a 3-digit sequence (15 digits: 6 county + 3 town + 3 village + 3 seq).

Every random choice comes from a generator seeded by the division code: the same data gives the same layer.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from pingan.geo.divisions import read_divisions
from pingan.geo.shapes import COUNTY_SOURCE, area_m2, shipped_counties

SYNTH_SOURCE = "synthetic (合成) — pingan geo synth, deterministic Voronoi layer; not real boundaries"
QUYUAN = "430671"
# Approximate county seats (WGS-84), used only to place the synthetic urban cells.
SEATS: dict[str, tuple[float, float]] = {
    "430602": (113.129, 29.357),
    "430603": (113.273, 29.473),
    "430611": (113.006, 29.461),
    "430621": (113.116, 29.145),
    "430623": (112.540, 29.531),
    "430624": (112.909, 28.689),
    "430626": (113.581, 28.702),
    "430671": (112.930, 28.860),
    "430681": (113.067, 28.806),
    "430682": (113.450, 29.477),
}
QUYUAN_AREA_KM2 = 200.0
URBAN_TOWN = {"street"}
URBAN_VILLAGE = {"community"}


@dataclass
class SynthGrid:
    code: str
    name: str
    village_code: str
    geom: BaseGeometry
    urban: bool


@dataclass
class SynthLayer:
    counties: dict[str, BaseGeometry] = field(default_factory=dict)
    towns: dict[str, BaseGeometry] = field(default_factory=dict)
    villages: dict[str, BaseGeometry] = field(default_factory=dict)
    grids: list[SynthGrid] = field(default_factory=list)
    seconds: float = 0.0


def _rng(code: str, salt: str = "") -> np.random.Generator:
    digest = hashlib.sha256(f"pingan-synth:{code}:{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _scale(lat: float) -> float:
    return math.cos(math.radians(lat))


def _sample_inside(geom: BaseGeometry, rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform random points inside geom (rejection sampling on its bounds)."""
    minx, miny, maxx, maxy = geom.bounds
    out: list[np.ndarray] = []
    got = 0
    shapely.prepare(geom)
    tries = 0
    while got < n and tries < 60:
        tries += 1
        m = max(64, n * 4)
        xs = rng.uniform(minx, maxx, m)
        ys = rng.uniform(miny, maxy, m)
        ok = shapely.contains_xy(geom, xs, ys)
        pts = np.column_stack([xs[ok], ys[ok]])
        out.append(pts)
        got += len(pts)
    if got < n:  # a sliver: fall back to points on its representative point
        rp = geom.representative_point()
        out.append(np.tile([rp.x, rp.y], (n - got, 1)))
    return np.concatenate(out)[:n]


def _spread_seeds(geom: BaseGeometry, rng: np.random.Generator, n: int, fixed: np.ndarray, k: int = 8) -> np.ndarray:
    """Best-candidate sampling: each new seed is the candidate farthest from the seeds chosen so far."""
    if n <= 0:
        return np.zeros((0, 2))
    cand = _sample_inside(geom, rng, n * k)
    kx = _scale((geom.bounds[1] + geom.bounds[3]) / 2)
    chosen: list[np.ndarray] = list(fixed)
    out: list[np.ndarray] = []
    for i in range(n):
        c = cand[i * k : (i + 1) * k]
        if not chosen:
            pick = c[0]
        else:
            ref = np.array(chosen)
            d = ((c[:, None, 0] - ref[None, :, 0]) * kx) ** 2 + (c[:, None, 1] - ref[None, :, 1]) ** 2
            pick = c[int(np.argmax(d.min(axis=1)))]
        chosen.append(pick)
        out.append(pick)
    return np.array(out)


def _cluster_seeds(
    geom: BaseGeometry, rng: np.random.Generator, n: int, centre: tuple[float, float], sigma_deg: float
) -> np.ndarray:
    """n seeds around centre (Gaussian), kept inside geom and apart from each other."""
    if n <= 0:
        return np.zeros((0, 2))
    shapely.prepare(geom)
    kx = _scale(centre[1])
    min_d = sigma_deg / max(2.0, math.sqrt(n)) * 0.6
    out: list[tuple[float, float]] = []
    sigma = sigma_deg
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts % 400 == 0:
            sigma *= 1.5
            min_d *= 0.7
        x = centre[0] + rng.normal(0, sigma) / kx
        y = centre[1] + rng.normal(0, sigma)
        if not shapely.contains_xy(geom, x, y):
            continue
        if any(((x - a) * kx) ** 2 + (y - b) ** 2 < min_d**2 for a, b in out):
            continue
        out.append((x, y))
    return np.array(out)


def _tile(geom: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Voronoi cells of seeds clipped to geom, in seed order; together they tile geom exactly."""
    if len(seeds) == 1:
        return [geom]
    mp = shapely.multipoints(seeds)
    cells = shapely.voronoi_polygons(mp, extend_to=geom, ordered=True)
    parts = list(shapely.get_parts(cells))
    if len(parts) != len(seeds):  # duplicate seeds: should not happen; keep order by containment
        raise RuntimeError("voronoi lost a seed")
    clipped = shapely.intersection(np.array(parts, dtype=object), geom)
    out: list[BaseGeometry] = []
    for c in clipped:
        c = shapely.make_valid(c) if not c.is_valid else c
        polys = [p for p in shapely.get_parts(c) if p.geom_type == "Polygon" and not p.is_empty]
        out.append(shapely.multipolygons(polys) if len(polys) > 1 else polys[0])
    return out


def _centre(geom: BaseGeometry, point: tuple[float, float] | None) -> tuple[float, float]:
    if point is not None and geom.contains(Point(point)):
        return point
    rp = geom.representative_point()
    return (rp.x, rp.y)


def county_polygons() -> dict[str, BaseGeometry]:
    """The shipped county polygons in WGS-84, with a synthetic 屈原管理区 cut out of 汨罗市 and 湘阴县."""
    counties = dict(shipped_counties())
    host = shapely.union_all([counties["430681"], counties["430624"]])
    cx, cy = SEATS[QUYUAN]
    r_km = math.sqrt(QUYUAN_AREA_KM2 / math.pi)
    disc = Point(0, 0).buffer(1.0, quad_segs=16)
    disc = shapely.affinity.scale(disc, r_km / (111.32 * _scale(cy)), r_km / 110.85, origin=(0, 0))
    disc = shapely.affinity.translate(disc, cx, cy)
    quyuan = shapely.intersection(disc, host)
    counties[QUYUAN] = quyuan
    for code in ("430681", "430624"):
        counties[code] = shapely.difference(counties[code], quyuan)
    return counties


def generate() -> SynthLayer:
    """Build the synthetic layer from the real divisions and county polygons (pure, no database)."""
    t0 = time.perf_counter()
    rows = read_divisions()
    by_parent: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_parent.setdefault(r["parent_code"], []).append(r)
    layer = SynthLayer(counties=county_polygons())
    for county_code, cgeom in sorted(layer.counties.items()):
        towns = sorted(by_parent.get(county_code, []), key=lambda r: r["code"])
        rng = _rng(county_code)
        centre = _centre(cgeom, SEATS.get(county_code))
        urban = [t for t in towns if t["subtype"] in URBAN_TOWN]
        rural = [t for t in towns if t["subtype"] not in URBAN_TOWN]
        sigma = 0.012 * math.sqrt(max(len(urban), 1))
        u_seeds = _cluster_seeds(cgeom, rng, len(urban), centre, sigma)
        r_seeds = _spread_seeds(cgeom, rng, len(rural), u_seeds)
        seeds = np.concatenate([u_seeds, r_seeds]) if len(rural) else u_seeds
        cells = _tile(cgeom, seeds)
        for t, cell, seed in zip(urban + rural, cells, seeds, strict=True):
            layer.towns[t["code"]] = cell
            _villages(layer, t, cell, (float(seed[0]), float(seed[1])), by_parent)
    layer.seconds = time.perf_counter() - t0
    return layer


def grids_per_village(row: dict[str, str]) -> int:
    seq = int(row["code"][-3:])
    if row["subtype"] in URBAN_VILLAGE:
        return 8 + seq % 5
    if row["subtype"] == "village":
        return 3 + seq % 2
    return 4


def _villages(
    layer: SynthLayer, town: dict[str, str], cell: BaseGeometry, seed: tuple[float, float], by_parent: dict
) -> None:
    villages = sorted(by_parent.get(town["code"], []), key=lambda r: r["code"])
    if not villages:
        return
    rng = _rng(town["code"])
    comm = [v for v in villages if v["subtype"] in URBAN_VILLAGE]
    rest = [v for v in villages if v["subtype"] not in URBAN_VILLAGE]
    minx, miny, maxx, maxy = cell.bounds
    size = math.sqrt(max(area_m2(cell), 1.0)) / 110_000.0
    if rest:
        c_seeds = _cluster_seeds(cell, rng, len(comm), _centre(cell, seed), size * 0.2)
    else:
        c_seeds = _spread_seeds(cell, rng, len(comm), np.zeros((0, 2)))
    r_seeds = _spread_seeds(cell, rng, len(rest), c_seeds)
    seeds = np.concatenate([c_seeds, r_seeds]) if len(rest) and len(comm) else (c_seeds if comm else r_seeds)
    vcells = _tile(cell, seeds)
    for v, vcell in zip(comm + rest, vcells, strict=True):
        layer.villages[v["code"]] = vcell
        n = grids_per_village(v)
        grng = _rng(v["code"])
        gseeds = _spread_seeds(vcell, grng, n, np.zeros((0, 2)), k=6)
        urban = v["subtype"] in URBAN_VILLAGE or town["subtype"] in URBAN_TOWN
        short = v["name"]
        for i, g in enumerate(_tile(vcell, gseeds), start=1):
            layer.grids.append(SynthGrid(f"{v['code']}{i:03d}", f"{short}第{i}网格", v["code"], g, urban))


def ensure_demo_layer(session: Session, workers: bool = True) -> dict[str, int]:
    """Load the synthetic layer (and a synthetic roster: one captain per grid) if no grid layer is loaded.

    Idempotent: a database that already has grids (synthetic or a real import) is left as it is.
    """
    from pingan.geo import grids as grid_service
    from pingan.geo.models import Grid

    if session.scalar(select(Grid.code).limit(1)) is not None:
        return {"grids": 0, "villages": 0, "towns": 0, "workers": 0}
    layer = generate()
    counts = store_layer(session, layer)
    if workers:
        counts["workers"] = grid_service.synth_roster(session)
    return counts


def store_layer(session: Session, layer: SynthLayer) -> dict[str, int]:
    from pingan.geo import grids as grid_service
    from pingan.geo.models import RegionShape
    from pingan.geo.shapes import to_wkb

    codes = list(layer.towns) + list(layer.villages) + [QUYUAN, "430681", "430624"]
    session.execute(delete(RegionShape).where(RegionShape.code.in_(codes)))
    shapes = []
    for code in (QUYUAN, "430681", "430624"):
        src = SYNTH_SOURCE if code == QUYUAN else COUNTY_SOURCE + "; minus the synthetic 屈原管理区 area"
        shapes.append(
            {
                "code": code,
                "level": "county",
                "geom": to_wkb(layer.counties[code]),
                "synthetic": code == QUYUAN,
                "source": src,
            }
        )
    for level, items in (("township", layer.towns), ("village", layer.villages)):
        for code, g in items.items():
            shapes.append({"code": code, "level": level, "geom": to_wkb(g), "synthetic": True, "source": SYNTH_SOURCE})
    session.execute(insert(RegionShape), shapes)
    features = [
        grid_service.GridFeature(g.code, g.name, g.geom, urban=g.urban, index=i) for i, g in enumerate(layer.grids)
    ]
    grid_service.replace_grids(session, features, synthetic=True, source=SYNTH_SOURCE)
    return {"grids": len(layer.grids), "villages": len(layer.villages), "towns": len(layer.towns)}
