"""`pingan mediation …`: seed the demo disputes, print the statistics with their definitions, verify chains."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pingan.config import Settings

app = typer.Typer(help="矛盾纠纷调解与信访 Disputes, mediation and petitions", no_args_is_help=True)
console = Console()
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (sqlite:///… or postgresql://…)")]


def _factory(db: str | None) -> tuple[Engine, sessionmaker[Session]]:
    from pingan.db import make_engine, make_session_factory

    s = Settings()
    if db:
        s.db_url = db
    engine = make_engine(s.db_url)
    return engine, make_session_factory(engine)


@app.command("seed")
def seed(n: Annotated[int, typer.Option("--n", min=1, max=100000)] = 300, db: DbOpt = None) -> None:
    """Seed realistic demo disputes, a marriage-center roster and rota, and petitions with a backlog."""
    from pingan.db import session_scope
    from pingan.mediation.seed import seed_demo

    engine, factory = _factory(db)
    with session_scope(factory) as session:
        out = seed_demo(session, n=n)
    engine.dispose()
    console.print(f"[green]seeded[/] {out}")


@app.command("stats")
def show_stats(region: Annotated[str | None, typer.Option("--region")] = None, db: DbOpt = None) -> None:
    """Print the dispute, center and petition figures, each with what it divides by what."""
    from pingan.mediation import stats
    from pingan.mediation.seed import MARRIAGE_CENTER

    engine, factory = _factory(db)
    with factory() as session:
        groups = [
            ("矛盾纠纷 Disputes", stats.disputes(session, region)),
            ("婚姻家庭纠纷调解中心 Marriage & family center", stats.center(session, MARRIAGE_CENTER)),
            ("信访 Petitions", stats.petitions(session, region)["figures"]),
        ]
    engine.dispose()
    for title, figures in groups:
        t = Table(title=title)
        for col in ("指标", "数值", "口径 definition"):
            t.add_column(col)
        for f in figures:
            value = f.get("display") or str(f["value"])
            t.add_row(f["label"], value, f"{f['definition']} ({f['definition_en']})")
        console.print(t)


@app.command("verify")
def verify(db: DbOpt = None) -> None:
    """Check every dispute's and petition's hash-chained timeline."""
    from pingan.mediation.service import verify_chains

    engine, factory = _factory(db)
    with factory() as session:
        problems = verify_chains(session)
    engine.dispose()
    for p in problems:
        console.print(f"[red]✗ {p}[/]")
    if problems:
        raise typer.Exit(1)
    console.print("[green]✓ dispute and petition timelines intact[/]")


@app.command("sweep")
def sweep(db: DbOpt = None) -> None:
    """Send the mediation reminders (overdue mediation/performance, closing 司法确认 windows) once each."""
    from pingan.db import session_scope
    from pingan.mediation.service import sweep as run

    engine, factory = _factory(db)
    with session_scope(factory) as session:
        out = run(session)
    engine.dispose()
    console.print(f"[green]reminders[/] {out}")
