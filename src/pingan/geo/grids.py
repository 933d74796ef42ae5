"""The grid layer (网格): import with validation (GeoJSON or zipped Shapefile), storage, the grid-worker roster.

A bad file imports nothing: every problem is collected with the feature it concerns, then the import is
refused as a whole (Invalid "grid_file_invalid", details.errors).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from pingan.errors import Invalid
from pingan.geo.crs import CRS_VALUES
from pingan.geo.models import Grid, GridAssignment, GridWorker, LayerState, Region, RegionShape
from pingan.geo.shapes import area_m2, areas_m2, convert, from_wkb, metric
from pingan.timeutil import utcnow

GRID_CODE = re.compile(r"^\d{15}$")
DEFAULT_TOLERANCE_M2 = 10.0
# Slivers thinner than this on average (2·area/perimeter) are rounding noise, whatever their area.
SLIVER_WIDTH_M = 0.5
# GeoJSON "crs" names taken as geographic lon/lat (WGS-84 or CGCS2000, equal within a metre).
GEOGRAPHIC_CRS = {
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
    "EPSG:4490",
    "urn:ogc:def:crs:EPSG::4490",
    "OGC:CRS84",
}
CODE_KEYS = ("code", "grid_code", "GRID_CODE", "CODE", "WGBM", "wgbm", "网格编码")
NAME_KEYS = ("name", "grid_name", "NAME", "GRID_NAME", "WGMC", "wgmc", "网格名称")


@dataclass
class GridFeature:
    code: str
    name: str
    geom: BaseGeometry
    urban: bool = False
    index: int = 0


@dataclass
class ImportReport:
    features: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def error(self, index: int | None, code: str | None, kind: str, zh: str, en: str, **detail: Any) -> None:
        self.errors.append({"feature": index, "code": code, "error": kind, "message": zh, "message_en": en, **detail})


# ---------------------------------------------------------------- reading files


def _ring_problems(rings: list[list[list[float]]]) -> str | None:
    for ring in rings:
        if len(ring) < 4:
            return "a ring has fewer than 4 positions"
        if list(ring[0][:2]) != list(ring[-1][:2]):
            return "a ring is not closed (first position ≠ last position)"
    return None


def _prop(props: dict[str, Any], keys: tuple[str, ...]) -> str:
    for k in keys:
        v = props.get(k)
        if v not in (None, ""):
            return str(v).strip()
    return ""


def _raw_features_geojson(data: dict[str, Any], report: ImportReport) -> list[tuple[int, dict[str, Any], Any]]:
    if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        report.error(
            None,
            None,
            "not_feature_collection",
            "文件不是 GeoJSON FeatureCollection",
            "the file is not a GeoJSON FeatureCollection",
        )
        return []
    crs = data.get("crs")
    if crs:
        name = str((crs.get("properties") or {}).get("name", ""))
        if name not in GEOGRAPHIC_CRS:
            report.error(
                None,
                None,
                "wrong_crs",
                f"坐标系 {name} 不受支持：请用经纬度（WGS-84/CGCS2000，或指定 gcj02/bd09）",
                f"CRS {name} is not supported: use lon/lat degrees (WGS-84/CGCS2000, or say gcj02/bd09)",
            )
            return []
    out = []
    for i, f in enumerate(data["features"]):
        out.append((i, dict(f.get("properties") or {}), f.get("geometry")))
    return out


def read_geojson(raw: bytes, report: ImportReport) -> list[tuple[int, dict[str, Any], Any]]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.error(None, None, "not_json", "文件不是有效的 JSON", f"the file is not valid JSON: {exc}")
        return []
    return _raw_features_geojson(data, report)


def read_shapefile_zip(raw: bytes, report: ImportReport) -> list[tuple[int, dict[str, Any], Any]]:
    import shapefile  # pyshp

    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        report.error(None, None, "not_zip", "文件不是 zip 压缩的 Shapefile", "the file is not a zipped Shapefile")
        return []
    names = {Path(n).suffix.lower(): n for n in zf.namelist() if not n.startswith("__MACOSX")}
    if ".shp" not in names or ".dbf" not in names:
        report.error(None, None, "shapefile_incomplete", "压缩包缺少 .shp 或 .dbf", "the zip lacks a .shp or .dbf file")
        return []
    if ".prj" in names:
        prj = zf.read(names[".prj"]).decode("utf-8", "replace")
        if prj.strip().upper().startswith("PROJCS"):
            report.error(
                None,
                None,
                "wrong_crs",
                "Shapefile 是投影坐标系：请导出为经纬度（WGS-84/CGCS2000）",
                "the Shapefile uses a projected CRS: export it in lon/lat degrees (WGS-84/CGCS2000)",
                prj=prj[:120],
            )
            return []
    encoding = "utf-8"
    if ".cpg" in names:
        encoding = zf.read(names[".cpg"]).decode("ascii", "replace").strip() or "utf-8"
    reader = shapefile.Reader(
        shp=io.BytesIO(zf.read(names[".shp"])),
        dbf=io.BytesIO(zf.read(names[".dbf"])),
        shx=io.BytesIO(zf.read(names[".shx"])) if ".shx" in names else None,
        encoding=encoding,
    )
    out = []
    for i, sr in enumerate(reader.iterShapeRecords()):
        geo = sr.shape.__geo_interface__
        out.append((i, dict(sr.record.as_dict()), geo))
    return out


# ---------------------------------------------------------------- validation


def significant_area(geom: BaseGeometry, width_m: float = SLIVER_WIDTH_M) -> float:
    """Area (m²) of the polygonal parts of geom that are not slivers (mean width 2A/P ≥ width_m): a layer
    rounded to 1e-7° shifts every edge by ~1 cm, which along a rural grid's 8 km boundary is tens of m²."""
    if geom.is_empty:
        return 0.0
    parts = shapely.get_parts(metric(geom))
    area = shapely.area(parts)
    perim = shapely.length(parts)
    keep = (perim > 0) & (2 * area >= width_m * perim)
    return float(area[keep].sum())


def parse_features(
    raw_features: list[tuple[int, dict[str, Any], Any]], crs: str, report: ImportReport
) -> list[GridFeature]:
    if crs not in CRS_VALUES:
        raise Invalid("crs_invalid", f"未知坐标系 {crs}", f"unknown crs {crs!r}", allowed=list(CRS_VALUES))
    out: list[GridFeature] = []
    seen: dict[str, int] = {}
    for i, props, geo in raw_features:
        code = _prop(props, CODE_KEYS)
        name = _prop(props, NAME_KEYS) or code
        if not GRID_CODE.match(code):
            report.error(
                i,
                code or None,
                "bad_code",
                "网格编码须为 15 位数字（6 区县 + 3 乡镇 + 3 村社区 + 3 序号）",
                "grid code must be 15 digits (6 county + 3 town + 3 village + 3 sequence)",
            )
        elif code in seen:
            report.error(
                i,
                code,
                "duplicate_code",
                f"网格编码重复（与第 {seen[code]} 个要素相同）",
                f"duplicate grid code (same as feature {seen[code]})",
                other_feature=seen[code],
            )
        else:
            seen[code] = i
        if not isinstance(geo, dict) or geo.get("type") not in ("Polygon", "MultiPolygon"):
            kind = geo.get("type") if isinstance(geo, dict) else None
            report.error(
                i,
                code,
                "not_polygon",
                f"几何类型须为面（Polygon/MultiPolygon），实为 {kind}",
                f"geometry must be a Polygon or MultiPolygon, got {kind}",
            )
            continue
        coords = geo.get("coordinates") or []
        polys = [coords] if geo["type"] == "Polygon" else coords
        problem = None
        try:
            problem = _ring_problems([ring for poly in polys for ring in poly])
        except (TypeError, IndexError):
            problem = "malformed coordinates"
        if problem:
            report.error(i, code, "unclosed_ring", "多边形环未闭合或点数不足", problem)
            continue
        flat = np.array([p[:2] for poly in polys for ring in poly for p in ring], dtype=float)
        if flat.size == 0 or not (np.all(np.abs(flat[:, 0]) <= 180) and np.all(np.abs(flat[:, 1]) <= 90)):
            report.error(
                i,
                code,
                "wrong_crs",
                "坐标不是经纬度（投影坐标？）：请用 WGS-84/CGCS2000 经纬度",
                "coordinates are not lon/lat degrees (projected?): use WGS-84/CGCS2000 degrees",
            )
            continue
        geom = shape(geo)
        if not geom.is_valid:
            report.error(
                i,
                code,
                "invalid_geometry",
                f"多边形无效：{shapely.is_valid_reason(geom)}",
                f"invalid polygon: {shapely.is_valid_reason(geom)}",
            )
            continue
        if geom.is_empty or area_m2(geom) <= 0:
            report.error(i, code, "empty_geometry", "多边形面积为零", "the polygon has no area")
            continue
        out.append(GridFeature(code, name, convert(geom, crs, "wgs84"), index=i))
    return out


def validate_layer(
    session: Session,
    features: list[GridFeature],
    report: ImportReport,
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
    check_villages: bool | None = None,
) -> None:
    """Checks that need the whole layer and the database: codes of real villages, inside the city, inside one
    village/community, overlaps and gaps beyond the tolerance."""
    villages = {
        code: sub for code, sub in session.execute(select(Region.code, Region.subtype).where(Region.level == "village"))
    }
    shapes = {r.code: r for r in session.scalars(select(RegionShape))}
    counties = {c: from_wkb(s.geom) for c, s in shapes.items() if s.level == "county"}
    village_shapes = {c: s for c, s in shapes.items() if s.level == "village"}
    if check_villages is None:  # synthetic village cells say nothing about a real layer
        check_villages = bool(village_shapes) and not any(s.synthetic for s in village_shapes.values())
    vgeoms = {c: from_wkb(s.geom) for c, s in village_shapes.items()} if check_villages else {}
    city = shapely.union_all(list(counties.values())) if counties else None
    if city is not None:
        shapely.prepare(city)
    vtree_codes = list(vgeoms)
    vtree = shapely.STRtree([vgeoms[c] for c in vtree_codes]) if vgeoms else None
    for f in features:
        vcode = f.code[:12]
        if vcode not in villages:
            report.error(
                f.index,
                f.code,
                "unknown_village",
                f"编码前 12 位 {vcode} 不是本市的村/社区",
                f"the first 12 digits {vcode} are not a village/community of the city",
            )
        if city is not None:
            outside = significant_area(shapely.difference(f.geom, city))
            if outside > tolerance_m2:
                kind = "outside_city" if outside >= 0.999 * area_m2(f.geom) else "crosses_city_boundary"
                report.error(
                    f.index,
                    f.code,
                    kind,
                    f"网格有 {outside:.0f} m² 在市界之外",
                    f"{outside:.0f} m² of the grid lie outside the city",
                    outside_m2=round(outside, 1),
                )
                continue
        if vtree is not None:
            own = vgeoms.get(vcode)
            outside = significant_area(shapely.difference(f.geom, own)) if own is not None else area_m2(f.geom)
            if outside > tolerance_m2:
                crossed = []
                for j in vtree.query(f.geom, predicate="intersects"):
                    a = significant_area(shapely.intersection(f.geom, vgeoms[vtree_codes[int(j)]]))
                    if a > tolerance_m2:
                        crossed.append({"village_code": vtree_codes[int(j)], "area_m2": round(a, 1)})
                report.error(
                    f.index,
                    f.code,
                    "crosses_villages",
                    "网格跨越多个村/社区（或不在编码所示村/社区内）",
                    "the grid crosses villages/communities (or is not inside the one its code names)",
                    crossed=crossed,
                )
    # Overlaps between grids.
    if len(features) > 1:
        tree = shapely.STRtree([f.geom for f in features])
        left, right = tree.query([f.geom for f in features], predicate="intersects")
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            if a >= b:
                continue
            fa, fb = features[a], features[b]
            inter = significant_area(shapely.intersection(fa.geom, fb.geom))
            if inter > tolerance_m2:
                report.error(
                    fa.index,
                    fa.code,
                    "overlap",
                    f"与网格 {fb.code} 重叠 {inter:.0f} m²",
                    f"overlaps grid {fb.code} by {inter:.0f} m²",
                    other=fb.code,
                    area_m2=round(inter, 1),
                )
    # Gaps: inside a village with a polygon, what no grid covers; otherwise holes inside the union of a village's grids.
    by_village: dict[str, list[BaseGeometry]] = {}
    for f in features:
        by_village.setdefault(f.code[:12], []).append(f.geom)
    for vcode, geoms in sorted(by_village.items()):
        union = shapely.union_all(geoms)
        if vcode in vgeoms:
            gap = shapely.difference(vgeoms[vcode], union)
        else:
            holes = [
                shapely.Polygon(r) for p in shapely.get_parts(union) if p.geom_type == "Polygon" for r in p.interiors
            ]
            gap = shapely.union_all(holes) if holes else shapely.Polygon()
        ga = significant_area(gap)
        if ga > tolerance_m2:
            c = gap.representative_point()
            report.error(
                None,
                None,
                "gap",
                f"村/社区 {vcode} 内有 {ga:.0f} m² 不属于任何网格",
                f"{ga:.0f} m² inside village/community {vcode} belong to no grid",
                village_code=vcode,
                area_m2=round(ga, 1),
                at=[round(c.x, 6), round(c.y, 6)],
            )


def import_grid_file(
    session: Session,
    raw: bytes,
    filename: str,
    crs: str = "wgs84",
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
    check_villages: bool | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Validate a whole grid file, then replace the grid layer with it — or import nothing and raise."""
    report = ImportReport()
    raw_features = read_shapefile_zip(raw, report) if filename.lower().endswith(".zip") else read_geojson(raw, report)
    report.features = len(raw_features)
    if not report.errors and not raw_features:
        report.error(None, None, "empty_file", "文件中没有网格", "the file holds no grids")
    features = parse_features(raw_features, crs, report) if not report.errors else []
    if not report.errors:
        validate_layer(session, features, report, tolerance_m2, check_villages)
    if report.errors:
        raise Invalid(
            "grid_file_invalid",
            f"网格文件有 {len(report.errors)} 处错误，未导入任何网格",
            f"the grid file has {len(report.errors)} problems; nothing was imported",
            errors=report.errors[:500],
            error_count=len(report.errors),
        )
    if not dry_run:
        replace_grids(session, features, synthetic=False, source=f"imported from {Path(filename).name}")
    return report


# ---------------------------------------------------------------- storage


def replace_grids(session: Session, features: list[GridFeature], synthetic: bool, source: str) -> int:
    """Replace the whole grid layer and bump its version (every process's locator index is rebuilt)."""
    from pingan.geo import locator

    session.execute(delete(Grid))
    geoms = np.array([f.geom for f in features], dtype=object)
    wkbs = shapely.to_wkb(geoms) if len(features) else []
    areas = areas_m2(geoms) if len(features) else np.zeros(0)
    rows = []
    for f, wkb, area in zip(features, wkbs, areas.tolist(), strict=True):
        rows.append(
            {
                "code": f.code,
                "name": f.name[:100],
                "village_code": f.code[:12],
                "town_code": f.code[:9],
                "county_code": f.code[:6],
                "geom": bytes(wkb),
                "area_m2": round(area, 1),
                "urban": f.urban,
                "synthetic": synthetic,
                "source": source[:200],
            }
        )
    for i in range(0, len(rows), 2000):
        session.execute(insert(Grid), rows[i : i + 2000])
    state = session.get(LayerState, "grids")
    if state is None:
        state = LayerState(name="grids", version=0)
        session.add(state)
    state.version = (state.version or 0) + 1
    state.synthetic = synthetic
    state.source = source[:200]
    state.feature_count = len(rows)
    state.updated_at = utcnow()
    session.flush()
    locator.invalidate()
    return len(rows)


def metric_area(geom: BaseGeometry) -> float:
    return float(metric(geom).area)


# ---------------------------------------------------------------- roster of grid workers

ROSTER_COLUMNS = {
    "worker_no": ("工号", "worker_no", "编号"),
    "name": ("姓名", "name"),
    "phone": ("手机", "手机号", "电话", "phone"),
    "grids": ("网格编码", "网格", "grids"),
    "captain_of": ("网格长", "captain_of", "任网格长的网格"),
    "on_duty": ("在岗", "on_duty"),
    "username": ("账号", "username"),
}
_YES = {"是", "在岗", "y", "yes", "true", "1"}


def _split_codes(v: Any) -> list[str]:
    if v is None:
        return []
    return [c for c in re.split(r"[,，;；\s、]+", str(v).strip()) if c]


def read_roster_xlsx(raw: bytes) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    if not rows:
        return []
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    col: dict[str, int] = {}
    for key, names in ROSTER_COLUMNS.items():
        for idx, h in enumerate(header):
            if h in names:
                col[key] = idx
    missing = [k for k in ("worker_no", "name", "grids") if k not in col]
    if missing:
        raise Invalid(
            "roster_columns",
            f"花名册缺少列：{missing}",
            f"the roster lacks columns {missing}",
            expected={k: ROSTER_COLUMNS[k] for k in missing},
        )
    out = []
    for n, r in enumerate(rows[1:], start=2):
        if all(v in (None, "") for v in r):
            continue
        rec = {k: (r[i] if i < len(r) else None) for k, i in col.items()}
        rec["row"] = n
        out.append(rec)
    return out


def import_roster(session: Session, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Upsert workers by 工号 and replace every grid assignment with the file's; refuse the whole roster on any
    error (unknown grid or account, a grid with two captains, a worker listed twice)."""
    from pingan.orgs.models import User

    grids = set(session.scalars(select(Grid.code)))
    users = {u.username: u.id for u in session.scalars(select(User))}
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    captains: dict[str, str] = {}
    for rec in records:
        no = str(rec.get("worker_no") or "").strip()
        row = rec["row"]
        if not no or not str(rec.get("name") or "").strip():
            errors.append(
                {
                    "row": row,
                    "error": "missing",
                    "message": "工号和姓名必填",
                    "message_en": "worker_no and name are required",
                }
            )
            continue
        if no in seen:
            errors.append(
                {
                    "row": row,
                    "error": "duplicate_worker",
                    "message": f"工号 {no} 重复",
                    "message_en": f"worker {no} twice",
                }
            )
        seen.add(no)
        gl = _split_codes(rec.get("grids"))
        cl = _split_codes(rec.get("captain_of"))
        for g in gl + cl:
            if g not in grids:
                errors.append(
                    {
                        "row": row,
                        "error": "unknown_grid",
                        "grid_code": g,
                        "message": f"网格 {g} 不存在",
                        "message_en": f"grid {g} does not exist",
                    }
                )
        for g in cl:
            if g in captains and captains[g] != no:
                errors.append(
                    {
                        "row": row,
                        "error": "two_captains",
                        "grid_code": g,
                        "message": f"网格 {g} 已有网格长 {captains[g]}",
                        "message_en": f"grid {g} already has captain {captains[g]}",
                    }
                )
            captains[g] = no
        u = rec.get("username")
        if u and str(u) not in users:
            errors.append(
                {"row": row, "error": "unknown_user", "message": f"账号 {u} 不存在", "message_en": f"no account {u}"}
            )
    if errors:
        raise Invalid(
            "roster_invalid",
            f"花名册有 {len(errors)} 处错误，未导入",
            f"the roster has {len(errors)} problems; nothing imported",
            errors=errors[:500],
        )
    # The roster is the whole roster: every assignment is replaced, workers left out go off duty.
    session.execute(delete(GridAssignment))
    listed = {str(rec["worker_no"]).strip() for rec in records}
    existing = {w.worker_no: w for w in session.scalars(select(GridWorker))}
    for no, other in existing.items():
        if no not in listed:
            other.on_duty = False
    touched_ids = []
    for rec in records:
        no = str(rec["worker_no"]).strip()
        w = existing.get(no)
        if w is None:
            w = GridWorker(worker_no=no, name="", synthetic=False)
            session.add(w)
        w.name = str(rec["name"]).strip()
        w.phone = str(rec["phone"]).strip() if rec.get("phone") not in (None, "") else None
        w.on_duty = str(rec.get("on_duty", "是")).strip().lower() in _YES if rec.get("on_duty") is not None else True
        w.user_id = users.get(str(rec["username"])) if rec.get("username") else None
        session.flush()
        touched_ids.append(w.id)
        caps = set(_split_codes(rec.get("captain_of")))
        for g in sorted(set(_split_codes(rec.get("grids"))) | caps):
            session.add(GridAssignment(grid_code=g, worker_id=w.id, captain=g in caps))
    session.flush()
    # One captain per grid (already checked in the file; this guards the stored state).
    clash = _captain_clashes(session)
    if clash:
        raise Invalid("two_captains", "有网格出现两名网格长", "some grids would have two captains", grids=clash[:100])
    return {"workers": len(records), "grids_with_captain": len(captains)}


def _captain_clashes(session: Session) -> list[str]:
    from sqlalchemy import func

    q = (
        select(GridAssignment.grid_code)
        .where(GridAssignment.captain.is_(True))
        .group_by(GridAssignment.grid_code)
        .having(func.count() > 1)
    )
    return list(session.scalars(q))


def grid_recipients(session: Session, grid_code: str) -> list[str]:
    """Outbox recipients for a case in a grid: its on-duty workers ("user:ID" when the worker has an account,
    else "grid_worker:ID"), captain first; all of its workers if none is on duty; "grid:CODE" if it has none."""
    rows = session.execute(
        select(GridWorker.id, GridWorker.user_id, GridWorker.on_duty, GridAssignment.captain)
        .join(GridAssignment, GridAssignment.worker_id == GridWorker.id)
        .where(GridAssignment.grid_code == grid_code)
        .order_by(GridAssignment.captain.desc(), GridWorker.id)
    ).all()
    if not rows:
        return [f"grid:{grid_code}"]
    on = [r for r in rows if r.on_duty] or rows
    return [f"user:{r.user_id}" if r.user_id else f"grid_worker:{r.id}" for r in on]


def synth_roster(session: Session) -> int:
    """A synthetic roster (合成): one captain per grid, on duty; phone numbers from the 1990000xxxx test range."""
    codes = list(session.scalars(select(Grid.code).order_by(Grid.code)))
    have = set(session.scalars(select(GridWorker.worker_no)))
    rows = []
    for i, code in enumerate(codes):
        no = f"S{code}"
        if no in have:
            continue
        rows.append(
            {
                "worker_no": no,
                "name": f"网格员{code[-6:]}（合成）",
                "phone": f"1990000{i % 10000:04d}",
                "user_id": None,
                "on_duty": True,
                "synthetic": True,
            }
        )
    for i in range(0, len(rows), 2000):
        session.execute(insert(GridWorker), rows[i : i + 2000])
    ids: dict[str, int] = {
        no: wid
        for no, wid in session.execute(
            select(GridWorker.worker_no, GridWorker.id).where(GridWorker.synthetic.is_(True))
        )
    }
    assigns = [{"grid_code": c, "worker_id": ids[f"S{c}"], "captain": True} for c in codes if f"S{c}" in ids]
    taken = set(session.scalars(select(GridAssignment.grid_code).where(GridAssignment.captain.is_(True))))
    assigns = [a for a in assigns if a["grid_code"] not in taken]
    for i in range(0, len(assigns), 2000):
        session.execute(insert(GridAssignment), assigns[i : i + 2000])
    session.flush()
    return len(rows)
