"""The demo city: organisation, demo accounts, cases built from real messages, and a live stream."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from pingan.config import Settings
from pingan.db import make_engine, make_session_factory, session_scope
from pingan.migrate import upgrade
from pingan.sim.org import seed_demo_users, seed_organisation


def prepare(
    settings: Settings, cases: int = 5000, fresh: bool = False, console: Console | None = None
) -> list[Callable[[], object]]:
    """Make the demo database ready; returns background jobs that keep it moving."""
    console = console or Console()
    if fresh and settings.db_url.startswith("sqlite:///"):
        from pathlib import Path

        for suffix in ("", "-wal", "-shm"):
            Path(settings.db_url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
    upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    with session_scope(make_session_factory(engine)) as session:
        counts = seed_organisation(session)
        seed_demo_users(session)
    console.print(f"organisation ready: {counts}")
    engine.dispose()
    return []
