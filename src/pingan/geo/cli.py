"""`pingan geo …`: the synthetic demo layer, grid and roster imports, locating and searching from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pingan.config import Settings
from pingan.errors import PinganError

app = typer.Typer(help="Geography 地理: divisions, grids, locating", no_args_is_help=True)
console = Console()
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (sqlite:///… or postgresql://…)")]
CrsOpt = Annotated[str, typer.Option("--crs", help="coordinate system of the input: wgs84 / gcj02 / bd09")]


def _factory(db: str | None):  # noqa: ANN202
    from pingan.db import make_engine, make_session_factory

    s = Settings()
    if db:
        s.db_url = db
    return make_session_factory(make_engine(s.db_url))


def _fail(exc: PinganError) -> None:
    console.print(f"[red]{exc.zh}[/] ({exc.en})")
    errors = exc.details.get("errors") or []
    for e in errors[:200]:
        where = (
            f"feature {e.get('feature')}" if e.get("feature") is not None else (f"row {e['row']}" if "row" in e else "")
        )
        extra = {k: v for k, v in e.items() if k not in ("feature", "row", "message", "message_en")}
        console.print(
            f"  • {where} {e.get('message', '')} — {e.get('message_en', '')} {json.dumps(extra, ensure_ascii=False)}"
        )
    if len(errors) > 200:
        console.print(f"  … and {len(errors) - 200} more")
    raise typer.Exit(1)


@app.command("synth")
def synth(
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="also write the grids as GeoJSON (WGS-84)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace the grid layer even if one is loaded")] = False,
    workers: Annotated[bool, typer.Option(help="also a synthetic roster (one captain per grid)")] = True,
) -> None:
    """Generate the deterministic SYNTHETIC village/community cells and grids and load them (合成数据)."""
    from pingan.db import session_scope
    from pingan.geo import grids, synth

    layer = synth.generate()
    console.print(
        f"generated in {layer.seconds:.2f}s: {len(layer.towns)} towns, {len(layer.villages)} villages, "
        f"{len(layer.grids)} grids [yellow](synthetic 合成)[/]"
    )
    if out:
        from pingan.geo.shapes import geojson_geometry

        fc = {
            "type": "FeatureCollection",
            "name": "pingan synthetic grids (合成网格, not real boundaries)",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": g.code, "name": g.name, "urban": g.urban, "synthetic": True},
                    "geometry": geojson_geometry(g.geom, "wgs84", 7),
                }
                for g in layer.grids
            ],
        }
        out.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
        console.print(f"wrote {out}")
    if db is None and out is not None:
        return
    from pingan.geo.models import Grid

    with session_scope(_factory(db)) as session:
        from sqlalchemy import select

        if session.scalar(select(Grid.code).limit(1)) is not None and not force:
            console.print("a grid layer is already loaded; use --force to replace it")
            return
        counts = synth.store_layer(session, layer)
        if workers:
            counts["workers"] = grids.synth_roster(session)
    console.print(f"[green]loaded[/] {counts}")


@app.command("import-grids")
def import_grids(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection or zipped Shapefile (.zip)")],
    db: DbOpt = None,
    crs: CrsOpt = "wgs84",
    tolerance: Annotated[float, typer.Option("--tolerance", help="overlap/gap tolerance in m²")] = 10.0,
    check_villages: Annotated[
        bool | None, typer.Option("--check-villages/--no-check-villages", help="check against village polygons")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only")] = False,
) -> None:
    """Validate a city's grid layer and replace the loaded one with it; a bad file imports nothing."""
    from pingan.db import session_scope
    from pingan.geo.grids import import_grid_file

    try:
        with session_scope(_factory(db)) as session:
            report = import_grid_file(session, file.read_bytes(), file.name, crs, tolerance, check_villages, dry_run)
    except PinganError as exc:
        _fail(exc)
        return
    console.print(f"[green]{'valid' if dry_run else 'imported'}[/]: {report.features} grids from {file}")


@app.command("import-roster")
def import_roster(
    file: Annotated[Path, typer.Argument(help="xlsx: 工号, 姓名, 手机, 网格编码, 网格长, 在岗, 账号")], db: DbOpt = None
) -> None:
    """Import the grid-worker roster (网格员花名册); a bad roster imports nothing."""
    from pingan.db import session_scope
    from pingan.geo.grids import import_roster as do_import
    from pingan.geo.grids import read_roster_xlsx

    try:
        with session_scope(_factory(db)) as session:
            result = do_import(session, read_roster_xlsx(file.read_bytes()))
    except PinganError as exc:
        _fail(exc)
        return
    console.print(f"[green]imported[/] {result}")


@app.command("locate")
def locate_cmd(
    lon: Annotated[float | None, typer.Argument()] = None,
    lat: Annotated[float | None, typer.Argument()] = None,
    crs: CrsOpt = "wgs84",
    address: Annotated[str | None, typer.Option("--address")] = None,
    db: DbOpt = None,
) -> None:
    """Locate a point (with its crs) or an address."""
    from pingan.db import session_scope
    from pingan.geo import service
    from pingan.geo.crs import to_wgs84
    from pingan.geo.locate import locate

    try:
        with session_scope(_factory(db)) as session:
            if lon is not None and lat is not None:
                loc = service.locate_point_strict(session, *to_wgs84(lon, lat, crs))
            else:
                loc = locate(session, None, None, address)
    except PinganError as exc:
        _fail(exc)
        return
    json.dump(loc.__dict__, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


@app.command("search")
def search_cmd(q: str, db: DbOpt = None, limit: int = 10) -> None:
    """Search divisions by name, pinyin (rongjiawan), initials (rjw) or a near spelling."""
    from pingan.db import session_scope
    from pingan.geo import service

    with session_scope(_factory(db)) as session:
        for p, how, score in service.search(session, q, limit):
            console.print(f"{p.code:<15} {p.name:<16} {p.level:<9} {how:<8} {score:.0f}")


@app.command("counts")
def counts_cmd(code: Annotated[str | None, typer.Argument()] = None, db: DbOpt = None) -> None:
    """Counts of divisions by level and subtype."""
    from pingan.db import session_scope
    from pingan.geo.divisions import counts

    with session_scope(_factory(db)) as session:
        console.print_json(json.dumps(counts(session, code), ensure_ascii=False))
