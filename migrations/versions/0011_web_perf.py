"""web: pages at a million cases — a department's cases by deadline, and the planner's cost of random reads

Revision ID: 0011_web_perf
Revises: 0007_web

`random_page_cost = 1.1` (PostgreSQL only, for this database): the planner's default (4.0) assumes spinning
disks and so prefers scanning all of `cases` over following a department's ~30,000 case ids through the
primary key; on SSD or a cached table following the ids is 5–7× faster (EXPLAIN ANALYZE in docs/metrics.md).
Setting it needs the database's owner; a deployment that cannot may set it in postgresql.conf instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_web_perf"
down_revision: str | Sequence[str] | None = "0007_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SET = """
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET random_page_cost = 1.1', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'random_page_cost not set (not the database owner): set it in postgresql.conf';
END $$;
"""
_RESET = """
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I RESET random_page_cost', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  NULL;
END $$;
"""


def upgrade() -> None:
    op.create_index("ix_cases_department_deadline", "cases", ["department_id", "deadline_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_SET)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_RESET)
    op.drop_index("ix_cases_department_deadline", table_name="cases")
