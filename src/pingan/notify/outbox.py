"""Writing to the outbox and delivering it through pluggable senders.

Messages are written in the transaction of the event that causes them (so none is lost or sent for a
change that rolled back) and delivered afterwards; several server processes deliver safely because each
claims its rows with FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite has one writer anyway).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pingan.db import is_sqlite
from pingan.notify.models import OutboxMessage
from pingan.timeutil import utcnow

log = logging.getLogger("pingan.notify")
MAX_ATTEMPTS = 5


def enqueue(
    session: Session,
    dedupe_key: str,
    kind: str,
    case_id: int | None,
    recipient: str,
    payload: dict[str, Any],
    at: datetime | None = None,
) -> OutboxMessage:
    msg = OutboxMessage(
        dedupe_key=dedupe_key[:120],
        kind=kind,
        case_id=case_id,
        recipient=recipient,
        payload=payload,
        created_at=at or utcnow(),
    )
    session.add(msg)
    return msg


class Sender(Protocol):
    name: str

    def send(self, msg: OutboxMessage) -> None: ...


class LogSender:
    """Writes each message to the log; the default when no webhook is configured."""

    name = "log"

    def send(self, msg: OutboxMessage) -> None:
        log.info("notify %s → %s: %s", msg.kind, msg.recipient, msg.payload)


class WebhookSender:
    """POSTs each message as JSON to one URL (an SMS gateway, 政务微信 bridge, …)."""

    name = "webhook"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout)

    def send(self, msg: OutboxMessage) -> None:
        body = {
            "id": msg.id,
            "kind": msg.kind,
            "case_id": msg.case_id,
            "recipient": msg.recipient,
            "payload": msg.payload,
            "created_at": msg.created_at.isoformat(),
        }
        resp = self.client.post(self.url, json=body, headers={"Idempotency-Key": msg.dedupe_key})
        resp.raise_for_status()


def deliver(factory: sessionmaker[Session], senders: list[Sender], limit: int = 200) -> int:
    """Deliver pending messages once. Returns how many were sent."""
    sent = 0
    with factory() as session, session.begin():
        q = select(OutboxMessage).where(OutboxMessage.status == "pending").order_by(OutboxMessage.id).limit(limit)
        if not is_sqlite(session):
            q = q.with_for_update(skip_locked=True)
        for msg in session.scalars(q):
            try:
                for sender in senders:
                    sender.send(msg)
            except Exception as exc:  # a sender failure must not stop the others: retry later
                msg.attempts += 1
                msg.last_error = str(exc)[:500]
                if msg.attempts >= MAX_ATTEMPTS:
                    msg.status = "failed"
                continue
            msg.status = "sent"
            msg.sent_at = utcnow()
            sent += 1
    return sent
