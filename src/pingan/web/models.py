"""Indexes the pages need on large tables (no tables of their own); created by migration 0007_web.

- the queues' newest-first lists (待派遣 with routing suggestions, any status filter of the case list);
- the case list filtered by channel, newest first (the intake tiles link there);
- the live map and its server-sent events (cases changed since …, newest first);
- a department's data scope (its cases through case_departments), for the workbench and its lists;
- a department's cases by deadline: the workbench's own closure figures (结案率, 按期结案率) — migration 0011_web_perf.
"""

from __future__ import annotations

from sqlalchemy import Index

from pingan.cases.models import Case, CaseDepartment

ix_cases_status_received = Index("ix_cases_status_received", Case.status, Case.received_at)
ix_cases_channel_received = Index("ix_cases_channel_received", Case.channel, Case.received_at)
ix_cases_updated = Index("ix_cases_updated", Case.updated_at)
ix_case_departments_dept_case = Index(
    "ix_case_departments_dept_case", CaseDepartment.department_id, CaseDepartment.case_id
)

ix_cases_department_deadline = Index("ix_cases_department_deadline", Case.department_id, Case.deadline_at)

WEB_INDEXES = (
    ix_cases_status_received,
    ix_cases_channel_received,
    ix_cases_updated,
    ix_case_departments_dept_case,
    ix_cases_department_deadline,
)
