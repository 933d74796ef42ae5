"""Duplicate candidates (并案候选) against 100,000 open cases: latency per new case, and recall.

A scratch database (SQLite, PostgreSQL or both) gets `--cases` open cases with real message texts (subject +
detail from data/messages) at points spread over Yueyang (lon 112.9–114.1, lat 28.4–29.8: dense around the
city and county seats, 15 % anywhere; 3 % without coordinates), received over the last 60 days. Then
`--queries` new matters: half are re-reports of a stored case (text reworded: title shortened, sentences
shuffled and cut; 0–150 m away; 0–48 h apart), half fresh matters anywhere.

Measured per new matter: `pingan.dispatch.duplicates.candidates()` exactly as the intake calls it (it checks the
database for new cases and re-reads its best hits on every call). Baseline in the same run, on the same
queries: the naive query — open cases in the bounding box and time window from SQL, every row scored with
rapidfuzz. Also: the time to build the index, and whether 50 cases written by another connection after the
index was built are found at once.

    uv run python bench/duplicates.py [--quick] [--db sqlite|postgresql|both] [--cases N] [--queries N]

Wall-clock figures depend on what else the machine runs; the CPU time of the process (cpu_*) and the load
average are printed too.

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pingan.cases import lifecycle  # noqa: E402
from pingan.cases.models import Case  # noqa: E402
from pingan.db import make_engine, make_session_factory  # noqa: E402
from pingan.dispatch import duplicates  # noqa: E402
from pingan.migrate import upgrade  # noqa: E402

PG_ADMIN = os.environ.get("PINGAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
# (lon, lat, σ km, weight): 岳阳楼区 centre, 云溪, 君山, 岳阳县, 汨罗, 临湘, 平江, 湘阴 (edge of the box)
CENTRES = [
    (113.129, 29.357, 2.5, 0.40),
    (113.272, 29.473, 1.5, 0.05),
    (113.006, 29.461, 1.5, 0.05),
    (113.116, 29.144, 1.5, 0.07),
    (113.067, 28.806, 1.8, 0.08),
    (113.450, 29.479, 1.5, 0.07),
    (113.582, 28.701, 1.8, 0.08),
    (112.912, 28.689, 1.5, 0.05),
]
BOX = (112.9, 114.1, 28.4, 29.8)
OPEN = ["received", "registered", "assigned", "signed", "in_progress", "feedback", "verified"]
COUNTIES = ["430602", "430603", "430611", "430621", "430623", "430624", "430626", "430681", "430682"]


def point(rng: random.Random) -> tuple[float, float]:
    if rng.random() < 0.15:
        return rng.uniform(BOX[0], BOX[1]), rng.uniform(BOX[2], BOX[3])
    lon, lat, sigma, _ = rng.choices(CENTRES, weights=[c[3] for c in CENTRES])[0]
    dx, dy = rng.gauss(0, sigma * 1000), rng.gauss(0, sigma * 1000)
    lon2 = lon + dx / (111_320 * math.cos(math.radians(lat)))
    lat2 = lat + dy / 111_320
    return min(max(lon2, BOX[0]), BOX[1]), min(max(lat2, BOX[2]), BOX[3])


def offset(lon: float, lat: float, metres: float, rng: random.Random) -> tuple[float, float]:
    a = rng.uniform(0, 2 * math.pi)
    return (
        lon + metres * math.cos(a) / (111_320 * math.cos(math.radians(lat))),
        lat + metres * math.sin(a) / 111_320,
    )


def reword(title: str, content: str, rng: random.Random) -> tuple[str, str]:
    """Another caller's words for the same matter: a shorter title, sentences shuffled, the tail cut."""
    t = title
    if len(t) > 8:
        cut = rng.randint(0, 2)
        t = t[cut : len(t) - rng.randint(0, 2)]
    parts = [p for p in content.replace("！", "。").replace("？", "。").split("。") if p.strip()]
    rng.shuffle(parts)
    body = "。".join(parts[: max(1, int(len(parts) * 0.7))])
    return t, "反映一下，" + body[:300]


def scratch(kind: str) -> tuple[str, Any]:
    if kind == "sqlite":
        d = tempfile.mkdtemp(prefix="pingan-bench-dup-")
        return f"sqlite:///{d}/bench.db", None
    name = f"pingan_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, (admin, name)


def drop(url: str, handle: Any) -> None:
    if handle is None:
        shutil.rmtree(Path(url.split("///", 1)[1]).parent, ignore_errors=True)
        return
    admin, name = handle
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def case_row(
    i: int,
    title: str,
    content: str,
    lon: float | None,
    lat: float | None,
    at: datetime,
    status: str,
    rng: random.Random,
) -> dict[str, Any]:
    county = rng.choice(COUNTIES)
    town = county + f"{rng.randint(1, 12):03d}"
    return {
        "tracking_code": f"PB{i:010d}",
        "channel": "hotline_12345",
        "external_id": f"bench-{i}",
        "case_type": "投诉",
        "kind": "承诺件",
        "urgency": "normal",
        "title": title[:200],
        "content": content,
        "address": "",
        "lat": lat,
        "lon": lon,
        "region_code": town,
        "county_code": county,
        "town_code": town,
        "locate_level": "town",
        "status": status,
        "received_at": at,
        "created_at": at,
        "updated_at": at,
        "extra": {},
    }


def naive(
    session: Session,
    title: str,
    content: str,
    lon: float | None,
    lat: float | None,
    at: datetime,
    radius: float,
    days: float,
    limit: int,
) -> list[int]:
    """The baseline: open cases in the bounding box and window from SQL, each scored with rapidfuzz."""
    if lon is None or lat is None:
        return []
    dlat = radius / 111_320
    dlon = radius / (111_320 * math.cos(math.radians(lat)))
    rows = session.execute(
        select(Case.id, Case.title, Case.content, Case.lon, Case.lat, Case.received_at).where(
            Case.status.in_(sorted(lifecycle.OPEN)),
            Case.lat.between(lat - dlat, lat + dlat),
            Case.lon.between(lon - dlon, lon + dlon),
            Case.received_at.between(at - timedelta(days=days), at + timedelta(days=days)),
        )
    ).all()
    q = f"{title} {content[:160]}"
    scored = []
    for r in rows:
        d = float(duplicates.haversine_m(lat, lon, [r.lat], [r.lon])[0])  # type: ignore[arg-type]
        if d > radius:
            continue
        sim = fuzz.ratio(q, f"{r.title} {r.content[:160]}") / 100
        dt = abs((r.received_at - at).total_seconds()) / (days * 86400)
        score = 0.6 * sim + 0.25 * (1 - d / radius) + 0.15 * (1 - dt)
        if sim >= 0.3:
            scored.append((score, r.id))
    scored.sort(reverse=True)
    return [i for _, i in scored[:limit]]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def run(kind: str, n_cases: int, n_queries: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    corpus = [(s, d) for s, d in duplicates.message_corpus() if s and d]
    url, handle = scratch(kind)
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        t0 = time.perf_counter()
        rows = []
        for i in range(1, n_cases + 1):
            s, d = rng.choice(corpus)
            lon, lat = point(rng)
            if rng.random() < 0.03:
                lon = lat = None  # type: ignore[assignment]
            at = NOW - timedelta(seconds=rng.uniform(0, 60 * 86400))
            rows.append(case_row(i, s, d, lon, lat, at, rng.choice(OPEN), rng))
        with factory() as session:
            for k in range(0, len(rows), 5000):
                session.execute(insert(Case), rows[k : k + 5000])
            session.commit()
        if kind == "postgresql":
            with engine.connect() as conn:  # what autovacuum would do after a bulk load
                conn.execute(text("ANALYZE cases"))
                conn.commit()
        insert_s = time.perf_counter() - t0
        print(f"[{kind}] {n_cases} cases inserted in {insert_s:.1f}s", file=sys.stderr)

        pol = duplicates.policy()
        duplicates.text_model()  # the IDF model is built once per process (not part of the index build)
        duplicates.forget_indexes()
        with factory() as session:
            t0, c0 = time.perf_counter(), time.process_time()
            idx = duplicates.index_for(session)
            build_s = time.perf_counter() - t0
            build_cpu_s = time.process_time() - c0
            index_mb = sum(a.nbytes for a in (idx.ids, idx.lat, idx.lon, idx.t, idx.alive, idx.cols, idx.wts)) / 1e6
            session.commit()
        print(f"[{kind}] index of {idx.size} open cases built in {build_s:.1f}s", file=sys.stderr)

        located = [r for r in rows if r["lat"] is not None]
        queries = []
        for j in range(n_queries):
            if j % 2 == 0:
                src = rng.choice(located)
                t, c = reword(src["title"], src["content"], rng)
                lon, lat = offset(src["lon"], src["lat"], rng.uniform(0, 150), rng)
                at = src["received_at"] + timedelta(hours=rng.uniform(-48, 48))
                queries.append((t, c, lon, lat, at, int(src["tracking_code"][2:])))
            else:
                s, d = rng.choice(corpus)
                lon, lat = point(rng)
                queries.append((s, d, lon, lat, NOW - timedelta(seconds=rng.uniform(0, 60 * 86400)), None))

        lat_ms: list[float] = []
        cpu_ms: list[float] = []
        base_ms: list[float] = []
        hit = base_hit = top1 = planted = n_found = 0
        # two passes over the same queries (the baseline's large reads would otherwise evict the index's caches)
        with factory() as session:
            for t, c, lon, lat, at, target in queries:
                t1, c1 = time.perf_counter(), time.process_time()
                got = duplicates.candidates(session, title=t, content=c, lon=lon, lat=lat, at=at)
                lat_ms.append((time.perf_counter() - t1) * 1000)
                cpu_ms.append((time.process_time() - c1) * 1000)
                session.commit()
                n_found += len(got)
                if target is not None:
                    planted += 1
                    ids = [g["case_id"] for g in got]
                    hit += target in ids
                    top1 += bool(ids) and ids[0] == target
            for t, c, lon, lat, at, target in queries:
                t1 = time.perf_counter()
                base = naive(session, t, c, lon, lat, at, pol.radius_m, pol.days, pol.limit)
                base_ms.append((time.perf_counter() - t1) * 1000)
                session.commit()
                if target is not None:
                    base_hit += target in base

        # freshness: cases written through another connection after the index was built
        fresh_rows = []
        for i in range(50):
            src = rng.choice(located)
            lon, lat = offset(src["lon"], src["lat"], 5000, rng)
            fresh_rows.append(case_row(n_cases + 1 + i, src["title"], src["content"], lon, lat, NOW, "received", rng))
        other = make_engine(url)
        with make_session_factory(other)() as s2:
            s2.execute(insert(Case), fresh_rows)
            s2.commit()
        other.dispose()
        fresh_found = 0
        with factory() as session:
            for r in fresh_rows:
                got = duplicates.candidates(
                    session, title=r["title"], content=r["content"], lon=r["lon"], lat=r["lat"], at=NOW
                )
                fresh_found += any(g["tracking_code"] == r["tracking_code"] for g in got)
                session.commit()
        engine.dispose()
        return {
            "db": kind,
            "cases": n_cases,
            "open_indexed": idx.size,
            "queries": n_queries,
            "insert_s": round(insert_s, 2),
            "index_build_s": round(build_s, 2),
            "index_build_cpu_s": round(build_cpu_s, 2),
            "index_mb": round(index_mb, 1),
            "p50_ms": round(statistics.median(lat_ms), 3),
            "p90_ms": round(pct(lat_ms, 90), 3),
            "p99_ms": round(pct(lat_ms, 99), 3),
            "max_ms": round(max(lat_ms), 3),
            "cpu_p50_ms": round(statistics.median(cpu_ms), 3),
            "cpu_p99_ms": round(pct(cpu_ms, 99), 3),
            "load_avg_1m": round(os.getloadavg()[0], 1),
            "mean_candidates": round(n_found / len(queries), 2),
            "recall_at_5": round(hit / planted, 4),
            "top1": round(top1 / planted, 4),
            "baseline_p50_ms": round(statistics.median(base_ms), 3),
            "baseline_p99_ms": round(pct(base_ms, 99), 3),
            "baseline_recall_at_5": round(base_hit / planted, 4),
            "speedup_p50": round(statistics.median(base_ms) / statistics.median(lat_ms), 1),
            "fresh_found": f"{fresh_found}/{len(fresh_rows)}",
            "target_p99_ms": 5.0,
        }
    finally:
        drop(url, handle)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer queries (under a minute on SQLite)")
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20260506)
    args = ap.parse_args()
    n_queries = args.queries or (150 if args.quick else 1000)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [run(k, args.cases, n_queries, args.seed) for k in kinds]
    for r in results:
        print(
            f"[{r['db']}] candidates(): p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms (target ≤ 5 ms); "
            f"naive SQL + rapidfuzz: p50 {r['baseline_p50_ms']} ms, p99 {r['baseline_p99_ms']} ms; "
            f"recall@5 {r['recall_at_5']} vs {r['baseline_recall_at_5']}; fresh {r['fresh_found']}",
            file=sys.stderr,
        )
    print(json.dumps({"bench": "duplicates", "quick": args.quick, "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
