"""Locating a case: a point or an address → grid, village/community, town/street, county.

This is the interface every intake channel calls. The point path asks the polygon layer when one is
loaded (pingan.geo.locator); the address path matches the division names (a small gazetteer).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.geo.models import Region

CITY_CODE = "430600"
_SUFFIXES = (
    "街道办事处",
    "街道",
    "社区居委会",
    "居委会",
    "社区",
    "村委会",
    "村",
    "镇",
    "乡",
    "区",
    "县",
    "市",
    "管理区",
    "农场",
)


@dataclass(frozen=True)
class Location:
    region_code: str
    county_code: str
    town_code: str | None = None
    village_code: str | None = None
    grid_code: str | None = None
    level: str = "city"  # city / county / township / village / grid
    confidence: float = 0.0
    matched: str = ""


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: str
    parent_code: str | None


def city_location() -> Location:
    return Location(region_code=CITY_CODE, county_code=CITY_CODE, level="city", confidence=0.0)


def short_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


class Gazetteer:
    """Names (full and short) of every division, matched in address text, deepest consistent match wins."""

    def __init__(self, regions: list[Place]) -> None:
        self.by_code = {r.code: r for r in regions}
        self.names: list[tuple[str, Place]] = []
        for r in regions:
            if r.level == "city":
                continue
            for n in {r.name, short_name(r.name)}:
                if len(n) >= 2:
                    self.names.append((n, r))
        self.names.sort(key=lambda nr: -len(nr[0]))

    def lineage(self, code: str) -> list[str]:
        out = []
        cur: str | None = code
        while cur and cur in self.by_code:
            out.append(cur)
            cur = self.by_code[cur].parent_code
        return out

    def match(self, text: str) -> Location | None:
        hits = [(n, r) for n, r in self.names if n in text]
        if not hits:
            return None
        order = {"county": 1, "township": 2, "village": 3}
        # Prefer deep matches that agree with a shallower match in the same text (荣家湾镇 in 岳阳县).
        best: tuple[float, Place, str] | None = None
        hit_codes = {r.code for _, r in hits}
        for n, r in hits:
            lineage = self.lineage(r.code)
            support = sum(1 for c in lineage[1:] if c in hit_codes)
            full = 1.0 if n == r.name else 0.8
            score = order.get(r.level, 0) + support * 1.5 + full + len(n) / 20
            if best is None or score > best[0]:
                best = (score, r, n)
        assert best is not None
        _, region, name = best
        lineage = self.lineage(region.code)
        codes = {self.by_code[c].level: c for c in lineage}
        ambiguous = sum(1 for n, r in hits if n == name) > 1
        confidence = {"county": 0.6, "township": 0.8, "village": 0.9}.get(region.level, 0.3)
        if ambiguous:
            confidence *= 0.5
        return Location(
            region_code=region.code,
            county_code=codes.get("county", CITY_CODE),
            town_code=codes.get("township"),
            village_code=codes.get("village"),
            level=region.level,
            confidence=round(confidence, 2),
            matched=name,
        )


_lock = threading.Lock()
_gazetteers: dict[str, Gazetteer] = {}


def gazetteer(session: Session) -> Gazetteer:
    key = str(session.get_bind().engine.url)
    with _lock:
        g = _gazetteers.get(key)
        if g is None:
            rows = session.execute(select(Region.code, Region.name, Region.level, Region.parent_code))
            g = Gazetteer([Place(*row) for row in rows])
            _gazetteers[key] = g
        return g


def reset_cache() -> None:
    with _lock:
        _gazetteers.clear()


def locate(session: Session, lon: float | None, lat: float | None, address: str | None) -> Location:
    """Best location for a case. Points need the polygon layer; without it, the address decides."""
    if lon is not None and lat is not None:
        from pingan.geo import locator

        found = locator.locate_point(session, lon, lat)
        if found is not None:
            return found
    if address:
        m = gazetteer(session).match(address)
        if m is not None:
            return m
    return city_location()
