"""The KPI rollup tables (migration 0010_metrics_rollup), and indexes the metrics queries need on tables other
packages own (migration 0005_metrics).

The KPI queries select timeline events by action and time window (`action = 'assign' AND at >= … AND at < …`);
one composite index serves every figure. Declared here, next to the queries that need it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pingan.cases.models import CaseEvent
from pingan.db import Base

ix_case_events_action_at = Index("ix_case_events_action_at", CaseEvent.action, CaseEvent.at)


class MetricFact(Base):
    """The KPI rollup: one row per timeline event a figure counts (派遣, 回访, 核查/返工), with the outcome that
    later events gave it (a dispatch's on-time sign-in or 退单). Derived from `case_events` only
    (pingan.metrics.rollup): kept in step in the transaction that appends the event, rebuildable at any
    time with `pingan metrics rebuild`. No foreign key: the timeline is the truth, this is a cache of it.
    """

    __tablename__ = "metric_facts"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_metric_facts_case_seq"),
        Index("ix_metric_facts_family_at", "family", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int]
    seq: Mapped[int]  # the event's seq in its case's timeline
    family: Mapped[str] = mapped_column(String(10))  # dispatch / revisit / verify
    action: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    department_id: Mapped[int | None]  # dispatch: the department of that dispatch
    signed_on_time: Mapped[bool] = mapped_column(default=False)  # dispatch: signed in time before a re-dispatch
    returned: Mapped[bool] = mapped_column(default=False)  # dispatch: 退单 before a re-dispatch
    solved: Mapped[bool] = mapped_column(default=False)  # revisit: the citizen said solved
    satisfaction: Mapped[str | None] = mapped_column(String(10))  # revisit: the level given


class MetricRollupState(Base):
    """How far the background catch-up (pingan.metrics.rollup.catch_up) has read the timeline, and when
    the rollup was last rebuilt. No row: the rollup was never built, figures come from the raw timeline."""

    __tablename__ = "metric_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    rebuilt_at: Mapped[datetime | None]
