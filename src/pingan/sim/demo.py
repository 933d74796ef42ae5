"""The demo city: organisation, demo accounts, cases built from real messages, and a live stream."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan.cases.models import Case
from pingan.config import Settings
from pingan.db import make_engine, make_session_factory, session_scope
from pingan.migrate import upgrade
from pingan.sim.cases import SeedReport, seed_cases
from pingan.sim.org import seed_demo_users, seed_organisation
from pingan.sim.stream import Stream


def ensure_grid_layer(session: Session) -> dict[str, int] | None:
    """Load the synthetic grid layer when the geo package provides one (cases then get grids)."""
    try:
        synth = importlib.import_module("pingan.geo.synth")
    except ImportError:
        return None
    ensure: Callable[[Session], dict[str, int]] | None = getattr(synth, "ensure_demo_layer", None)
    if ensure is None:
        return None
    return ensure(session)


def seed_mediation(session: Session) -> dict[str, object] | None:
    """The mediation package's own demo disputes and petitions (idempotent), when the package is installed."""
    try:
        seed = importlib.import_module("pingan.mediation.seed")
    except ImportError:
        return None
    fn: Callable[[Session], dict[str, object]] | None = getattr(seed, "seed_demo", None)
    return fn(session) if fn is not None else None


def prepare(
    settings: Settings,
    cases: int = 5000,
    fresh: bool = False,
    console: Console | None = None,
    grid_layer: bool = True,
    mediation: bool = True,
    background: bool = False,
) -> list[Callable[[], object]]:
    """Make the demo database ready; returns background jobs that keep it moving.

    With background=True the cases are seeded in a thread while the server already answers (the command
    center fills up in front of the watcher); the live stream starts once seeding is done.
    """
    console = console or Console()
    if fresh and settings.db_url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(settings.db_url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
    upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        counts = seed_organisation(session)
        seed_demo_users(session)
        layer = ensure_grid_layer(session) if grid_layer else None
        existing = session.scalar(select(func.count()).select_from(Case)) or 0
    console.print(f"organisation ready: {counts}")
    if layer:
        console.print(f"grid layer: {layer}")
    done = threading.Event()

    def seed_all() -> None:
        try:
            if existing == 0 and cases > 0:
                report = seed_with_progress(factory, cases, console)
                console.print(
                    f"[green]seeded {report.cases} cases[/] ({report.events} timeline events) in "
                    f"{report.seconds:.1f} s; states: {dict(sorted(report.statuses.items()))}"
                )
            else:
                console.print(f"demo database already has {existing} cases: not seeding again (--fresh starts over)")
            if mediation and cases > 0:
                with session_scope(factory) as session:
                    disputes = seed_mediation(session)
                if disputes is not None:
                    console.print(f"mediation 矛盾纠纷调解: {disputes}")
        finally:
            engine.dispose()
            done.set()

    if background:
        threading.Thread(target=seed_all, name="pingan-demo-seed", daemon=True).start()
    else:
        seed_all()
    stream = Stream(settings.db_url)

    def stream_when_seeded() -> object:
        return stream() if done.is_set() else None

    return [stream_when_seeded]


def seed_with_progress(factory: Callable[[], Session], n: int, console: Console) -> SeedReport:
    columns = (
        TextColumn("[bold]seeding demo cases 生成演示案件"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.0f} cases/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("seed", total=n, rate=0.0)

        def update(done: int) -> None:
            elapsed = progress.tasks[0].elapsed or 1e-9
            progress.update(task, completed=done, rate=done / elapsed)

        return seed_cases(factory, n, on_progress=update)  # type: ignore[arg-type]
