"""Mediation: seed speed, statistics and chain verification time, and rota fairness vs a naive greedy rota.

The demo seed is run into a scratch SQLite database (n disputes through the service: 300 by default, 60 with
--quick); then the figures are computed and every timeline verified. The rota part plans one year (or a quarter
with --quick) for 24 volunteers, 3 a day, with random leave, and compares the spread of duty counts with the
baseline run in the same process: a hand-kept rotation down the list that skips whoever is away.

    uv run python bench/mediation.py [--quick] [--n N]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pingan.db import make_engine, make_session_factory, session_scope
from pingan.mediation import rota, service, stats
from pingan.mediation.seed import MARRIAGE_CENTER, seed_demo
from pingan.migrate import upgrade
from pingan.sim.org import seed_organisation


def naive(days: list[date], people: list[int], off: dict[int, set[date]], per_day: int) -> dict[date, list[int]]:
    """The rotation a clerk keeps by hand: go down the list, skip whoever is away (their turn is lost)."""
    out = {}
    i = 0
    for day in days:
        chosen: list[int] = []
        tried = 0
        while len(chosen) < per_day and tried < len(people):
            p = people[i % len(people)]
            i += 1
            tried += 1
            if day not in off.get(p, set()):
                chosen.append(p)
        out[day] = chosen
    return out


def spread(plan: dict[date, list[int]], people: list[int]) -> int:
    c = Counter(p for chosen in plan.values() for p in chosen)
    return max(c[p] for p in people) - min(c[p] for p in people)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (60 if args.quick else 300)
    figures: dict[str, object] = {"n": n}

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with session_scope(factory) as s:
            seed_organisation(s)
        t = time.perf_counter()
        with session_scope(factory) as s:
            seed_demo(s, n=n, now=datetime(2026, 11, 20, 2, tzinfo=UTC))
        figures["seed_s"] = round(time.perf_counter() - t, 2)
        figures["seed_ms_per_dispute"] = round(1000 * figures["seed_s"] / n, 1)  # type: ignore[operator]
        with factory() as s:
            t = time.perf_counter()
            stats.disputes(s)
            stats.center(s, MARRIAGE_CENTER)
            stats.petitions(s)
            stats.mediators(s)
            figures["stats_ms"] = round(1000 * (time.perf_counter() - t), 1)
            t = time.perf_counter()
            problems = service.verify_chains(s)
            figures["verify_ms"] = round(1000 * (time.perf_counter() - t), 1)
            figures["chain_problems"] = len(problems)
        engine.dispose()

    rng = random.Random(6)
    start = date(2026, 1, 5)
    days = [
        start + timedelta(days=i) for i in range(90 if args.quick else 365) if (start + timedelta(days=i)).weekday() < 5
    ]
    people = list(range(1, 25))
    off = {p: {d for d in days if rng.random() < (0.4 if p <= 3 else 0.05)} for p in people}
    t = time.perf_counter()
    ours = rota.plan(days, people, off, 3)
    figures["rota_plan_ms"] = round(1000 * (time.perf_counter() - t), 1)
    figures["rota_days"] = len(days)
    figures["rota_spread"] = spread(ours, people)
    figures["rota_spread_baseline_round_robin"] = spread(naive(days, people, off, 3), people)
    print(f"seed {n} disputes: {figures['seed_s']} s; stats {figures['stats_ms']} ms; verify {figures['verify_ms']} ms")
    base = figures["rota_spread_baseline_round_robin"]
    print(f"rota {len(days)} days: spread {figures['rota_spread']} (baseline round-robin {base})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
