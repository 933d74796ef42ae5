"""Locating a case: a point or an address → grid, village/community, town/street, county.

This is the interface every intake channel calls. The point path asks the polygon layer when one is
loaded (pingan.geo.locator); the address path matches the division names (a small gazetteer).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.db import database_key
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


_LEVEL_ORDER = {"county": 1, "township": 2, "village": 3, "grid": 4}
_LEVEL_CONFIDENCE = {"county": 0.6, "township": 0.8, "village": 0.9, "grid": 0.95}


def syllables(text: str) -> list[str]:
    """Pinyin syllables, one per Chinese character; other runs of text kept lower-cased."""
    from pypinyin import lazy_pinyin

    return [p.lower() for p in lazy_pinyin(text, errors="default")]


def _pinyin_key(text: str) -> str:
    return " " + " ".join(syllables(text)) + " "


def _ascii_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if "a" <= ch <= "z")


def _by_first_char(names: list[tuple[str, Place]]) -> dict[str, list[tuple[int, str]]]:
    """Positions of the names in `names`, grouped by their first character (to find them in a text fast)."""
    out: dict[str, list[tuple[int, str]]] = {}
    for pos, (n, _) in enumerate(names):
        if n:
            out.setdefault(n[0], []).append((pos, n))
    return out


def _longest_first(
    text: str, names: list[tuple[str, Place]], first: dict[str, list[tuple[int, str]]] | None = None
) -> list[tuple[str, Place]]:
    """Names found in text, longest first; a shorter name counts only where no longer name already matched
    (岳阳楼区 in the text is not also the community 岳阳楼)."""
    first = first if first is not None else _by_first_char(names)
    # Only the names that occur at all, in their order in `names`: a lookup per character of the text
    # instead of a substring search per name.
    present = sorted({pos for i, ch in enumerate(text) for pos, n in first.get(ch, ()) if text.startswith(n, i)})
    taken = [False] * len(text)
    hits: list[tuple[str, Place]] = []
    span_of: dict[str, list[tuple[int, int]]] = {}
    for n, r in (names[pos] for pos in present):  # sorted by length, longest first
        spans = span_of.get(n)
        if spans is None:
            spans = []
            start = text.find(n)
            while start >= 0:
                if not any(taken[start : start + len(n)]):
                    spans.append((start, start + len(n)))
                start = text.find(n, start + 1)
            span_of[n] = spans
            for a, b in spans:
                for i in range(a, b):
                    taken[i] = True
        if spans:
            hits.append((n, r))
    return hits


class Gazetteer:
    """Names (full and short) of every division, aliases and registered places, matched in address text.

    Order of evidence: exact characters, then the same pinyin (homophones: 荣佳湾 → 荣家湾, or rongjiawan typed
    in Latin letters), then fuzzy (rapidfuzz) for near misses. The deepest match that agrees with the other
    names in the text wins; confidence drops for pinyin/fuzzy evidence and for ambiguous names.
    """

    def __init__(self, regions: list[Place], extra: list[tuple[str, str]] | None = None) -> None:
        self.by_code = {r.code: r for r in regions}
        self.names: list[tuple[str, Place]] = []
        for r in regions:
            if r.level == "city":
                continue
            for n in {r.name, short_name(r.name)}:
                if len(n) >= 2:
                    self.names.append((n, r))
        self.extra_names = {name for name, _ in extra or []}
        for name, code in extra or []:
            target = self.by_code.get(code)
            if target is None and len(code) == 15 and code[:12] in self.by_code:
                target = Place(code, name, "grid", code[:12])
                self.by_code[code] = target
            if target is not None and len(name) >= 2:
                self.names.append((name, target))
        self.names.sort(key=lambda nr: -len(nr[0]))
        self._first = _by_first_char(self.names)
        self.full_names = {r.name for r in regions}
        self.pinyin = [(_pinyin_key(n), n, r) for n, r in self.names if len(n) >= 2]
        self.ascii = [(_ascii_key(k), n, r) for k, n, r in self.pinyin]
        self._choices = [n for n, _ in self.names]

    def lineage(self, code: str) -> list[str]:
        out = []
        cur: str | None = code
        while cur and cur in self.by_code:
            out.append(cur)
            cur = self.by_code[cur].parent_code
        return out

    def _hits(self, text: str) -> tuple[list[tuple[str, Place]], float]:
        hits = _longest_first(text, self.names, self._first)
        if hits:
            return hits, 1.0
        letters = _ascii_key(text)
        if letters and len(letters) >= max(4, len(text.replace(" ", "")) // 2):
            # Latin letters: rongjiawan, Rong Jia Wan
            hits = [(n, r) for k, n, r in self.ascii if len(k) >= 6 and k in letters]
            if hits:
                return hits, 0.85
        key = _pinyin_key(text)
        hits = [(n, r) for k, n, r in self.pinyin if len(n) >= 3 and k in key]
        if hits:
            return hits, 0.8
        found = process.extract(text, self._choices, scorer=fuzz.partial_ratio, score_cutoff=80, limit=20)
        hits = [self.names[i] for _, score, i in found if len(self.names[i][0]) >= 3]
        return hits, 0.6

    def match(self, text: str) -> Location | None:
        text = text.strip()
        if not text:
            return None
        hits, evidence = self._hits(text)
        if not hits:
            return None
        best: tuple[float, Place, str] | None = None
        hit_codes = {r.code for _, r in hits}
        for n, r in hits:
            lineage = self.lineage(r.code)
            support = sum(1 for c in lineage[1:] if c in hit_codes)
            full = 1.0 if n == r.name else 0.8
            score = _LEVEL_ORDER.get(r.level, 0) + support * 1.5 + full + len(n) / 20
            if best is None or score > best[0]:
                best = (score, r, n)
        assert best is not None
        _, region, name = best
        lineage = self.lineage(region.code)
        codes = {self.by_code[c].level: c for c in lineage}
        same = {r.code for n, r in hits if n == name}
        confidence = _LEVEL_CONFIDENCE.get(region.level, 0.3) * evidence
        if name not in self.full_names and region.level != "grid" and name not in self.extra_names:
            # A short name (荣家湾 for 荣家湾镇) is weaker evidence; two characters (广场, 新村) much weaker.
            confidence *= 0.5 if len(name) <= 2 else 0.85
        if len(same) > 1:
            confidence *= 0.5
        return Location(
            region_code=region.code,
            county_code=codes.get("county", CITY_CODE),
            town_code=codes.get("township"),
            village_code=codes.get("village"),
            grid_code=region.code if region.level == "grid" else None,
            level=region.level,
            confidence=round(confidence, 2),
            matched=name,
        )

    def search(self, q: str, limit: int = 20) -> list[tuple[Place, str, float]]:
        """Divisions whose name, pinyin, initials or a near spelling matches q; best first."""
        q = q.strip()
        if not q:
            return []
        scored: dict[str, tuple[Place, str, float]] = {}

        def add(r: Place, how: str, score: float) -> None:
            if r.code not in scored or scored[r.code][2] < score:
                scored[r.code] = (r, how, score)

        letters = _ascii_key(q)
        for n, r in self.names:
            if n == q or r.name == q:
                add(r, "name", 100.0)
            elif n.startswith(q) or q in n:
                add(r, "name", 90.0 - (len(n) - len(q)))
        if letters and letters == q.lower().replace(" ", ""):
            for k, _n, r in self.ascii:
                if k == letters:
                    add(r, "pinyin", 95.0)
                elif k.startswith(letters):
                    add(r, "pinyin", 85.0)
            initials = {n: "".join(s[0] for s in k.split()) for k, n, _ in self.pinyin}
            for n, r in self.names:
                if len(letters) >= 2 and initials.get(n) == letters:
                    add(r, "initials", 80.0)
        if len(scored) < limit:
            key = _pinyin_key(q)
            for k, n, r in self.pinyin:
                if len(n) >= 2 and key.strip() and (k == key or key in k):
                    add(r, "pinyin", 80.0)
        if len(scored) < limit:
            for _, score, i in process.extract(q, self._choices, scorer=fuzz.WRatio, score_cutoff=70, limit=limit):
                n, r = self.names[i]
                add(r, "fuzzy", float(score) * 0.75)
        out = sorted(scored.values(), key=lambda t: (-t[2], t[0].code))
        return out[:limit]


_lock = threading.Lock()
_gazetteers: dict[str, tuple[int, Gazetteer]] = {}


def gazetteer(session: Session) -> Gazetteer:
    """The gazetteer of this database, cached per process; rebuilt when the registered places change
    (their `geo_layer_state` row "places" carries a version, as the grid layer's does)."""
    from pingan.geo.models import GeoPlace

    key = database_key(session)
    from pingan.geo.locator import layer_version

    version = layer_version(session, "places")
    with _lock:
        hit = _gazetteers.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    rows = session.execute(select(Region.code, Region.name, Region.level, Region.parent_code)).all()
    n_regions = len(rows)
    extra = [(p.name, p.region_code) for p in session.scalars(select(GeoPlace))]
    g = Gazetteer([Place(*row) for row in rows], extra)
    if n_regions:  # never cache the gazetteer of an empty database
        with _lock:
            _gazetteers[key] = (version, g)
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
            if found.level == "grid" or not address:
                return found
            # Only the county is known from the point: an address inside that county may say more.
            m = gazetteer(session).match(address)
            if m is not None and m.county_code == found.county_code and m.level != "county":
                return m
            return found
    if address:
        m = gazetteer(session).match(address)
        if m is not None:
            return m
    return city_location()
