"""cases, case_events, case_departments: drop four indexes that a composite index already covers

Revision ID: 0013_lean_indexes
Revises: 0001_core

Each of these single-column indexes is the leading column of another index on the same table, which serves
the same lookups: `case_events (case_id)` ⊂ `(case_id, seq)`, `case_events (action)` ⊂ `(action, at)`,
`cases (department_id)` ⊂ `(department_id, deadline_at)`, `case_departments (case_id)` ⊂
`(case_id, department_id)`. Every case taken in wrote about eight entries into them for nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_lean_indexes"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROPPED = [
    ("case_events", "ix_case_events_case_id", ["case_id"]),
    ("case_events", "ix_case_events_action", ["action"]),
    ("cases", "ix_cases_department_id", ["department_id"]),
    ("case_departments", "ix_case_departments_case_id", ["case_id"]),
]


def upgrade() -> None:
    for table, name, _ in _DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in _DROPPED:
        op.create_index(name, table, columns, unique=False)
