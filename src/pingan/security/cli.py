"""`pingan privacy …`: the purge policy, key rotation and the key file's status."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pingan.config import Settings

app = typer.Typer(help="Personal information 个人信息: purge, key rotation", no_args_is_help=True)
console = Console()
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (sqlite:///… or postgresql://…)")]


def parse_age(text: str) -> timedelta:
    """'365d', '26w', '18m' (30-day months), '2y' (365-day years) or a bare number of days."""
    m = re.fullmatch(r"\s*(\d+)\s*([dwmy]?)\s*", text.lower())
    if not m:
        raise typer.BadParameter("use e.g. 365d, 26w, 18m or 2y")
    n, unit = int(m.group(1)), m.group(2) or "d"
    return timedelta(days=n * {"d": 1, "w": 7, "m": 30, "y": 365}[unit])


def _factory(db: str | None) -> tuple[Engine, sessionmaker[Session]]:
    from pingan.db import make_engine, make_session_factory

    s = Settings()
    if db:
        s.db_url = db
    engine = make_engine(s.db_url)
    return engine, make_session_factory(engine)


@app.command("purge")
def purge(
    older_than: Annotated[str, typer.Option("--older-than", help="closed longer ago than this: 365d, 18m, 2y")],
    db: DbOpt = None,
) -> None:
    """Remove callers' names, phones and ID numbers from cases closed before the cut-off (statistics stay)."""
    from pingan.security import pii

    age = parse_age(older_than)
    if age < timedelta(days=1):
        raise typer.BadParameter("at least one day", param_hint="--older-than")
    engine, factory = _factory(db)
    with factory() as session:
        n = pii.purge(session, age)
        session.commit()
    engine.dispose()
    console.print(f"[green]✓ purged[/] personal data from {n} closed case(s) older than {age.days} days")


@app.command("rotate-key")
def rotate_key(
    keep_old: Annotated[bool, typer.Option(help="keep the old keys in the key file")] = False,
    db: DbOpt = None,
) -> None:
    """Make a new active key, re-encrypt every stored value under it, then drop the old keys."""
    from pingan.security import crypto, pii

    engine, factory = _factory(db)
    with factory() as session:
        out = pii.rotate(session, drop_old=not keep_old)
    engine.dispose()
    console.print(
        f"[green]✓ key rotated[/]: active {out['active']}, {out['reencrypted']} value(s) re-encrypted, "
        f"dropped {out['dropped'] or 'none'} ({crypto.key_file_path()})"
    )
    if out["stale"]:
        console.print(f"[yellow]values still under old keys: {out['stale']} (old keys kept)[/]")


@app.command("key-status")
def key_status(db: DbOpt = None) -> None:
    """Which keys the key file holds and how many stored values each one encrypts."""
    from pingan.security import crypto, pii

    ring = crypto.load_keyring(reload=True)
    engine, factory = _factory(db)
    with factory() as session:
        usage = pii.key_usage(session)
    engine.dispose()
    console.print(f"key file {crypto.key_file_path()}: active [bold]{ring.active}[/], keys {sorted(ring.keys)}")
    console.print(f"values per key: {usage}")
