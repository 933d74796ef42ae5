"""Group commit for single-matter intake: concurrent requests of one process share one transaction.

Each request thread hands its record to the process's batcher and waits. One writer thread takes whatever
has queued (up to `max_batch`), runs the shared pipeline (`pipeline.submit_many`) in one transaction and
answers every waiter. Under light load a batch is one request; under heavy load the per-transaction work
(the commit's fsync, the duplicate index refresh, the SQLite write lock) is paid once per batch.

When a batch fails, each of its records is tried again in its own transaction, so one bad record only
fails its own request.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future

from sqlalchemy.orm import Session, sessionmaker

from pingan.cases.actors import Actor
from pingan.intake import pipeline
from pingan.intake.adapters import IntakeRecord
from pingan.intake.schemas import IntakeResult

log = logging.getLogger(__name__)

IDLE_EXIT_S = 5.0  # the writer thread ends after this long without work (a new request starts another)
WAIT_S = 120.0
LINGER_S = 0.0015


class Batcher:
    def __init__(self, factory: sessionmaker[Session], max_batch: int = 64) -> None:
        self.factory = factory
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[IntakeRecord, Actor, Future[IntakeResult]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # One intake transaction at a time per process, batcher or batch endpoint: concurrent ones would only
        # take turns on the GIL (and on SQLite's write lock) and finish later together.
        self.writing = threading.RLock()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.records = 0

    def submit(self, rec: IntakeRecord, actor: Actor) -> IntakeResult:
        return self._enqueue(rec, actor).result(timeout=WAIT_S)

    async def submit_async(self, rec: IntakeRecord, actor: Actor) -> IntakeResult:
        """`submit` for the event loop: the request waits without holding a worker thread."""
        return await asyncio.wait_for(asyncio.wrap_future(self._enqueue(rec, actor)), WAIT_S)

    def _enqueue(self, rec: IntakeRecord, actor: Actor) -> Future[IntakeResult]:
        fut: Future[IntakeResult] = Future()
        with self._lock:
            self._queue.put((rec, actor, fut))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pingan-intake", daemon=True)
                self._thread.start()
        return fut

    def _run(self) -> None:
        busy = False  # the last batch had company: more requests are likely on their way
        while True:
            try:
                job = self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if busy:
                # Under load, a moment without the GIL lets the event loop hand over the requests it has
                # already read: batches twice as large, a third more cases per second (bench/intake.py).
                time.sleep(LINGER_S)
            batch = [job]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
            busy = len(batch) > 1 or not self._queue.empty()

    def _write(self, batch: list[tuple[IntakeRecord, Actor, Future[IntakeResult]]]) -> None:
        try:
            with self.writing, self.factory() as session:
                results = pipeline.submit_many(session, [(rec, actor) for rec, actor, _ in batch], own_transaction=True)
                session.commit()
        except BaseException as exc:
            if len(batch) == 1:
                batch[0][2].set_exception(exc)
            else:
                for job in batch:
                    self._write([job])
            return
        self.batches += 1
        self.records += len(batch)
        for (_, _, fut), result in zip(batch, results, strict=True):
            fut.set_result(result)


_LOCK = threading.Lock()


def for_app(state: object) -> Batcher:
    """The app's batcher (one per process and database), made on first use."""
    with _LOCK:
        batcher: Batcher | None = getattr(state, "intake_batcher", None)
        if batcher is None:
            batcher = Batcher(state.session_factory)  # type: ignore[attr-defined]
            state.intake_batcher = batcher  # type: ignore[attr-defined]
        return batcher
