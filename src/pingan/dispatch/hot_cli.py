"""`pingan hot …`: hot-issue clustering on the shipped messages (evaluation) or on a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="热点 Hot issues: clusters of similar matters ranked by heat", no_args_is_help=True)
console = Console()


@app.callback()
def _group() -> None:
    """热点 Hot issues."""


@app.command("evaluate")
def evaluate(
    file: Annotated[Path | None, typer.Option("--file", help="CSV like data/messages/messages_likes.csv")] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print the clusters as JSON")] = False,
) -> None:
    """Cluster messages_likes.csv (点赞数/反对数) and print the hottest clusters."""
    from pingan.config import DATA_DIR
    from pingan.dispatch import hot

    path = file or DATA_DIR / "messages" / "messages_likes.csv"
    if not path.exists():
        console.print(f"[red]no such file: {path}[/]")
        raise typer.Exit(2)
    with console.status("clustering…"):
        matters = hot.read_likes(path)
        clusters = hot.cluster(matters)
    if as_json:
        typer.echo(
            json.dumps(
                {"messages": len(matters), "clusters": len(clusters), "top": [c.to_json() for c in clusters[:top]]},
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    table = Table(title=f"热点 Top {top} — {len(matters)} messages, {len(clusters)} clusters ({path.name})")
    for col in ("#", "热度 heat", "留言 n", "人数 people", "天数 days", "点赞/反对", "期间 period", "代表主题 label"):
        table.add_column(col)
    for i, c in enumerate(clusters[:top], 1):
        table.add_row(
            str(i),
            f"{c.heat:.1f}",
            str(c.size),
            str(c.people),
            str(c.days),
            f"{c.likes}/{c.opposes}",
            f"{c.first_at:%Y-%m-%d}…{c.last_at:%Y-%m-%d}",
            c.label + ("\n" + "、".join(c.keywords[:3]) if c.keywords else ""),
        )
    console.print(table)
