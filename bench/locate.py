"""Point location on the ~10,000-grid synthetic layer: single-point latency and batch throughput, one core,
against PostGIS (ST_Contains with a GiST index) on the same points in the same run.

    uv run python bench/locate.py [--quick] [--points N] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Targets (issue 2): single ≤ 20 µs per point (p50), batch ≥ 200,000 points/s. The last line is one JSON object.
PostGIS missing (no server, or no postgis extension) → the baseline is reported as unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

import numpy as np
import shapely

from pingan.geo.locator import GridIndex, location_of
from pingan.geo.synth import generate


def _points(index: GridIndex, city: Any, n: int, seed: int = 20261129) -> tuple[np.ndarray, np.ndarray]:
    """Half uniform over the city, half inside random grids (cases cluster where the grids are dense)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = city.bounds
    shapely.prepare(city)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    need = n // 2
    while need > 0:
        x = rng.uniform(minx, maxx, need * 3)
        y = rng.uniform(miny, maxy, need * 3)
        ok = shapely.contains_xy(city, x, y)
        xs.append(x[ok][:need])
        ys.append(y[ok][:need])
        need -= int(min(ok.sum(), need))
    picks = rng.integers(0, len(index.geoms), n - n // 2)
    bounds = shapely.bounds(index.geoms[picks])
    gx = bounds[:, 0] + rng.random(len(picks)) * (bounds[:, 2] - bounds[:, 0])
    gy = bounds[:, 1] + rng.random(len(picks)) * (bounds[:, 3] - bounds[:, 1])
    px, py = np.concatenate(xs + [gx]), np.concatenate(ys + [gy])
    order = rng.permutation(len(px))
    return px[order], py[order]


def bench_ours(index: GridIndex, xs: np.ndarray, ys: np.ndarray, single_n: int) -> dict[str, Any]:
    xl, yl = xs[:single_n].tolist(), ys[:single_n].tolist()
    grid_at = index.grid_at
    for x, y in zip(xl[:2000], yl[:2000], strict=True):  # warm-up
        grid_at(x, y)
    clock = time.perf_counter_ns
    lat = []
    for x, y in zip(xl, yl, strict=True):
        t = clock()
        grid_at(x, y)
        lat.append(clock() - t)
    full = []
    for x, y in zip(xl[:20000], yl[:20000], strict=True):
        t = clock()
        location_of(index, x, y)
        full.append(clock() - t)
    best = best_cpu = 0.0
    out = np.empty(0)
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        out = index.grids_at(xs, ys)
        best = max(best, len(xs) / (time.perf_counter() - t0))
        best_cpu = max(best_cpu, len(xs) / max(time.process_time() - c0, 1e-9))
    lat.sort()
    return {
        "single_p50_us": round(lat[len(lat) // 2] / 1000, 3),
        "single_p99_us": round(lat[int(len(lat) * 0.99)] / 1000, 3),
        "single_mean_us": round(statistics.fmean(lat) / 1000, 3),
        "locate_point_p50_us": round(sorted(full)[len(full) // 2] / 1000, 3),
        "batch_points_per_s": round(best),
        "batch_points_per_cpu_s": round(best_cpu),
        "answers": out,
    }


def bench_postgis(
    url: str, codes: list[str], geoms: np.ndarray, xs: np.ndarray, ys: np.ndarray, single_n: int
) -> dict[str, Any]:
    import psycopg

    name = f"pingan_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(url, autocommit=True)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        dsn = url.rsplit("/", 1)[0] + "/" + name
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
            conn.execute("CREATE TABLE grids (code text PRIMARY KEY, geom geometry(Geometry, 4326) NOT NULL)")
            wkb = shapely.to_wkb(geoms)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO grids VALUES (%s, ST_GeomFromWKB(%s, 4326))", list(zip(codes, wkb, strict=True))
                )
            conn.execute("CREATE INDEX grids_geom ON grids USING gist (geom)")
            conn.execute("ANALYZE grids")
            q = (
                "SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
                "ORDER BY code LIMIT 1"
            )
            xl, yl = xs[:single_n].tolist(), ys[:single_n].tolist()
            with conn.cursor() as cur:
                for x, y in zip(xl[:200], yl[:200], strict=True):
                    cur.execute(q, (x, y), prepare=True)
                    cur.fetchone()
                lat = []
                clock = time.perf_counter_ns
                for x, y in zip(xl, yl, strict=True):
                    t = clock()
                    cur.execute(q, (x, y), prepare=True)
                    cur.fetchone()
                    lat.append(clock() - t)
                batch_q = (
                    "SELECT p.i, (SELECT g.code FROM grids g WHERE ST_Contains(g.geom, p.pt) ORDER BY g.code LIMIT 1) "
                    "FROM (SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) AS pt "
                    "FROM unnest(%s::int[], %s::float8[], %s::float8[]) AS t(i, x, y)) p"
                )
                t0 = time.perf_counter()
                cur.execute(batch_q, (list(range(len(xs))), xs.tolist(), ys.tolist()))
                rows = cur.fetchall()
                batch_s = time.perf_counter() - t0
                version = cur.execute("SELECT postgis_lib_version()").fetchone()
        lat.sort()
        answers = [None] * len(xs)
        for i, code in rows:
            answers[i] = code
        return {
            "available": True,
            "postgis": version[0] if version else "?",
            "single_p50_us": round(lat[len(lat) // 2] / 1000, 1),
            "single_p99_us": round(lat[int(len(lat) * 0.99)] / 1000, 1),
            "single_n": len(lat),
            "batch_points_per_s": round(len(xs) / batch_s),
            "answers": answers,
        }
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer points (under a minute)")
    ap.add_argument("--points", type=int, default=None)
    ap.add_argument("--pg", default=os.environ.get("PINGAN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--no-postgis", action="store_true")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    n = args.points or (200_000 if args.quick else 1_000_000)
    single_n = min(n, 50_000 if args.quick else 200_000)
    pg_single_n = 2_000 if args.quick else 10_000
    pg_batch_n = min(n, 50_000 if args.quick else 200_000)

    t0 = time.perf_counter()
    layer = generate()
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = GridIndex([g.code for g in layer.grids], [g.geom for g in layer.grids], layer.counties)
    build_s = time.perf_counter() - t0
    city = shapely.union_all(list(layer.counties.values()))
    xs, ys = _points(index, city, n)
    ours = bench_ours(index, xs, ys, single_n)
    answers = ours.pop("answers")
    result: dict[str, Any] = {
        "bench": "locate",
        "grids": len(index.codes),
        "points": n,
        "layer_generate_s": round(gen_s, 2),
        "index_build_s": round(build_s, 2),
        "bucket_deg": index.d,
        "mixed_bucket_share": round(index.mixed_share, 3),
        "located_share": round(float((answers >= 0).mean()), 4),
        **ours,
        "targets": {"single_p50_us": 20, "batch_points_per_s": 200_000},
    }
    result["targets_met"] = ours["single_p50_us"] <= 20 and ours["batch_points_per_s"] >= 200_000
    baseline: dict[str, Any]
    if args.no_postgis:
        baseline = {"available": False, "reason": "--no-postgis"}
    else:
        try:
            baseline = bench_postgis(
                args.pg, index.codes, index.geoms, xs[:pg_batch_n], ys[:pg_batch_n], min(pg_single_n, pg_batch_n)
            )
            theirs = baseline.pop("answers")
            mine = [index.codes[j] if j >= 0 else None for j in answers[:pg_batch_n].tolist()]
            baseline["agreement"] = round(sum(a == b for a, b in zip(mine, theirs, strict=True)) / len(mine), 6)
            baseline["batch_points"] = pg_batch_n
        except Exception as exc:  # no server, no extension: the bench still reports our figures
            baseline = {"available": False, "reason": f"{type(exc).__name__}: {str(exc)[:200]}"}
    result["postgis"] = baseline
    if hasattr(os, "getloadavg"):
        result["load_average_1m"] = round(os.getloadavg()[0], 2)
    if baseline.get("available"):
        result["ratio_single_p50"] = round(baseline["single_p50_us"] / ours["single_p50_us"], 1)
        result["ratio_batch"] = round(ours["batch_points_per_s"] / baseline["batch_points_per_s"], 1)
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
