"""Several server processes on one port, each with a listening socket of its own (SO_REUSEPORT).

With one shared socket (uvicorn's own `workers`), the process that wakes first accepts a whole burst of new
connections, and keep-alive clients then stay with it: under the intake benchmark one process worked while the
other idled. With a socket per process the kernel spreads new connections evenly across the processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from types import FrameType

log = logging.getLogger(__name__)

APP = "pingan.app:create_app"
RESTART_PAUSE_S = 1.0


def run(host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level="warning", access_log=False)
        return
    # Fail here, in the parent, when the address is taken: a plain bind fails even where other processes hold
    # the port with SO_REUSEPORT (another `pingan serve`), which would otherwise silently share it.
    _listen(host, port, share=False).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(host, port), name=f"pingan-{i}") for i in range(workers)]
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.start()
    while not stopping:
        for i, p in enumerate(procs):
            p.join(0.5)
            if p.exitcode is not None and not stopping:
                log.warning("server process %s exited with %s; starting another", p.name, p.exitcode)
                time.sleep(RESTART_PAUSE_S)
                procs[i] = ctx.Process(target=_worker, args=(host, port), name=p.name)
                procs[i].start()
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()


def _listen(host: str, port: int, share: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(host: str, port: int) -> None:
    import uvicorn

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    sock = _listen(host, port)
    config = uvicorn.Config(APP, factory=True, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
