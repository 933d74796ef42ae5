"""Loading the real divisions of Yueyang (data/yueyang/yueyang_admin_divisions.csv, NBS 2023 codes)."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.config import DATA_DIR
from pingan.geo.models import Region

DIVISIONS_CSV = DATA_DIR / "yueyang" / "yueyang_admin_divisions.csv"


def read_divisions(path: Path = DIVISIONS_CSV) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_divisions(session: Session, path: Path = DIVISIONS_CSV) -> int:
    """Insert the divisions that are missing. Returns how many were added."""
    have = set(session.scalars(select(Region.code)))
    rows = [r for r in read_divisions(path) if r["code"] not in have]
    session.add_all(
        Region(
            code=r["code"],
            name=r["name"],
            level=r["level"],
            parent_code=r["parent_code"] or None,
            subtype=r["subtype"] or "",
        )
        for r in rows
    )
    session.flush()
    load_county_shapes(session)
    if rows:
        from pingan.geo.locate import reset_cache

        reset_cache()
    return len(rows)


def counties(session: Session) -> dict[str, str]:
    return {
        r.code: r.name for r in session.scalars(select(Region).where(Region.level == "county").order_by(Region.code))
    }


def load_county_shapes(session: Session) -> int:
    """The shipped county polygons (GCJ-02 → WGS-84) for the counties that have none yet."""
    from pingan.geo.models import RegionShape
    from pingan.geo.shapes import COUNTY_SOURCE, shipped_counties, to_wkb

    have = set(session.scalars(select(RegionShape.code).where(RegionShape.level == "county")))
    added = 0
    for code, geom in shipped_counties().items():
        if code not in have:
            session.add(
                RegionShape(code=code, level="county", geom=to_wkb(geom), synthetic=False, source=COUNTY_SOURCE)
            )
            added += 1
    session.flush()
    if added:
        from pingan.geo import locator

        locator.invalidate()
    return added


def get_region(session: Session, code: str) -> Region:
    from pingan.errors import NotFound

    r = session.get(Region, code)
    if r is None:
        raise NotFound("region_not_found", f"没有区划 {code}", f"no region {code}")
    return r


def ancestors(session: Session, code: str) -> list[Region]:
    """The region's parents up to the city, city first (the region itself not included)."""
    out: list[Region] = []
    cur = get_region(session, code).parent_code
    while cur:
        r = session.get(Region, cur)
        if r is None:
            break
        out.append(r)
        cur = r.parent_code
    return list(reversed(out))


def children(session: Session, code: str) -> list[Region]:
    get_region(session, code)
    return list(session.scalars(select(Region).where(Region.parent_code == code).order_by(Region.code)))


def descendants(session: Session, code: str, level: str | None = None) -> list[Region]:
    """Every region below code (breadth first by level, then by code), optionally of one level."""
    get_region(session, code)
    out: list[Region] = []
    frontier = [code]
    while frontier:
        rows = list(session.scalars(select(Region).where(Region.parent_code.in_(frontier)).order_by(Region.code)))
        out.extend(rows)
        frontier = [r.code for r in rows]
    if level:
        out = [r for r in out if r.level == level]
    return out


def counts(session: Session, code: str | None = None) -> dict[str, dict[str, int]]:
    """Counts by level and by subtype (村/社区/farm units, 街道/镇/乡) of the regions under code (or all)."""
    regions = descendants(session, code) if code else list(session.scalars(select(Region)))
    by_level: dict[str, int] = {}
    by_subtype: dict[str, int] = {}
    for r in regions:
        by_level[r.level] = by_level.get(r.level, 0) + 1
        if r.subtype:
            key = f"{r.level}:{r.subtype}"
            by_subtype[key] = by_subtype.get(key, 0) + 1
    return {"by_level": by_level, "by_subtype": by_subtype}
