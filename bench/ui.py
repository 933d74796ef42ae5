"""UI benchmark: the command center (/) and the case list (/cases) with 1,000,000 cases in PostgreSQL.

Creates a scratch PostgreSQL database, migrates it, seeds the organisation, bulk-generates the cases in SQL
(INSERT … SELECT generate_series), then times the first response of each page in-process (server time and
HTML size) for a city dispatcher and a department handler. The baseline is the same run without the web
indexes of migration 0007_web (dropped, timed, then restored). With --browser (and Debian's chromium), the
first contentful paint of each page is measured too, through a real uvicorn server: the first load and the median
of three (the city dispatcher's list and home, the handler's workbench).

    uv run python bench/ui.py            # 1,000,000 cases
    uv run python bench/ui.py --quick    # 100,000 cases
    uv run python bench/ui.py --keep --browser; uv run python bench/ui.py --db-url postgresql+psycopg://…/NAME
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PG_ADMIN = os.environ.get("PINGAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PAGES = ["/", "/cases", "/cases?status=registered", "/cases?channel=grid", "/cases?queue=overdue", "/workbench"]
CHROMIUM = "/usr/bin/chromium"
PAINT_LOADS = 3

GENERATE = """
INSERT INTO cases (
  tracking_code, channel, external_id, case_type, kind, urgency, title, content, address, lat, lon,
  region_code, county_code, town_code, locate_level, category, status, confidential, department_id,
  owner_platform, received_at, created_at, updated_at, assigned_at, signed_at, deadline_at, closed_at,
  deadline_provisional, sweep_stage, return_count, rework_count, urge_count, supervised, escalation_level,
  satisfaction, extra, event_count, head_hash, version, caller_phone)
SELECT
  'B' || lpad(to_hex(g), 10, '0'),
  (ARRAY['hotline_12345','hotline_12345','hotline_12345','police_110','grid','grid','online','visit'])[1 + g % 8],
  'bench-' || g,
  (ARRAY['投诉','求助','咨询','举报','建议'])[1 + g % 5],
  '承诺件', 'normal',
  (ARRAY['占道经营','噪音扰民','井盖缺失','路灯不亮','房屋漏水','垃圾清运','违章停车','供水异常'])[1 + g % 8]
    || '（' || g || '）',
  '批量生成的测试诉求内容', '岳阳市',
  29.0 + (g % 1000) / 1000.0 * 0.8, 112.9 + (g % 997) / 997.0 * 0.9,
  c.code, c.code, NULL, 'county',
  (ARRAY['市容环境','噪声污染','市政设施','城市照明','住房保障','环境卫生','交通管理','供水供电'])[1 + g % 8],
  s.status, false,
  CASE WHEN s.status IN ('assigned','signed','in_progress','feedback','verified','closed','revisited')
       THEN d.id END,
  '12345',
  now() - (g % 525600) * interval '1 minute',
  now() - (g % 525600) * interval '1 minute',
  now() - (g % 525600) * interval '1 minute' + interval '1 hour',
  CASE WHEN s.status NOT IN ('received','registered') THEN now() - (g % 525600) * interval '1 minute' END,
  CASE WHEN s.status IN ('signed','in_progress','feedback','verified','closed','revisited')
       THEN now() - (g % 525600) * interval '1 minute' END,
  now() - (g % 525600) * interval '1 minute' + interval '10 days',
  CASE WHEN s.status IN ('closed','revisited') THEN now() - (g % 525600) * interval '1 minute' + interval '5 days' END,
  false, 0, (g % 17 = 0)::int, (g % 23 = 0)::int, 0, false, 0,
  CASE WHEN s.status = 'revisited' THEN (ARRAY['非常满意','满意','基本满意','不满意'])[1 + g % 4] END,
  '{}'::json, 1, '', 1, '+86138' || lpad((g % 100000000)::text, 8, '0')
FROM generate_series(1, :n) AS g
CROSS JOIN LATERAL (SELECT (ARRAY['revisited','revisited','revisited','revisited','closed','in_progress',
  'assigned','signed','feedback','registered','received','verified'])[1 + (g * 7) % 12] AS status) s
CROSS JOIN LATERAL (SELECT code FROM bench_counties WHERE idx = g % (SELECT count(*) FROM bench_counties)) c
CROSS JOIN LATERAL (SELECT id FROM bench_departments WHERE idx = g % (SELECT count(*) FROM bench_departments)) d
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_db(n: int) -> tuple[str, str]:
    from pingan.db import make_engine, make_session_factory, session_scope
    from pingan.migrate import upgrade
    from pingan.sim.org import seed_demo_users, seed_organisation

    name = f"pingan_bench_ui_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        seed_organisation(session)
        seed_demo_users(session)
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(
            text(
                "CREATE TEMP TABLE bench_counties AS SELECT code, (row_number() OVER (ORDER BY code)) - 1 AS idx "
                "FROM regions WHERE level = 'county'"
            )
        )
        conn.execute(
            text(
                "CREATE TEMP TABLE bench_departments AS SELECT id, (row_number() OVER (ORDER BY id)) - 1 AS idx "
                "FROM departments WHERE region_code = '430600'"
            )
        )
        conn.execute(text(GENERATE), {"n": n})
        conn.execute(
            text(
                "INSERT INTO case_departments (case_id, department_id, role, active) "
                "SELECT id, department_id, 'lead', true FROM cases WHERE department_id IS NOT NULL"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE cases"))
        conn.execute(text("VACUUM ANALYZE case_departments"))
    engine.dispose()
    print(f"generated {n:,} cases in {time.perf_counter() - t:.1f}s ({name})", flush=True)
    return name, url


def drop_db(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def time_pages(url: str, users: list[str], repeat: int) -> dict[str, dict[str, Any]]:
    from fastapi.testclient import TestClient

    from pingan.app import create_app
    from pingan.config import Settings
    from pingan.sim.org import DEMO_PASSWORD

    settings = Settings()
    settings.db_url = url
    out: dict[str, dict[str, Any]] = {}
    with TestClient(create_app(settings, background=False)) as client:
        for user in users:
            client.cookies.clear()
            r = client.post("/api/v1/auth/login", json={"username": user, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            for page in PAGES:
                if user != "chengguan" and page == "/workbench":
                    continue
                times, size, status = [], 0, 0
                for i in range(repeat):
                    t = time.perf_counter()
                    resp = client.get(page, follow_redirects=False)
                    times.append(time.perf_counter() - t)
                    size, status = len(resp.content), resp.status_code
                    if i == 0:
                        first = times[0]
                out[f"{user} {page}"] = {
                    "status": status,
                    "first_ms": round(first * 1000, 1),
                    "median_ms": round(statistics.median(times) * 1000, 1),
                    "html_kb": round(size / 1024, 1),
                }
    return out


def set_web_indexes(url: str, present: bool) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if present:
            conn.execute(text("CREATE INDEX IF NOT EXISTS ix_cases_status_received ON cases (status, received_at)"))
            conn.execute(text("CREATE INDEX IF NOT EXISTS ix_cases_channel_received ON cases (channel, received_at)"))
            conn.execute(text("CREATE INDEX IF NOT EXISTS ix_cases_updated ON cases (updated_at)"))
            conn.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS ix_case_departments_dept_case "
                    "ON case_departments (department_id, case_id)"
                )
            )
            conn.execute(text("ANALYZE case_departments"))
            conn.execute(text("ANALYZE cases"))
        else:
            for ix in (
                "ix_cases_status_received",
                "ix_cases_channel_received",
                "ix_cases_updated",
                "ix_case_departments_dept_case",
            ):
                conn.execute(text(f"DROP INDEX IF EXISTS {ix}"))
    engine.dispose()


def browser_paint(url: str) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        return {"skipped": "chromium not installed"}
    import uvicorn
    from playwright.sync_api import sync_playwright

    from pingan.app import create_app
    from pingan.config import Settings
    from pingan.sim.org import DEMO_PASSWORD

    settings = Settings()
    settings.db_url = url
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, background=False), port=port, log_level="critical", timeout_graceful_shutdown=1
        )
    )
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            ctx = b.new_context()
            r = ctx.request.post(f"{base}/api/v1/auth/login", data={"username": "paiqian", "password": DEMO_PASSWORD})
            assert r.ok, r.text()
            warm = ctx.new_page()  # the browser's own start-up is not the page's paint
            warm.goto(base + "/public", wait_until="load")
            warm.close()
            hctx = b.new_context()  # a department handler: the workbench
            r = hctx.request.post(
                f"{base}/api/v1/auth/login", data={"username": "chengguan", "password": DEMO_PASSWORD}
            )
            assert r.ok, r.text()
            for page_path, c in (("/cases", ctx), ("/", ctx), ("/workbench", hctx)):
                loads = []
                for _ in range(PAINT_LOADS):  # the first load, then reloads (the board's memo may answer those)
                    time.sleep(2)  # let the previous page's background requests (map data) finish
                    page = c.new_page()
                    page.goto(base + page_path, wait_until="load")
                    page.wait_for_timeout(300)
                    loads.append(
                        page.evaluate(
                            "() => { const p = performance.getEntriesByName('first-contentful-paint')[0];"
                            " const n = performance.getEntriesByType('navigation')[0];"
                            " return {fcp: p ? p.startTime : null, ttfb: n.responseStart, html: n.responseEnd,"
                            " dcl: n.domContentLoadedEventEnd}; }"
                        )
                    )
                    page.close()
                t = loads[0]
                out[page_path] = {
                    "first_contentful_paint_ms": round(t["fcp"], 1) if t["fcp"] is not None else None,
                    "time_to_first_byte_ms": round(t["ttfb"], 1),
                    "html_done_ms": round(t["html"], 1),
                    "dom_content_loaded_ms": round(t["dcl"], 1),
                    "median_of_loads": len(loads),
                    "median_first_contentful_paint_ms": round(statistics.median(x["fcp"] or 0 for x in loads), 1),
                    "median_time_to_first_byte_ms": round(statistics.median(x["ttfb"] for x in loads), 1),
                }
            b.close()
    finally:
        server.should_exit = True
        th.join(timeout=5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100,000 cases instead of 1,000,000")
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--browser", action="store_true", help="also measure first contentful paint in chromium")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--db-url", default=None, help="reuse a database made by an earlier --keep run (migrated first)")
    args = ap.parse_args()
    n = args.cases or (100_000 if args.quick else 1_000_000)
    if args.db_url:
        from pingan.migrate import upgrade

        name, url = "", args.db_url
        upgrade(url)
        args.keep = True
    else:
        name, url = make_db(n)
    result: dict[str, Any] = {"bench": "ui", "cases": n}
    try:
        users = ["paiqian", "chengguan"]
        set_web_indexes(url, present=False)
        baseline = time_pages(url, users, args.repeat)
        set_web_indexes(url, present=True)
        web = time_pages(url, users, args.repeat)
        for k, v in web.items():
            print(
                f"{k:40s} {v['status']} first {v['first_ms']:8.1f} ms  median {v['median_ms']:8.1f} ms  "
                f"{v['html_kb']:6.1f} KB   (without 0007 indexes: median {baseline[k]['median_ms']:8.1f} ms)"
            )
        result["pages"] = web
        result["baseline_without_web_indexes"] = baseline
        result["worst_median_ms"] = max(v["median_ms"] for v in web.values())
        result["worst_first_ms"] = max(v["first_ms"] for v in web.values())
        result["baseline_worst_median_ms"] = max(v["median_ms"] for v in baseline.values())
        if args.browser:
            result["browser"] = browser_paint(url)
    finally:
        if not args.keep:
            drop_db(name)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
