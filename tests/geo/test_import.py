"""Importing a city's grid layer: a good file replaces the layer; any bad feature refuses the whole file."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import shapefile
import shapely
from sqlalchemy import func, select

from pingan.errors import Invalid
from pingan.geo.grids import import_grid_file
from pingan.geo.models import Grid, RegionShape
from pingan.geo.shapes import area_m2, convert, from_wkb, geojson_geometry


def _village_with_grids(s: Any, n: int = 2) -> tuple[str, list[tuple[str, Any]]]:
    """The first village (by code) with at least n synthetic grids, with its grids' (code, geometry)."""
    row = s.execute(
        select(Grid.village_code).group_by(Grid.village_code).having(func.count() >= n).order_by(Grid.village_code)
    ).first()
    v = row[0]
    grids = [(c, from_wkb(g)) for c, g in s.execute(select(Grid.code, Grid.geom).where(Grid.village_code == v))]
    return v, sorted(grids)


def _fc(features: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features, **extra}).encode()


def _feature(code: str, geom: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"网格{code[-3:]}"},
        # Rounded to 1e-7° (~1 cm) as real files are: the slivers this makes along shared edges are not errors.
        "geometry": geojson_geometry(geom, "wgs84", 7),
    }


def _errors(exc: pytest.ExceptionInfo[Invalid]) -> list[dict[str, Any]]:
    assert exc.value.code == "grid_file_invalid"
    return list(exc.value.details["errors"])


def _refused(s: Any, raw: bytes, name: str = "grids.geojson", **kw: Any) -> list[dict[str, Any]]:
    before = s.scalar(select(func.count()).select_from(Grid))
    with pytest.raises(Invalid) as exc:
        import_grid_file(s, raw, name, **kw)
    assert s.scalar(select(func.count()).select_from(Grid)) == before  # nothing imported
    return _errors(exc)


def test_a_good_file_replaces_the_layer(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        # A rural town (large grids: the 1 cm rounding along their edges adds up to tens of m²).
        grids = [
            (c, from_wkb(g))
            for c, g in s.execute(select(Grid.code, Grid.geom).where(Grid.town_code == "430682005").order_by(Grid.code))
        ]
        assert len(grids) > 20
        raw = _fc([_feature(c, g) for c, g in grids])
        report = import_grid_file(s, raw, "town.geojson", check_villages=True)
        assert report.features == len(grids) and not report.errors
        assert sorted(s.scalars(select(Grid.code))) == [c for c, _ in grids]
        assert not s.scalar(select(Grid.synthetic).limit(1))
        s.rollback()


def test_self_intersecting_unclosed_duplicate(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        v, grids = _village_with_grids(s, 3)
        (c1, g1), (c2, g2), (c3, _g3) = grids[:3]
        minx, miny, maxx, maxy = g1.bounds
        bowtie = {
            "type": "Polygon",
            "coordinates": [[[minx, miny], [maxx, maxy], [maxx, miny], [minx, maxy], [minx, miny]]],
        }
        ring = list(json.loads(shapely.to_geojson(g2))["coordinates"][0])
        unclosed = {"type": "Polygon", "coordinates": [ring[:-1]]}
        feats = [
            {"type": "Feature", "properties": {"code": c1}, "geometry": bowtie},
            {"type": "Feature", "properties": {"code": c2}, "geometry": unclosed},
            _feature(c1, g2),  # duplicate code
            _feature("12345", g2),  # bad code
            {"type": "Feature", "properties": {"code": c3}, "geometry": {"type": "Point", "coordinates": [113, 29]}},
        ]
        errs = _refused(s, _fc(feats))
        kinds = {(e["feature"], e["error"]) for e in errs}
        assert (0, "invalid_geometry") in kinds and "Self-intersection" in next(
            e["message_en"] for e in errs if e["feature"] == 0
        )
        assert (1, "unclosed_ring") in kinds
        assert (2, "duplicate_code") in kinds
        assert (3, "bad_code") in kinds
        assert (4, "not_polygon") in kinds


def test_wrong_crs(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        v, grids = _village_with_grids(s)
        code, g = grids[0]
        # Web Mercator metres instead of degrees.
        merc = shapely.transform(g, lambda c: c * 111_000)
        errs = _refused(s, _fc([_feature(code, merc)]))
        assert errs[0]["error"] == "wrong_crs" and errs[0]["feature"] == 0
        declared = _fc([_feature(code, g)], crs={"type": "name", "properties": {"name": "EPSG:3857"}})
        assert _refused(s, declared)[0]["error"] == "wrong_crs"
        # GCJ-02 coordinates read as WGS-84 fall ~500 m off: across village edges, so refused as well.
        gcj = convert(g, "wgs84", "gcj02")
        errs = _refused(s, _fc([_feature(c, convert(gg, "wgs84", "gcj02")) for c, gg in grids]), check_villages=True)
        assert {e["error"] for e in errs} & {"crosses_villages", "gap", "crosses_city_boundary"}
        # Declared correctly, the same GCJ-02 file is converted and stored within a metre of the original.
        raw = _fc([_feature(c, convert(gg, "wgs84", "gcj02")) for c, gg in grids])
        import_grid_file(s, raw, "gcj.geojson", crs="gcj02", check_villages=True)
        stored = from_wkb(s.scalar(select(Grid.geom).where(Grid.code == code)))
        assert stored.hausdorff_distance(g) < 1e-5 and gcj.hausdorff_distance(g) > 1e-3
        s.rollback()


def test_outside_overlap_gap_and_crossing(layer) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        v, grids = _village_with_grids(s, 3)
        (c1, g1), (c2, g2), (c3, g3) = grids[:3]
        far = shapely.affinity.translate(g1, 3.0, 3.0)
        errs = _refused(s, _fc([_feature(c1, far)]))
        assert errs[0]["error"] == "outside_city"
        # Grid 1 grown into grid 2: overlap; grid 3 left out: gap in the village.
        village = shapely.union_all([g for _, g in grids])
        grown = shapely.intersection(g1.buffer(0.002), village)
        keep = [(c1, grown)] + [(c, g) for c, g in grids[1:] if c != c3]
        errs = _refused(s, _fc([_feature(c, g) for c, g in keep]), check_villages=True)
        kinds = {e["error"] for e in errs}
        assert "overlap" in kinds and "gap" in kinds
        overlap = next(e for e in errs if e["error"] == "overlap")
        assert c1 in {overlap["code"], overlap["other"]} and overlap["area_m2"] > 10
        assert next(e for e in errs if e["error"] == "gap")["village_code"] == v
        # A grid made of two villages' land crosses them; the error names both.
        other_v = s.scalar(select(Grid.village_code).where(Grid.village_code != v).order_by(Grid.village_code))
        neighbour = shapely.STRtree(
            [
                from_wkb(x)
                for x in s.scalars(
                    select(RegionShape.geom).where(RegionShape.level == "village", RegionShape.code != v)
                )
            ]
        )
        vshape = from_wkb(s.scalar(select(RegionShape.geom).where(RegionShape.code == v)))
        assert other_v
        touching = neighbour.query(vshape, predicate="touches")
        assert len(touching) > 0
        both = shapely.union_all([g3, shapely.intersection(vshape.buffer(0.003), neighbour.geometries[touching[0]])])
        errs = _refused(s, _fc([_feature(c3, both)]), check_villages=True)
        cross = next(e for e in errs if e["error"] == "crosses_villages")
        assert cross["code"] == c3 and len(cross["crossed"]) >= 2


def _shapefile_zip(grids: list[tuple[str, Any]], prj: str | None) -> bytes:
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    w = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON, encoding="utf-8")
    w.field("WGBM", "C", 20)
    w.field("WGMC", "C", 60)
    for code, g in grids:
        rings = []
        for p in shapely.get_parts(g):
            rings.append([list(c) for c in reversed(p.exterior.coords)])  # shapefile outer rings are clockwise
        w.poly(rings)
        w.record(code, f"网格{code[-3:]}")
    w.close()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("grids.shp", shp.getvalue())
        z.writestr("grids.shx", shx.getvalue())
        z.writestr("grids.dbf", dbf.getvalue())
        z.writestr("grids.cpg", "UTF-8")
        if prj:
            z.writestr("grids.prj", prj)
    return out.getvalue()


def test_zipped_shapefile(layer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with layer.session() as s:
        v, grids = _village_with_grids(s)
        grids = [(c, g) for c, g in grids if g.geom_type == "Polygon"]
        wgs = 'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137,298.257223563]]]'
        raw = _shapefile_zip(grids, wgs)
        report = import_grid_file(s, raw, "grids.zip")
        assert report.features == len(grids)
        stored = {c: from_wkb(g) for c, g in s.execute(select(Grid.code, Grid.geom))}
        assert set(stored) == {c for c, _ in grids}
        assert all(area_m2(shapely.symmetric_difference(stored[c], g)) < 1.0 for c, g in grids)
        s.rollback()
        projected = 'PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"]]'
        assert _refused(s, _shapefile_zip(grids, projected), "grids.zip")[0]["error"] == "wrong_crs"
        assert _refused(s, b"not a zip", "grids.zip")[0]["error"] == "not_zip"


def test_cli_lists_every_bad_feature(layer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from pingan.geo.cli import app

    with layer.session() as s:
        v, grids = _village_with_grids(s, 2)
        before = s.scalar(select(func.count()).select_from(Grid))
    (c1, g1), (c2, g2) = grids[:2]
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(_fc([_feature(c1, g1), _feature(c1, g2)]))
    r = CliRunner().invoke(app, ["import-grids", str(bad), "--db", layer.url])
    assert r.exit_code == 1 and "feature 1" in r.output and "duplicate_code" in r.output
    good = tmp_path / "good.geojson"
    good.write_bytes(_fc([_feature(c, g) for c, g in grids]))
    r = CliRunner().invoke(app, ["import-grids", str(good), "--dry-run", "--db", layer.url])
    assert r.exit_code == 0 and "valid" in r.output
    with layer.session() as s:
        assert s.scalar(select(func.count()).select_from(Grid)) == before
