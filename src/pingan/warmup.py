"""Load what the first request would otherwise wait for: the routing model (and jieba's dictionary), the
duplicate finder's text model and index, and the address gazetteer. Runs once per server process at start;
failures are logged, never fatal (the request path loads on demand as before)."""

from __future__ import annotations

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
    return time.perf_counter() - t0
