"""Load what the first request would otherwise wait for: the routing model (and jieba's dictionary), the
duplicate finder's text model and index, and the address gazetteer. Runs once per server process at start;
failures are logged, never fatal (the request path loads on demand as before)."""

from __future__ import annotations

import gc
import logging
import time

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("pingan")


def warm_up(factory: sessionmaker[Session]) -> float:
    """Returns the seconds it took."""
    t0 = time.perf_counter()
    try:
        from pingan.dispatch import classifier

        classifier.load().predict("小区门口垃圾堆放", "")
    except Exception as exc:  # no model installed, or a broken one: routing reports it per request
        log.info("warm-up: no routing model (%s)", exc)
    try:
        from pingan.dispatch import duplicates
        from pingan.geo.locate import gazetteer

        with factory() as session:
            duplicates.index_for(session, wait=False)
            gazetteer(session)
            session.rollback()
    except Exception:
        log.warning("warm-up of the duplicate index or gazetteer failed", exc_info=True)
    settle_garbage_collector()
    return time.perf_counter() - t0


def settle_garbage_collector() -> None:
    """Keep the collector off what the process holds for good (the routing model's vocabularies and names,
    the duplicate index, the gazetteer, the modules): a full collection walked all of it, up to 200 ms
    during which no request was answered (bench/intake.py: 15 in a run, 2.2 s in all per process). And
    collect the young generation less often: most of a request's objects are freed by reference counting
    first."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


GC_THRESHOLDS = (10_000, 20, 20)
