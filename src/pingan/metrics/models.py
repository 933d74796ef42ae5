"""Indexes the metrics queries need on tables other packages own (created by migration 0005_metrics).

The KPI queries select timeline events by action and time window (`action = 'assign' AND at >= … AND at < …`);
one composite index serves every figure. Declared here, next to the queries that need it.
"""

from __future__ import annotations

from sqlalchemy import Index

from pingan.cases.models import CaseEvent

ix_case_events_action_at = Index("ix_case_events_action_at", CaseEvent.action, CaseEvent.at)
