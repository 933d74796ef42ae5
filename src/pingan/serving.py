"""Several server processes on one port, sharing one listening socket, each taking new connections only while
it holds no more of them than the least loaded process.

Left to themselves, processes on a shared socket take new connections as they wake: the first one awake
accepts a whole burst, and keep-alive clients then stay with it, so one process works while the other idles.
A socket per process (SO_REUSEPORT) spreads connections by a hash of their addresses instead, which splits 16
connections 11 to 5 about one time in five: the busier process answered its requests in twice the time
(bench/intake.py: p99 65 ms against 44 ms with an even split). Here each process publishes how many
connections it holds in a shared array and leaves a waiting connection to a process holding fewer.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import socket
import time
from collections.abc import Callable, MutableSequence
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)

APP = "pingan.app:create_app"
RESTART_PAUSE_S = 1.0
NOT_SERVING = 1 << 30  # the load of a process that does not accept yet (or any more)


def run(host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers <= 1:
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level="warning", access_log=False)
        return
    sock = _listen(host, port)  # fails here, in the parent, when the address is taken
    ctx = multiprocessing.get_context("spawn")
    loads = ctx.Array("i", [NOT_SERVING] * workers, lock=False)

    def start(i: int) -> multiprocessing.process.BaseProcess:
        loads[i] = NOT_SERVING
        p = ctx.Process(target=_worker, args=(sock, i, loads), name=f"pingan-{i}")
        p.start()
        return p

    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start(i) for i in range(workers)]
    while not stopping:
        for i, p in enumerate(procs):
            p.join(0.5)
            if p.exitcode is not None and not stopping:
                log.warning("server process %s exited with %s; starting another", p.name, p.exitcode)
                loads[i] = NOT_SERVING
                time.sleep(RESTART_PAUSE_S)
                procs[i] = start(i)
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()
    sock.close()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(sock: socket.socket, slot: int, loads: MutableSequence[int]) -> None:
    import uvicorn

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    config = uvicorn.Config(APP, factory=True, log_level="warning", access_log=False)
    balanced_server(config, sock, slot, loads).run()


def balanced_server(
    config: uvicorn.Config, sock: socket.socket, slot: int, loads: MutableSequence[int]
) -> uvicorn.Server:
    import uvicorn

    class BalancedServer(uvicorn.Server):
        """uvicorn's server, accepting from the shared socket itself (`Balancer`)."""

        balancer: Balancer | None = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=[])
            self.balancer = Balancer(sock, slot, loads)
            base: type[asyncio.Protocol] = self.config.http_protocol_class
            balancer = self.balancer

            class Counted(base):  # type: ignore[valid-type,misc]
                def connection_lost(self, exc: Exception | None) -> None:
                    super().connection_lost(exc)
                    balancer.closed()

            def protocol() -> asyncio.Protocol:
                # What uvicorn's own listener builds for each connection.
                return Counted(config=self.config, server_state=self.server_state, app_state=self.lifespan.state)

            self.balancer.start(asyncio.get_running_loop(), protocol)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if self.balancer is not None:
                self.balancer.stop()
            await super().shutdown(sockets)

    return BalancedServer(config)


class Balancer:
    """Accepts connections from a listening socket shared by several processes, one at a time, and only while
    this process holds no more connections than the least loaded one (`loads`, one slot per process). A
    connection another process leaves waiting for `MAX_DEFER_S` (busy, or gone) is taken all the same."""

    DEFER_S = 0.002
    MAX_DEFER_S = 0.05
    EPISODE_GAP_S = 0.02  # a longer pause between two deferrals: the connection deferred before is gone

    def __init__(self, sock: socket.socket, slot: int, loads: MutableSequence[int]) -> None:
        self.sock, self.slot, self.loads = sock, slot, loads
        self.held = 0  # connections accepted and not yet closed
        self.deferring_since: float | None = None
        self.last_deferred = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.protocol: Callable[[], asyncio.Protocol] | None = None
        self.connecting: set[asyncio.Task[None]] = set()  # held here: the loop keeps only weak references

    def publish(self) -> None:
        if self.loop is not None:
            self.loads[self.slot] = self.held

    def closed(self) -> None:
        self.held = max(self.held - 1, 0)
        self.publish()

    def start(self, loop: asyncio.AbstractEventLoop, protocol: Callable[[], asyncio.Protocol]) -> None:
        self.loop, self.protocol = loop, protocol
        self.sock.setblocking(False)
        self.publish()
        loop.add_reader(self.sock.fileno(), self._ready)

    def stop(self) -> None:
        self.loads[self.slot] = NOT_SERVING
        if self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
        self.loop = None

    def _ready(self) -> None:
        assert self.loop is not None
        mine = self.held
        now = time.monotonic()
        if mine > min(self.loads):
            if self.deferring_since is None or now - self.last_deferred > self.EPISODE_GAP_S:
                self.deferring_since = now
            self.last_deferred = now
            if now - self.deferring_since < self.MAX_DEFER_S:
                # Level-triggered readiness: stop listening for a moment instead of spinning.
                self.loop.remove_reader(self.sock.fileno())
                self.loop.call_later(self.DEFER_S, self._resume)
                return
        self.deferring_since = None
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another process took it
        except OSError as exc:  # out of file descriptors: wait, the connection stays queued
            log.warning("accept failed: %s", exc)
            self.loop.remove_reader(self.sock.fileno())
            self.loop.call_later(0.1, self._resume)
            return
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.held += 1
        self.publish()
        task = self.loop.create_task(self._connect(conn))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    def _resume(self) -> None:
        if self.loop is not None:
            self.loop.add_reader(self.sock.fileno(), self._ready)

    async def _connect(self, conn: socket.socket) -> None:
        assert self.loop is not None and self.protocol is not None
        try:
            await self.loop.connect_accepted_socket(self.protocol, conn)
        except Exception as exc:  # the protocol never saw it: connection_lost will not come
            log.info("connection lost before it was served: %s", exc)
            conn.close()
            self.closed()
