"""Intake throughput through the whole pipeline over HTTP, on SQLite and PostgreSQL.

A real server (`pingan serve`, separate processes) on a scratch database; an asyncio client keeps
`--concurrency` requests in flight. Measures one case per request (cases/s, p50/p99 latency), the latency of
one case per request with only 2 in flight (`single_light`), and the batch endpoint (cases/s), with short
synthetic matters (`batch`) and with the shipped real messages (`batch_real_texts`). The batch figure is the
baseline the single-request path is compared against.

    uv run python bench/intake.py [--quick] [--db sqlite|postgresql|both] [--workers N]

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("PINGAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TITLES = [
    "小区门口垃圾堆放多日无人清运",
    "路灯损坏夜间出行不便",
    "夜间施工噪音扰民",
    "人行道井盖缺失",
    "小区物业乱收费",
    "公交站台破损",
    "农村道路坑洼不平",
    "占道经营影响通行",
]
PLACES = ["岳阳楼区五里牌街道", "岳阳县荣家湾镇", "华容县章华镇", "汨罗市归义镇", "平江县汉昌镇", "临湘市长安街道"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scratch_db(kind: str) -> tuple[str, Any]:
    if kind == "sqlite":
        d = tempfile.mkdtemp(prefix="pingan-bench-")
        return f"sqlite:///{d}/bench.db", None
    name = f"pingan_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, (admin, name)


def drop_db(handle: Any) -> None:
    if handle is None:
        return
    admin, name = handle
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def prepare(url: str) -> None:
    from pingan.db import make_engine, make_session_factory, session_scope
    from pingan.migrate import upgrade
    from pingan.sim.org import seed_demo_users, seed_organisation

    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as s:
        seed_organisation(s)
        seed_demo_users(s)
    engine.dispose()


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PINGAN_BACKGROUND": "0", "PINGAN_RATE_LIMIT": "off"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pingan.cli",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-seed",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))


@lru_cache(maxsize=1)
def _real_matters() -> list[tuple[str, str, str, tuple[float, float] | None]]:
    """The shipped citizen messages (title, content, county name, WGS-84 point for a quarter of them), in a
    fixed shuffled order: texts of real length and a realistic spread over the city's counties."""
    from pingan.sim.messages import counties, load_messages
    from pingan.sim.places import pick_county, sample_point

    rng = random.Random(7)
    names = {c.code: c.name for c in counties()}
    msgs = list(load_messages())
    rng.shuffle(msgs)
    out = []
    for m in msgs:
        county = m.county_code or pick_county(rng)
        point = sample_point(rng, county) if rng.random() < 0.25 else None
        out.append((m.title[:200], m.content[:4000], names.get(county, ""), point))
    return out


def real_body(i: int, run: str) -> dict[str, Any]:
    title, content, county, point = (m := _real_matters())[i % len(m)]
    out: dict[str, Any] = {
        "work_order_no": f"{run}-{i}",
        "case_type": "投诉",
        "title": title,
        "content": content,
        "address": f"岳阳市{county}",
        "caller_name": "测试",
        "caller_phone": "13812341234",
    }
    if point is not None:
        out["position"] = {"lon": point[0], "lat": point[1], "crs": "wgs84"}
    return out


def body(i: int, run: str) -> dict[str, Any]:
    return {
        "work_order_no": f"{run}-{i}",
        "case_type": "投诉",
        "title": TITLES[i % len(TITLES)],
        "content": f"{PLACES[i % len(PLACES)]}{TITLES[i % len(TITLES)]}，请相关部门尽快处理。编号{run}-{i}",
        "address": PLACES[i % len(PLACES)],
        "caller_name": "测试",
        "caller_phone": "13812341234",
    }


class RawClient:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less CPU than the server it
    measures on the same two cores (httpx spends about as much per request as the server's HTTP layer)."""

    def __init__(self, base: str, token: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.token = host, int(port), token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status = int((await self.reader.readline()).split()[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            key, _, value = line.partition(b":")
            key = key.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        data = b""
        while (size := int((await self.reader.readline()).strip(), 16)) > 0:
            data += await self.reader.readexactly(size)
            await self.reader.readline()
        await self.reader.readline()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(
    base: str, token: str, path: str, jobs: list[tuple[int, bytes]], concurrency: int, ok: int
) -> tuple[list[float], float]:
    """Send every (count, body) with `concurrency` connections; latencies and elapsed seconds. A reply with
    another status, or (for batches) another number created, stops the run."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        client = RawClient(base, token)
        try:
            while not queue.empty():
                count, payload = queue.get_nowait()
                t0 = time.perf_counter()
                status, data = await client.post(path, payload)
                latencies.append(time.perf_counter() - t0)
                if status != ok or (ok == 200 and json.loads(data)["created"] != count):
                    raise RuntimeError(f"{status} {data[:200]!r}")
        finally:
            await client.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return latencies, time.perf_counter() - t0


async def run_single(base: str, token: str, n: int, concurrency: int, run: str) -> dict[str, float]:
    jobs = [(1, json.dumps(body(i, run), ensure_ascii=False).encode()) for i in range(n)]
    latencies, elapsed = await drive(base, token, "/api/v1/intake/hotline_12345", jobs, concurrency, 201)
    latencies.sort()
    return {
        "cases_per_s": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "n": n,
        "concurrency": concurrency,
    }


async def run_batch(
    base: str, token: str, n: int, size: int, concurrency: int, run: str, make: Callable[[int, str], Any] | None = None
) -> dict[str, float]:
    make = make or body
    jobs = [
        (min(size, n - k), json.dumps([make(i, run) for i in range(k, min(k + size, n))], ensure_ascii=False).encode())
        for k in range(0, n, size)
    ]
    _, elapsed = await drive(base, token, "/api/v1/intake/hotline_12345/batch", jobs, concurrency, 200)
    return {"cases_per_s": round(n / elapsed, 1), "batch_size": size, "n": n, "concurrency": concurrency}


def bench_one(kind: str, quick: bool, workers: int, concurrency: int) -> dict[str, Any]:
    url, handle = scratch_db(kind)
    proc = None
    try:
        prepare(url)
        port = free_port()
        proc = start_server(url, port, workers)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": "api12345", "password": "Pingan@2026demo"}
        ).json()["token"]
        n_single = 600 if quick else 5000
        n_batch = 4000 if quick else 20000
        asyncio.run(run_single(base, token, 50, 4, "warm"))
        single = asyncio.run(run_single(base, token, n_single, concurrency, "s"))
        # Latency when the server is not saturated: by Little's law, 16 requests in flight cannot see less
        # than 16 / throughput each, so the loaded figure above says little about a lone caller's wait.
        light = asyncio.run(run_single(base, token, 300 if quick else 1000, 2, "l"))
        # 4 uploads in flight per server process. Each process has a socket of its own and the kernel spreads
        # connections by hash: with 2 in flight per process, one process got none 1 time in 8 and the figure
        # swung by 40 % between runs; with 4, 1 time in 128.
        batch = asyncio.run(run_batch(base, token, n_batch, 250, 4 * workers, "b"))
        # The same batches with the real messages: texts of real length (a mean of 230 characters against 40
        # above) spread over the counties, where the synthetic matters repeat 24 texts in 6 towns.
        real = asyncio.run(run_batch(base, token, n_batch // 2, 250, 4 * workers, "r", real_body))
        return {
            "single": single,
            "single_light": light,
            "batch": batch,
            "batch_real_texts": real,
            "workers": workers,
            "single_vs_batch": round(single["cases_per_s"] / batch["cases_per_s"], 3),
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        drop_db(handle)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--workers", type=int, default=2, help="server processes for PostgreSQL")
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    out: dict[str, Any] = {"bench": "intake", "quick": args.quick, "cores": os.cpu_count()}
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        workers = 1 if kind == "sqlite" else args.workers
        out[kind] = bench_one(kind, args.quick, workers, args.concurrency)
        print(f"{kind}: {out[kind]}", file=sys.stderr)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
