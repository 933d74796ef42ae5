"""The models and the Alembic migrations describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pingan.models import metadata


def test_models_match_migrations(db) -> None:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
