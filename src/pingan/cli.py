"""The `pingan` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pingan.config import REPO_ROOT, Settings

app = typer.Typer(help="Pingan 平安 — 三网融合指挥中心 command line", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations)", no_args_is_help=True)
users_app = typer.Typer(help="Accounts", no_args_is_help=True)
policy_app = typer.Typer(help="Policy files (deadlines, departments, …)", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident timeline", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
console = Console()

DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (sqlite:///… or postgresql://…)")]
HostOpt = Annotated[str, typer.Option("--host")]
PortOpt = Annotated[int, typer.Option("--port")]


def _settings(db: str | None) -> Settings:
    s = Settings()
    if db:
        s.db_url = db
    return s


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Bring the schema up to date."""
    from pingan.migrate import upgrade

    s = _settings(db)
    upgrade(s.db_url)
    console.print(f"[green]schema up to date[/] ({s.db_url})")


@app.command()
def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    db: DbOpt = None,
    workers: Annotated[int, typer.Option(help="server processes (PostgreSQL; SQLite serialises writes anyway)")] = 1,
    seed: Annotated[bool, typer.Option(help="load divisions and departments if missing")] = True,
) -> None:
    """Run the server (migrates the schema first)."""
    import os

    from pingan import serving
    from pingan.migrate import upgrade

    s = _settings(db)
    upgrade(s.db_url)
    if seed:
        _seed_org(s)
    console.print(f"Pingan 平安 at [bold]http://{host}:{port}/[/]  (API docs: /docs)")
    # Worker processes build their own app from the environment.
    os.environ["PINGAN_DB_URL"] = s.db_url
    serving.run(host, port, workers)


def _seed_org(s: Settings) -> None:
    from pingan.db import make_engine, make_session_factory, session_scope
    from pingan.sim.org import seed_organisation

    engine = make_engine(s.db_url)
    with session_scope(make_session_factory(engine)) as session:
        seed_organisation(session)
    engine.dispose()


@app.command()
def demo(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    db: DbOpt = None,
    cases: Annotated[int, typer.Option(help="how many demo cases to seed")] = 5000,
    fresh: Annotated[bool, typer.Option(help="start from an empty demo database")] = False,
    stream: Annotated[bool, typer.Option(help="keep a light simulated stream of intake and actions")] = True,
) -> None:
    """Seed the demo city (Yueyang, ~5,000 cases from real messages) and serve it."""
    import uvicorn

    from pingan.app import create_app
    from pingan.sim import demo as demo_mod
    from pingan.sim.org import DEMO_PASSWORD, DEMO_USERS

    s = _settings(db or f"sqlite:///{REPO_ROOT / 'var' / 'demo.db'}")
    jobs = demo_mod.prepare(s, cases=cases, fresh=fresh, console=console, background=True)
    console.print(f"\n[bold green]Pingan 平安 demo[/] at [bold]http://{host}:{port}/[/]  (API docs: /docs)")
    console.print(f"Demo logins (password [bold]{DEMO_PASSWORD}[/]):")
    for u in DEMO_USERS:
        console.print(f"  {u.username:<10} {u.display_name} ({u.role})")
    s.sweeper_interval_s = min(s.sweeper_interval_s, 10)
    uvicorn.run(create_app(s, extra_jobs=jobs if stream else []), host=host, port=port, log_level="warning")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="operator, dispatcher, handler, …")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str, typer.Option(help="display name")] = "",
    region: Annotated[str, typer.Option(help="jurisdiction region code")] = "430600",
    department: Annotated[str | None, typer.Option(help="department code, for handlers")] = None,
    channel: Annotated[str | None, typer.Option(help="channel, for channel accounts")] = None,
    token: Annotated[bool, typer.Option(help="print an API token (channel systems)")] = False,
    db: DbOpt = None,
) -> None:
    """Create an account (the password must be changed at first login)."""
    from sqlalchemy import select

    from pingan.db import make_engine, make_session_factory, session_scope
    from pingan.errors import PinganError
    from pingan.orgs import service as orgs
    from pingan.orgs.models import Department
    from pingan.orgs.roles import Role

    s = _settings(db)
    try:
        role_v = Role(role)
    except ValueError:
        console.print(f"[red]unknown role {role}[/]; one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(2) from None
    engine = make_engine(s.db_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            dep_id = None
            if department:
                dep = session.scalars(select(Department).where(Department.code == department)).one_or_none()
                if dep is None:
                    console.print(f"[red]unknown department code {department}[/]")
                    raise typer.Exit(2)
                dep_id = dep.id
            user = orgs.create_user(session, username, password, role_v, name, region, dep_id, channel)
            console.print(f"[green]created[/] {user.username} ({role_v.value}), id {user.id}")
            if token:
                console.print(f"API token: {orgs.issue_token(session, user, 'api')}")
    except PinganError as exc:
        console.print(f"[red]{exc.zh}[/] / {exc.en}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@policy_app.command("check")
def policy_check(file: Path) -> None:
    """Validate a policy file; prints what is wrong and exits 1 if anything is."""
    from pingan.errors import PinganError
    from pingan.policy.registry import check_file

    if not file.exists():
        console.print(f"[red]no such file: {file}[/]")
        raise typer.Exit(2)
    try:
        model = check_file(file)
    except PinganError as exc:
        console.print(f"[red]✗ {exc.zh}[/]\n  {exc.en}")
        if exc.details:
            console.print_json(json.dumps(exc.details, ensure_ascii=False))
        raise typer.Exit(1) from None
    console.print(f"[green]✓ {file}[/] is a valid {type(model).__name__}")


@audit_app.command("verify")
def audit_verify(
    db: DbOpt = None,
    ledger_head: Annotated[
        str | None,
        typer.Option("--ledger-head", help="SEQ:HASH recorded from an earlier run: the ledger must still hold it"),
    ] = None,
) -> None:
    """Check every case timeline's hash chain, the security log and the global anchor ledger; names each
    edited or deleted event and each deleted case. Prints the ledger head: keep it outside the database."""
    from rich.progress import Progress

    from pingan.audit import ledger
    from pingan.audit.chain import verify_all
    from pingan.db import make_engine, make_readonly_factory

    try:
        expect = ledger.parse_head(ledger_head) if ledger_head else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ledger-head") from exc
    s = _settings(db)
    engine = make_engine(s.db_url)
    # One read transaction over one snapshot, so that writes going on meanwhile (a running server) do not
    # look like tampering: REPEATABLE READ on PostgreSQL; on SQLite a deferred (WAL) read, no write lock.
    snap = engine.execution_options(isolation_level="REPEATABLE READ") if engine.dialect.name != "sqlite" else engine
    with make_readonly_factory(snap)() as session, Progress(console=console, transient=True) as progress:
        progress.add_task("verifying timelines…", total=None)
        n_cases, n_events, problems = verify_all(session)
        from pingan.security.events import verify as verify_security

        n_security, security_problems = verify_security(session)
        report = ledger.verify(session, expect)
    engine.dispose()
    all_problems = [*problems, *security_problems, *report.problems]
    for p in all_problems:
        console.print(f"[red]✗ {p}[/]", soft_wrap=True)
    summary = (
        f"{n_cases} cases, {n_events} events, {n_security} security events,"
        f" ledger {report.entries} entries over {report.cases} cases"
    )
    head = f"ledger head: {report.head_seq}:{report.head_hash}"
    if all_problems:
        console.print(f"[red]{len(all_problems)} problem(s)[/] in {summary}", soft_wrap=True)
        console.print(head, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"[green]✓ chain intact[/]: {summary}", soft_wrap=True)
    console.print(f"{head}  (record it outside this database; pass it back with --ledger-head)", soft_wrap=True)


@audit_app.command("anchor")
def audit_anchor(db: DbOpt = None) -> None:
    """Anchor new case events in the global ledger now (the server's background job does this every pass)."""
    from pingan.audit.ledger import anchor
    from pingan.db import make_engine, make_session_factory

    s = _settings(db)
    engine = make_engine(s.db_url)
    n = anchor(make_session_factory(engine), budget_s=3600)
    engine.dispose()
    console.print(f"[green]{n} ledger entries appended[/]")


@app.command()
def backup(file: Path, db: DbOpt = None) -> None:
    """Copy the database to FILE, consistently, while the server runs (SQLite backup API / pg_dump)."""
    from pingan.backup import backup as do_backup

    s = _settings(db)
    out = do_backup(s.db_url, file)
    _log_security(s, "backup", str(file), {"bytes": out.bytes, "kind": out.kind})
    console.print(f"[green]✓ backup[/] {out.file} ({out.kind}, {out.bytes:,} bytes)")


@app.command()
def restore(
    file: Path,
    db: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask: replace the database's contents")] = False,
) -> None:
    """Replace the database's contents with a backup made by `pingan backup`."""
    from pingan.backup import restore as do_restore

    s = _settings(db)
    if not yes:
        typer.confirm(f"replace everything in {s.db_url} with {file}?", abort=True)
    out = do_restore(s.db_url, file)
    _log_security(s, "restore", str(file), {"bytes": out.bytes, "kind": out.kind})
    console.print(f"[green]✓ restored[/] {out.file} into {s.db_url}")


def _log_security(s: Settings, kind: str, target: str, data: dict[str, object]) -> None:
    from pingan.db import make_engine, make_session_factory, session_scope
    from pingan.security import events

    engine = make_engine(s.db_url)
    with session_scope(make_session_factory(engine)) as session:
        events.record(session, kind, actor_name=f"pingan {kind}", target=target[:120], data=data)
    engine.dispose()


@app.command()
def sweep(db: DbOpt = None) -> None:
    """Run one pass of the SLA sweeper (催办/督办/升级) and deliver the outbox."""
    from pingan.background import senders
    from pingan.cases.sweeper import sweep_once
    from pingan.db import make_engine, make_session_factory
    from pingan.notify.outbox import deliver

    s = _settings(db)
    engine = make_engine(s.db_url)
    factory = make_session_factory(engine)
    counts = sweep_once(factory)
    counts["delivered"] = deliver(factory, senders(s))
    engine.dispose()
    console.print_json(json.dumps(counts))


def _mount_plugins() -> None:
    from pingan.plugins import cli_apps

    for name, sub in cli_apps():
        app.add_typer(sub, name=name)


_mount_plugins()


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
