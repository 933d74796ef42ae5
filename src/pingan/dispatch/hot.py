"""热点 (hot issues): clusters of similar matters in one area and period, ranked by a heat index.

Two matters are linked when their texts are similar (cosine of the duplicate finder's TF-IDF bigram vectors
≥ `hot.similarity`), they are at most `hot.max_gap_days` apart, and they are in one area (both located: within
`hot.area_radius_m`; otherwise the same town/street, or the same county when that is all that is known). A
cluster is a connected group of linked matters of at least `hot.min_size`. Its heat (0–100, docs/hot-issues.md):

    heat = 100 · Σ_k weight_k · min(1, ln(1 + x_k) / ln(1 + ref_k))

over k ∈ {count: matters, people: distinct reporters, spread: distinct days, support: Σ点赞 − oppose_factor·Σ反对}.
`clusters_from_cases` reads cases from the database; `evaluate_messages` runs on data/messages/messages_likes.csv.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from scipy import sparse
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pingan.cases.actors import CITY_CODE, Actor
from pingan.cases.models import Case
from pingan.cases.queries import scoped
from pingan.config import DATA_DIR
from pingan.dispatch.dup_policies import DuplicatesPolicy, HotSettings
from pingan.dispatch.duplicates import TextModel, haversine_m, policy, text_model
from pingan.errors import Invalid
from pingan.geo.models import Region
from pingan.timeutil import as_utc, utcnow

MAX_CASES = 50_000


@dataclass
class Matter:
    key: str
    title: str
    content: str
    at: datetime
    person: str
    likes: int = 0
    opposes: int = 0
    lat: float | None = None
    lon: float | None = None
    area: str | None = None


@dataclass
class Cluster:
    heat: float
    components: dict[str, float]
    label: str
    keywords: list[str]
    size: int
    people: int
    days: int
    support: float
    likes: int
    opposes: int
    first_at: datetime
    last_at: datetime
    area: str | None
    members: list[str] = field(default_factory=list)

    def to_json(self, area_names: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "heat": round(self.heat, 2),
            "components": {k: round(v, 4) for k, v in self.components.items()},
            "label": self.label,
            "keywords": self.keywords,
            "size": self.size,
            "people": self.people,
            "days": self.days,
            "support": round(self.support, 1),
            "likes": self.likes,
            "opposes": self.opposes,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "area": self.area,
            "area_name": (area_names or {}).get(self.area or "", None),
            "members": self.members,
        }


def heat(size: int, people: int, days: int, support: float, pol: HotSettings) -> tuple[float, dict[str, float]]:
    """The heat index (0–100) and its four components (each 0–1)."""

    def part(x: float, ref: float) -> float:
        return min(1.0, math.log1p(max(x, 0.0)) / math.log1p(ref))

    comp = {
        "count": part(size, pol.refs.count),
        "people": part(people, pol.refs.people),
        "spread": part(days, pol.refs.spread),
        "support": part(support, pol.refs.support),
    }
    w = pol.weights
    total = (
        w.count * comp["count"] + w.people * comp["people"] + w.spread * comp["spread"] + w.support * comp["support"]
    )
    return 100.0 * total, comp


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _matrix(model: TextModel, matters: Sequence[Matter]) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for i, (c, w) in enumerate(model.vectors([(m.title, m.content) for m in matters], remember=False)):
        rows.append(np.full(len(c), i, dtype=np.int32))
        cols.append(c)
        vals.append(w)
    if not matters:
        return sparse.csr_matrix((0, len(model.idf)), dtype=np.float32)
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(matters), len(model.idf)),
        dtype=np.float32,
    )


def _linked(a: Matter, b: Matter, pol: HotSettings) -> bool:
    if abs((a.at - b.at).total_seconds()) > pol.max_gap_days * 86400:
        return False
    if a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None:
        d = float(haversine_m(a.lat, a.lon, np.array([b.lat]), np.array([b.lon]))[0])
        return d <= pol.area_radius_m
    if a.area and b.area:
        return a.area == b.area or a.area.startswith(b.area) or b.area.startswith(a.area)
    return True


def cluster(matters: Sequence[Matter], pol: HotSettings | None = None, model: TextModel | None = None) -> list[Cluster]:
    """Clusters of at least `min_size` linked matters, hottest first."""
    full = policy()
    pol = pol or full.hot
    model = model or text_model(full.text)
    n = len(matters)
    if n < pol.min_size:
        return []
    x = _matrix(model, matters)
    sim = (x @ x.T).tocoo()
    keep = (sim.row < sim.col) & (sim.data >= pol.similarity)
    rows, cols, vals = sim.row[keep], sim.col[keep], sim.data[keep]
    order = np.argsort(-vals, kind="stable")  # most similar pairs first
    uf = _Union(n)
    # A cluster never spans two different known areas (a matter without one may join either, not bridge them).
    area: dict[int, str | None] = {i: m.area for i, m in enumerate(matters)}
    for i, j in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        ri, rj = uf.find(i), uf.find(j)
        if ri == rj or not _linked(matters[i], matters[j], pol):
            continue
        a, b = area[ri], area[rj]
        if a and b and not (a.startswith(b) or b.startswith(a)):
            continue
        uf.union(ri, rj)
        area[uf.find(ri)] = max(a or "", b or "", key=len) or None
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(uf.find(i), []).append(i)
    out = []
    xs = x.tocsr()
    for members in groups.values():
        if len(members) >= pol.min_size:
            out.append(_describe(members, matters, xs, model, pol))
    out.sort(key=lambda c: (-c.heat, -c.size, c.first_at))
    return out


def _describe(
    members: list[int], matters: Sequence[Matter], x: sparse.csr_matrix, model: TextModel, pol: HotSettings
) -> Cluster:
    ms = [matters[i] for i in members]
    sub = x[members]
    centroid = np.asarray(sub.mean(axis=0)).ravel()
    medoid = members[int(np.argmax(sub @ centroid))]
    # columns that at least half of the members share
    counts = np.bincount(sub.indices, minlength=x.shape[1])
    shared = {int(c) for c in np.nonzero(counts * 2 >= len(members))[0]}
    m = matters[medoid]
    people = len({mm.person for mm in ms})
    days = len({as_utc(mm.at).date() for mm in ms})
    likes = sum(mm.likes for mm in ms)
    opposes = sum(mm.opposes for mm in ms)
    support = max(0.0, likes - pol.oppose_factor * opposes)
    h, comp = heat(len(ms), people, days, support, pol)
    areas = Counter(mm.area for mm in ms if mm.area)
    ordered = sorted(ms, key=lambda mm: (-mm.likes, mm.at))
    return Cluster(
        heat=h,
        components=comp,
        label=m.title,
        keywords=model.shared_phrases(m.title, m.content, shared, n=5),
        size=len(ms),
        people=people,
        days=days,
        support=support,
        likes=likes,
        opposes=opposes,
        first_at=min(mm.at for mm in ms),
        last_at=max(mm.at for mm in ms),
        area=areas.most_common(1)[0][0] if areas else None,
        members=[mm.key for mm in ordered],
    )


# ---------------------------------------------------------------------------------------------- from the database


def _region_filter(region: str) -> Any:
    if len(region) == 6:
        return Case.county_code == region
    if len(region) == 9:
        return Case.town_code == region
    if len(region) == 12:
        return Case.village_code == region
    return Case.grid_code == region


def _support(extra: dict[str, Any] | None, *names: str) -> int:
    for n in names:
        v = (extra or {}).get(n)
        if isinstance(v, int | float) and v >= 0:
            return int(v)
    return 0


def clusters_from_cases(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    region: str | None = None,
    actor: Actor | None = None,
    pol: DuplicatesPolicy | None = None,
) -> dict[str, Any]:
    """Hot issues among the cases received in [since, until) (default: the last `period_days`), in `region`."""
    pol = pol or policy()
    until = as_utc(until) if until else utcnow()
    since = as_utc(since) if since else until - timedelta(days=pol.hot.period_days)
    if since >= until:
        raise Invalid("period_invalid", "起始时间须早于结束时间", "since must be before until")
    if (until - since).days > 366:
        raise Invalid("period_too_long", "统计区间最长一年", "the period may be at most one year")
    if region and actor is not None and actor.region_code != CITY_CODE and not region.startswith(actor.region_code):
        raise Invalid(
            "region_outside_scope", "所选区域超出您的管辖范围", "the region is outside your jurisdiction", region=region
        )
    q = cast(
        "Select[Any]",
        select(
            Case.id,
            Case.tracking_code,
            Case.title,
            Case.content,
            Case.received_at,
            Case.caller_phone,
            Case.reporter_id,
            Case.lat,
            Case.lon,
            Case.town_code,
            Case.county_code,
            Case.extra,
        ),
    ).where(Case.received_at >= since, Case.received_at < until)
    if region:
        q = q.where(_region_filter(region))
    if actor is not None:
        q = scoped(q, actor)
    rows = session.execute(q.order_by(Case.received_at.desc()).limit(MAX_CASES + 1)).all()
    truncated = len(rows) > MAX_CASES
    rows = rows[:MAX_CASES]
    codes: dict[str, str] = {}
    matters = []
    for r in rows:
        codes[str(r.id)] = r.tracking_code
        matters.append(
            Matter(
                key=str(r.id),
                title=r.title,
                content=r.content,
                at=r.received_at,
                person=r.caller_phone or (f"user:{r.reporter_id}" if r.reporter_id else f"case:{r.id}"),
                likes=_support(r.extra, "likes", "点赞数"),
                opposes=_support(r.extra, "opposes", "反对数"),
                lat=r.lat,
                lon=r.lon,
                area=r.town_code or r.county_code,
            )
        )
    # Block by county: matters of different counties are never "one area", and blocks keep the products small.
    blocks: dict[str, list[Matter]] = {}
    for m in matters:
        blocks.setdefault((m.area or "")[:6], []).append(m)
    found: list[Cluster] = []
    for block in blocks.values():
        found.extend(cluster(block, pol.hot))
    found.sort(key=lambda c: (-c.heat, -c.size, c.first_at))
    found = found[: pol.hot.top]
    area_codes = {c.area for c in found if c.area}
    names = (
        {
            str(r[0]): str(r[1])
            for r in session.execute(select(Region.code, Region.name).where(Region.code.in_(area_codes)))
        }
        if area_codes
        else {}
    )
    items = []
    for rank, c in enumerate(found, 1):
        item = c.to_json(names)
        item["rank"] = rank
        item["members"] = [{"case_id": int(k), "tracking_code": codes[k]} for k in c.members[:50]]
        items.append(item)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "region": region,
        "cases": len(matters),
        "truncated": truncated,
        "formula": "heat = 100 · Σ weight · min(1, ln(1+x)/ln(1+ref)); x ∈ count, people, spread(days), support",
        "weights": pol.hot.weights.model_dump(),
        "refs": pol.hot.refs.model_dump(),
        "items": items,
    }


# ------------------------------------------------------------------------------------------ messages_likes.csv


def parse_message_time(text: str) -> datetime:
    """'2019/2/28 11:25:05' or '2019-08-01 00:00:00' (China Standard Time) → aware UTC."""
    return as_utc(datetime.strptime(text.strip().replace("-", "/"), "%Y/%m/%d %H:%M:%S"))


_MASKED_AREA = re.compile(r"[A-Z]\d+[区县市]")


def masked_area(subject: str, detail: str) -> str | None:
    """The county-level place a message names first ("A5区", "A7县"), subject before detail; None for none."""
    for text in (subject, detail):
        m = _MASKED_AREA.search(text)
        if m:
            return m.group(0)
    return None


def read_likes(path: Path | None = None) -> list[Matter]:
    """The rows of messages_likes.csv as matters: no coordinates; the area is the masked county the text names."""
    path = path or DATA_DIR / "messages" / "messages_likes.csv"
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            at = parse_message_time(row["留言时间"])
            out.append(
                Matter(
                    key=row["留言编号"],
                    title=row["留言主题"],
                    content=row["留言详情"],
                    at=at,
                    person=row["留言用户"],
                    likes=int(row["点赞数"] or 0),
                    opposes=int(row["反对数"] or 0),
                    area=masked_area(row["留言主题"], row["留言详情"]),
                )
            )
    return out


def evaluate_messages(path: Path | None = None, pol: HotSettings | None = None) -> list[Cluster]:
    return cluster(read_likes(path), pol)
