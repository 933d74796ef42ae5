"""Work a server process does besides answering requests: the sweeper, outbox delivery and anchoring the
case timelines in the global audit ledger (safe with several processes: each job locks what it takes)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from pingan.audit.ledger import anchor
from pingan.cases.sweeper import sweep_once
from pingan.config import Settings
from pingan.metrics import rollup
from pingan.notify.outbox import LogSender, Sender, WebhookSender, deliver

log = logging.getLogger("pingan.background")


def senders(settings: Settings) -> list[Sender]:
    out: list[Sender] = [LogSender()]
    if settings.webhook_url:
        out.append(WebhookSender(settings.webhook_url))
    return out


class Worker(threading.Thread):
    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, extra: list[Callable[[], object]] | None = None
    ) -> None:
        super().__init__(name="pingan-background", daemon=True)
        self.factory = factory
        self.settings = settings
        self.stop_event = threading.Event()
        self.senders = senders(settings)
        self.extra = extra or []

    def run(self) -> None:
        while not self.stop_event.is_set():
            jobs = [
                lambda: sweep_once(self.factory),
                lambda: deliver(self.factory, self.senders),
                lambda: rollup.catch_up(self.factory),  # KPI rollup: events written around the ORM
                self._anchor,  # the global audit ledger (pingan.audit.ledger)
                *self.extra,
            ]
            for job in jobs:
                try:
                    job()
                except Exception:  # keep the loop alive; the next pass retries
                    log.exception("background job failed")
            self.stop_event.wait(self.settings.sweeper_interval_s)

    def _anchor(self) -> None:
        anchor(self.factory)

    def stop(self) -> None:
        self.stop_event.set()
