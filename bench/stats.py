"""Time the KPI query (all seven figures by department over 90 days) on SQLite and PostgreSQL: from the rollup
(pingan.metrics.rollup, rebuilt after the bulk load, timed) and, once, from the raw timeline; both must agree.

Cases and their timelines are generated with bulk inserts into scratch databases (not through the API):
200,000 cases over 180 days by default, 8,000 with --quick. The baseline, run in the same process, reads the
same timeline rows into Python and computes 响应率 and 准确派遣率 by department the naive way; the SQL figures
must equal it.

    uv run python bench/stats.py [--quick] [--cases N] [--only sqlite|postgresql]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.orm import Session

from pingan.cases.actors import Actor
from pingan.cases.models import Case, CaseEvent
from pingan.db import make_engine, make_session_factory, session_scope
from pingan.metrics import board, kpis, rollup
from pingan.migrate import upgrade
from pingan.orgs.models import Department
from pingan.orgs.roles import Role
from pingan.sim.org import seed_organisation

PG_ADMIN_URL = os.environ.get("PINGAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COUNTIES = ["430602", "430603", "430611", "430621", "430623", "430624", "430626", "430681", "430682", "430671"]
CHANNELS = ["hotline_12345", "hotline_12345", "hotline_12345", "grid", "grid", "online", "police_110", "visit"]
CATEGORIES = ["市容环境", "道路交通", "住房物业", "劳动社保", "教育", "医疗卫生", "市场监管", "治安", None]
LEVELS = ["非常满意", "满意", "满意", "基本满意", "不满意", "非常不满意"]
BATCH = 20_000


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


Rows = list[dict[str, Any]]


def generate(n: int, deps: list[int], now: datetime, seed: int = 7) -> tuple[Rows, Rows]:
    """Cases and their events: most go the whole loop; some are returned, reworked, suspended or still open."""
    rnd = random.Random(seed)
    cases: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    h = timedelta(hours=1)
    for cid in range(1, n + 1):
        received = now - timedelta(days=180 * rnd.random())
        county = rnd.choice(COUNTIES)
        evs: list[tuple[str, datetime, dict[str, Any], str]] = [("intake", received, {}, "received")]
        t = received + 0.2 * h
        status = "received"
        dept: int | None = None
        deadline = sign_deadline = closed = None
        r = rnd.random()
        if r > 0.03:
            evs.append(("register", t, {}, "registered"))
            for attempt in range(3):
                dept = rnd.choice(deps)
                t += 0.5 * h
                evs.append(("assign", t, {"department_id": dept}, "assigned"))
                sign_deadline = t + 2 * h
                deadline = t + timedelta(days=rnd.choice([3, 5, 13]))
                status = "assigned"
                if t > now - h and rnd.random() < 0.5:
                    break
                if attempt < 2 and rnd.random() < 0.06:
                    t += rnd.random() * 3 * h
                    evs.append(("return", t, {"department_id": dept}, "registered"))
                    status, dept, deadline, sign_deadline = "registered", None, None, None
                    continue
                t += rnd.expovariate(1.0) * h
                evs.append(("sign", t, {"on_time": t <= sign_deadline}, "signed"))
                status = "signed"
                break
        if status == "signed":
            assert deadline is not None
            done = t + timedelta(days=rnd.expovariate(1 / 4))
            if rnd.random() < 0.03:
                evs.append(("approve_suspension", t + h, {}, "suspended"))
                status = "suspended"
            elif done < now:
                evs.append(("feedback", done, {"result": "已处置"}, "feedback"))
                status = "feedback"
                if rnd.random() < 0.08:
                    evs.append(("verify_fail", done + h, {"rework": 1}, "in_progress"))
                    done += timedelta(days=1)
                    evs.append(("feedback", done, {"result": "已整改"}, "feedback"))
                if done + 2 * h < now:
                    evs.append(("verify_pass", done + h, {}, "verified"))
                    evs.append(("close", done + 2 * h, {"on_time": done + 2 * h <= deadline}, "closed"))
                    status, closed = "closed", done + 2 * h
                    if closed + timedelta(days=1) < now and rnd.random() < 0.85:
                        level = rnd.choice(LEVELS)
                        data = {"satisfaction": level, "solved": rnd.random() < 0.8, "satisfied": True}
                        evs.append(("revisit", closed + timedelta(days=1), data, "revisited"))
                        status = "revisited"
        channel = rnd.choice(CHANNELS)
        cases.append(
            {
                "id": cid,
                "tracking_code": f"PB{cid:010d}",
                "channel": channel,
                "external_id": f"B{cid}",
                "case_type": "投诉",
                "kind": "承诺件",
                "urgency": "normal",
                "title": f"bench {cid}",
                "content": "bench",
                "address": "",
                "region_code": county,
                "county_code": county,
                "locate_level": "county",
                "category": rnd.choice(CATEGORIES),
                "status": status,
                "confidential": False,
                "department_id": dept,
                "owner_platform": "12345",
                "received_at": received,
                "created_at": received,
                "updated_at": evs[-1][1],
                "assigned_at": None,
                "sign_deadline_at": sign_deadline,
                "deadline_at": deadline,
                "closed_at": closed,
                "satisfaction": None,
                "pending_request": None,
                "extra": {},
                "event_count": len(evs),
                "head_hash": "",
                "version": 1,
            }
        )
        prev = None
        for seq, (action, at, data, to) in enumerate(evs, 1):
            events.append(
                {
                    "case_id": cid,
                    "seq": seq,
                    "action": action,
                    "actor_id": None,
                    "actor_name": "bench",
                    "actor_role": "system",
                    "at": at,
                    "from_status": prev,
                    "to_status": to,
                    "note": "",
                    "data": data,
                    "prev_hash": "",
                    "hash": "",
                }
            )
            prev = to
    return cases, events


def load(engine: Engine, cases: list[dict[str, Any]], events: list[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for b in _batches(cases):
            conn.execute(insert(Case.__table__), b)
        for b in _batches(events):
            conn.execute(insert(CaseEvent.__table__), b)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"))
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('case_events', 'id'), (SELECT max(id) FROM case_events))")
            )
    return time.perf_counter() - t0


def baseline_dispatch(session: Session, w: kpis.Window) -> dict[str, dict[str, tuple[int, int]]]:
    """The naive way: read the dispatch-related events into Python and count."""
    e = CaseEvent
    in_window = select(e.case_id).where(e.action == "assign", e.at >= w.since, e.at < w.until)
    rows = session.execute(
        select(e.case_id, e.seq, e.action, e.at, e.data)
        .where(e.action.in_(("assign", "sign", "return")), e.case_id.in_(in_window))
        .order_by(e.case_id, e.seq)
    ).all()
    units: dict[tuple[int, str], list[bool]] = {}  # (case, dept) → [signed on time, returned]
    current: tuple[int, str] | None = None
    for case_id, _seq, action, at, data in rows:
        if action == "assign":
            current = None
            if w.since <= at < w.until:
                current = (case_id, str(data["department_id"]))
                units.setdefault(current, [False, False])
        elif current is not None and current[0] == case_id:
            if action == "sign" and data.get("on_time"):
                units[current][0] = True
            if action == "return":
                units[current][1] = True
    resp: dict[str, list[int]] = {}
    acc: dict[str, list[int]] = {}
    for (_cid, dept), (signed, returned) in units.items():
        r = resp.setdefault(dept, [0, 0])
        r[0] += signed
        r[1] += 1
        a = acc.setdefault(dept, [0, 0])
        a[0] += not returned
        a[1] += 1
    return {
        "response_rate": {k: (v[0], v[1]) for k, v in resp.items()},
        "accurate_dispatch_rate": {k: (v[0], v[1]) for k, v in acc.items()},
    }


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(kind: str, url: str, n: int, repeat: int) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as s:
        seed_organisation(s)
        deps = list(s.scalars(select(Department.id)))
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    cases, events = generate(n, deps, now)
    gen_s = time.perf_counter() - t0
    load_s = load(engine, cases, events)
    city = Actor(None, "bench", Role.LEADER)
    district = Actor(None, "bench", Role.DISPATCHER, region_code="430602")
    w = kpis.Window(now - timedelta(days=90), now)
    out: dict[str, Any] = {"cases": n, "events": len(events), "generate_s": round(gen_s, 2), "load_s": round(load_s, 2)}
    del cases, events
    # The events were bulk-loaded around the ORM, so the rollup is rebuilt from them (`pingan metrics rebuild`).
    t0 = time.perf_counter()
    with engine.begin() as conn:
        facts = rollup.rebuild(conn)
    out["rollup_rebuild_s"] = round(time.perf_counter() - t0, 2)
    out["rollup_facts"] = facts
    with factory() as session:
        pol = kpis.policy()
        raw = kpis.Ctx(session, city, w, "department", pol, "events")
        raw_s, raw_data = timed(lambda: kpis.compute(raw), 1)
        ctx = kpis.Ctx(session, city, w, "department", pol)
        kpi_s, data = timed(lambda: kpis.compute(ctx), repeat)
        if data != raw_data:
            raise SystemExit(f"{kind}: the rollup's figures differ from the timeline's")
        out["kpi_by_department_90d_from_events_s"] = round(raw_s, 3)
        total_s, _ = timed(lambda: kpis.compute(kpis.Ctx(session, city, w, "total", pol)), repeat)
        dist_s, _ = timed(lambda: kpis.compute(kpis.Ctx(session, district, w, "department", pol)), repeat)
        per_metric = {}
        for m in data:
            per_metric[m], _ = timed(lambda m=m: kpis.counts(ctx, m), 1)
        base_s, base = timed(lambda: baseline_dispatch(session, w), 1)
        for m in ("response_rate", "accurate_dispatch_rate"):
            if data[m] != base[m]:
                raise SystemExit(f"{kind}: {m} differs from the baseline")
        biggest = max(data["response_rate"], key=lambda k: data["response_rate"][k][1])
        drill_s, (drill_total, _) = timed(lambda: kpis.drill(ctx, "response_rate", "numerator", biggest, 1, 50), repeat)
        assert drill_total == data["response_rate"][biggest][0]
        queues_s, _ = timed(lambda: board.queues(session, city, now), repeat)
        intake_s, _ = timed(lambda: board.intake(session, city, 30, now), repeat)
        dispatched = sum(d for _, d in data["response_rate"].values())
    engine.dispose()
    out.update(
        {
            "kpi_by_department_90d_s": round(kpi_s, 3),
            "kpi_total_90d_s": round(total_s, 3),
            "kpi_district_by_department_90d_s": round(dist_s, 3),
            "per_metric_s": {m: round(v, 3) for m, v in per_metric.items()},
            "baseline_python_dispatch_s": round(base_s, 3),
            "sql_dispatch_family_s": round(per_metric["response_rate"], 3),
            "baseline_equal": True,
            "drill_down_page_s": round(drill_s, 3),
            "queues_s": round(queues_s, 3),
            "intake_30d_s": round(intake_s, 3),
            "dispatched_units_90d": dispatched,
            "departments": len(data["response_rate"]),
        }
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="8,000 cases, one repeat")
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = ap.parse_args()
    n = args.cases or (8_000 if args.quick else 200_000)
    repeat = 1 if args.quick else 3
    result: dict[str, Any] = {"bench": "stats", "cases": n, "window_days": 90, "repeat": repeat}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            result["sqlite"] = run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", n, repeat)
            print(json.dumps({"sqlite": result["sqlite"]}, ensure_ascii=False), file=sys.stderr)
    if args.only in (None, "postgresql"):
        name = f"pingan_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            result["postgresql"] = run("postgresql", PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, n, repeat)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
