"""`pingan metrics …`: rebuild the KPI rollup from the timeline, and check it against the timeline."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated

import typer

from pingan.config import Settings

app = typer.Typer(help="Metrics 统计: the KPI rollup (metric_facts)", no_args_is_help=True)
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (sqlite:///… or postgresql://…)")]


def _engine(db: str | None):  # noqa: ANN202
    from pingan.db import make_engine

    s = Settings()
    if db:
        s.db_url = db
    return make_engine(s.db_url)


@app.command("rebuild")
def rebuild(db: DbOpt = None) -> None:
    """Recompute every fact of the rollup from the case timeline (the timeline is the truth)."""
    from pingan.metrics import rollup

    engine = _engine(db)
    t = time.perf_counter()
    with engine.begin() as conn:
        n = rollup.rebuild(conn)
    typer.echo(f"rebuilt {n:,} facts from the timeline in {time.perf_counter() - t:.1f}s")
    engine.dispose()


@app.command("check")
def check(
    db: DbOpt = None,
    since: Annotated[datetime | None, typer.Option(help="window start (default: 30 days ago)")] = None,
    until: Annotated[datetime | None, typer.Option(help="window end (default: now)")] = None,
    group_by: Annotated[str, typer.Option("--group-by")] = "department",
) -> None:
    """Compute every figure from the rollup and from the raw timeline; exit 1 if they differ."""
    from pingan.cases.actors import Actor
    from pingan.db import make_session_factory
    from pingan.metrics import kpis

    engine = _engine(db)
    with make_session_factory(engine)() as session:
        w = kpis.Window.of(since, until)
        out = {}
        for source in ("rollup", "events"):
            t = time.perf_counter()
            ctx = kpis.Ctx(session, Actor.system(), w, kpis.check_group_by(group_by), kpis.policy(), source)
            out[source] = (kpis.compute(ctx), time.perf_counter() - t)
    same = out["rollup"][0] == out["events"][0]
    typer.echo(
        json.dumps(
            {
                "same": same,
                "rollup_s": round(out["rollup"][1], 3),
                "events_s": round(out["events"][1], 3),
                "group_by": group_by,
            }
        )
    )
    engine.dispose()
    if not same:
        raise typer.Exit(1)
