"""cases: each case's duplicate-search text vector, stored when the case is taken in

Revision ID: 0012_dup_vectors
Revises: 0001_core

Every server process keeps an index of the open cases for 并案 candidates. It read each other process's new
cases and computed their text vectors again (a tenth of an intake batch's CPU with two processes); now the
process that takes a case in stores the vector it computed (`pingan.dispatch.duplicates.TextModel.pack`) and
the others read it. Cases without one (older rows, bulk loads) are vectorised from their text as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_dup_vectors"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("dup_vector", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("dup_vector")
