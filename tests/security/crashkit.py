"""A real server process, a retrying client, and SIGKILL: the parts of the crash test (also used by bench/)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    db_url: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)  # more PINGAN_* settings for the server

    def start(self, timeout: float = 120.0) -> None:
        env = {
            **os.environ,
            "PINGAN_DB_URL": self.db_url,
            "PINGAN_BACKGROUND": "0",
            "PINGAN_RATE_PUBLIC_PER_MIN": "1000000",
            **self.env,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "pingan.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ''}"
                )
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, no goodbye."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Outcome:
    answers: dict[str, int] = field(default_factory=dict)  # external id → case id the server answered
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def hammer(
    server: Server,
    token: str,
    n: int,
    prefix: str,
    threads: int = 4,
    on_progress: Callable[[int], None] | None = None,
    give_up_s: float = 300.0,
) -> Outcome:
    """n intake requests, one per case, each retried (same work order number) until the server answers 2xx."""
    out = Outcome()
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.monotonic()

    def worker(k: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for i in range(k, n, threads):
                no = f"{prefix}-{i:05d}"
                body = {
                    "work_order_no": no,
                    "case_type": "求助",
                    "title": f"压力测试事项 {i}",
                    "content": "岳阳楼区某小区路灯不亮，请尽快维修",
                    "caller_phone": "13812341234",
                }
                while True:
                    if time.monotonic() - t0 > give_up_s:
                        raise RuntimeError("gave up: the server stayed down")
                    try:
                        r = client.post(f"{server.url}/api/v1/intake/hotline_12345", json=body)
                        if r.status_code in (200, 201):
                            with lock:
                                out.answers[no] = r.json()["case_id"]
                                done = len(out.answers)
                            if on_progress:
                                on_progress(done)
                            break
                        err = str(r.status_code)
                    except httpx.HTTPError as exc:
                        err = type(exc).__name__
                    with lock:
                        out.retries += 1
                        out.errors[err] = out.errors.get(err, 0) + 1
                    time.sleep(0.05)

    ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.seconds = time.monotonic() - t0
    return out
