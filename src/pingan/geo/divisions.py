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
    return len(rows)


def counties(session: Session) -> dict[str, str]:
    return {
        r.code: r.name for r in session.scalars(select(Region).where(Region.level == "county").order_by(Region.code))
    }
