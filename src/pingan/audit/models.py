"""The global anchor ledger (全局锚定链): one hash chain over every case timeline and the security log.

Each case timeline is its own chain, so deleting a case with all its events leaves nothing behind in that
chain. The ledger records, per case, the (sequence number, hash) of the timeline's newest event each time
`pingan.audit.ledger.anchor` runs; `pingan audit verify` checks that every anchored event still exists with
the same hash, and that the ledger chain itself is unbroken.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db import Base


class LedgerEntry(Base):
    """`hash` = SHA-256(prev_hash ‖ canonical JSON of [seq, at, case_id, subject_seq, subject_hash]).

    case_id NULL: an anchor of the security-event chain (subject_seq is the security event's seq)."""

    __tablename__ = "audit_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime]
    case_id: Mapped[int | None] = mapped_column(index=True)  # no foreign key: it must outlive a deleted case
    subject_seq: Mapped[int]
    subject_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """One row (id 1): the ledger's last entry and the anchoring job's progress. A pass locks it, so only
    one process anchors at a time and the chain stays linear."""

    __tablename__ = "audit_ledger_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))
    # case_events.id up to which every committed event has been looked at.
    event_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Ids up to settled_id can no longer appear (their transactions have ended): gaps below it are rollbacks.
    settled_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # The highest event id seen at pending_at; it becomes settled_id once pending_at is `lag` old.
    pending_id: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_at: Mapped[datetime | None]
    security_seq: Mapped[int] = mapped_column(default=0)  # the security chain's last anchored event
