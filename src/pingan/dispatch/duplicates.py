"""并案候选: open cases that look like the same matter as a new one — near in space and time, similar in text.

`candidates()` answers in about a millisecond against 100,000 open cases (bench/duplicates.py) from an index
kept in each process:

* **text**: a matter is its title (counted twice) and the first `text_chars` characters of its content, cut into
  character bigrams, weighted by TF-IDF (document frequencies from the shipped messages in data/messages) and
  reduced to its `top_terms` heaviest bigrams; similarity is the cosine of two such vectors. Bigrams the messages
  never contain (real place names, new words) are hashed into extra columns with the highest IDF.
* **space**: cases with coordinates sit in square cells of `cell_m` metres; a query reads the cells that cover
  its radius and measures exact (haversine) distances. Cases without coordinates are found through their
  town/street (or county when that is all that is known), with a stricter text threshold.
* **time**: only cases received at most `days` before or after the new matter.

Keeping current without scanning: every call reads the case ids and the timeline events above the highest ones
the index has seen (minus a small look-back for transactions that commit out of order, and the ids it read past
while they were not there yet: another process's batch took them first and commits last). New cases from any
process appear at once; every status change appends an event, so cases that were closed, merged, rejected or
transferred leave the index and reopened ones come back at once. The few best candidates are also re-read from
the database before they are returned. A case taken in through intake carries the vector computed for it
(`Case.dup_vector`), so that other processes' indexes read it instead of computing it again. Every
`resync_seconds` (default an hour) the index re-reads the ids of all open cases: a safety net for rows changed
outside the case service. If the row behind the highest id changed (a rebuilt database) the index is rebuilt.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
from scipy import sparse
from sqlalchemy import and_, bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from pingan.cases import lifecycle
from pingan.cases.actors import Actor
from pingan.cases.models import Case, CaseEvent
from pingan.config import DATA_DIR
from pingan.db import database_key
from pingan.dispatch.dup_policies import DuplicatesPolicy, TextSettings
from pingan.policy import registry
from pingan.timeutil import as_utc

M_PER_DEG = 111_320.0
EARTH_R = 6_371_008.8
HASH_BUCKETS = 1 << 16
REFRESH_BATCH = 5000  # rows read per call at most; the next call goes on from there
MISSING_GRACE_S = 10.0  # how long our highest id may stay invisible (an open transaction) before a rebuild
RECENT_IDS = 4096  # how many of the highest case ids' codes an index remembers
LOOKBACK_IDS = 16  # ids/events re-read each call: transactions that commit out of order within this many
# Case ids the index read past without seeing (a transaction that took them still open, e.g. another process's
# batch) are read again until they appear, for this long and while this close to the highest id.
GAP_WAIT_S = 120.0
GAP_SPAN = REFRESH_BATCH // 2
OPEN_STATES = sorted(s.value for s in lifecycle.OPEN)
log = logging.getLogger("pingan.dispatch.duplicates")

_RUNS = re.compile(r"[0-9a-z\u4e00-\u9fff]+")


def policy() -> DuplicatesPolicy:
    return registry.load("duplicates", DuplicatesPolicy)


# --------------------------------------------------------------------------------------------------- text model


def _runs(text: str, stop_terms: Sequence[str]) -> list[str]:
    t = unicodedata.normalize("NFKC", text).lower()
    for s in stop_terms:
        if s in t:
            t = t.replace(s, " ")
    return _RUNS.findall(t)


def _codes(runs: Sequence[str]) -> np.ndarray:
    """Every character bigram inside the runs as one int64: (first code point << 21) | second."""
    if not runs:
        return np.zeros(0, dtype=np.int64)
    # runs joined by NUL; pairs that touch a NUL are dropped
    chars = np.frombuffer("\0".join(runs).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    if len(chars) < 2:
        return np.zeros(0, dtype=np.int64)
    a, b = chars[:-1], chars[1:]
    return ((a << 21) | b)[(a != 0) & (b != 0)]


def bigram_code(bigram: str) -> int:
    return (ord(bigram[0]) << 21) | ord(bigram[1])


def message_corpus(data_dir: Path | None = None) -> list[tuple[str, str]]:
    """(subject, detail) of every shipped message (the IDF corpus), de-duplicated by message id."""
    base = (data_dir or DATA_DIR) / "messages"
    seen: set[str] = set()
    docs: list[tuple[str, str]] = []
    for name in (
        "messages_detail_label.csv",
        "messages_fullrows.csv",
        "messages_likes.csv",
        "messages_replies.csv",
        "messages_subject_label.csv",
    ):
        path = base / name
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                key = row.get("留言编号") or ""
                if key:
                    if key in seen:
                        continue
                    seen.add(key)
                docs.append((row.get("留言主题") or "", row.get("留言详情") or ""))
    return docs


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (it is cached)
class TextModel:
    """Character-bigram TF-IDF with a fixed vocabulary (from the messages) plus hashed columns."""

    vocab: np.ndarray  # sorted int64 bigram codes; a code's column is its position
    idf: np.ndarray  # float32, len(vocab) + HASH_BUCKETS + 1 (the last column is always zero: padding)
    stop_terms: tuple[str, ...]
    text_chars: int
    top_terms: int

    @property
    def pad(self) -> int:
        return len(self.idf) - 1

    def cols_of(self, codes: np.ndarray) -> np.ndarray:
        """Columns of bigram codes: the vocabulary's, or a hashed column for a bigram it does not have."""
        n = len(self.vocab)
        if n == 0:
            pos = np.zeros(len(codes), dtype=np.int64)
            known = np.zeros(len(codes), dtype=bool)
        else:
            pos = np.minimum(np.searchsorted(self.vocab, codes), n - 1)
            known = self.vocab[pos] == codes
        hashed = n + (((codes * 0x9E3779B1) >> 16) & (HASH_BUCKETS - 1))
        return np.where(known, pos, hashed).astype(np.int32)

    def col(self, bigram: str) -> int:
        return int(self.cols_of(np.array([bigram_code(bigram)], dtype=np.int64))[0])

    def text_of(self, title: str, content: str) -> str:
        return f"{title} {title} {(content or '')[: self.text_chars]}"

    def vector(self, title: str, content: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns int32, weights float32): the `top_terms` heaviest bigrams (ties: the lower column), L2-
        normalised, sorted by column. Read-only arrays, remembered for the last texts: intake asks for a new
        case's vector several times (to search with it, and to add the case to the index)."""
        return self.vectors([(title, content)])[0]

    def vectors(self, texts: Sequence[tuple[str, str]], remember: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
        """`vector` of many (title, content) pairs; the ones not remembered are computed together (numpy's
        fixed cost per call paid once for the batch). `remember=False`: a bulk read (hot issues, the reply
        index) that should not push the intake's texts out."""
        if not remember:
            out: list[tuple[np.ndarray, np.ndarray]] = []
            for k in range(0, len(texts), BULK_VECTORS):
                out += self._vectors(texts[k : k + BULK_VECTORS])
            return out
        with _RECENT_LOCK:
            known = [_RECENT.get((self, t, c)) for t, c in texts]
        todo = sorted({texts[i] for i, v in enumerate(known) if v is None})
        if todo:
            made = dict(zip(todo, self._vectors(todo), strict=True))
            with _RECENT_LOCK:
                for (t, c), vec in made.items():
                    _RECENT[(self, t, c)] = vec
                while len(_RECENT) > RECENT_VECTORS:
                    del _RECENT[next(iter(_RECENT))]
            known = [v if v is not None else made[texts[i]] for i, v in enumerate(known)]
        return cast(list[tuple[np.ndarray, np.ndarray]], known)

    def _vectors(self, texts: Sequence[tuple[str, str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        runs = ["\0".join(_runs(self.text_of(t, c), self.stop_terms)) for t, c in texts]
        # the texts end to end, NUL between them: pairs that touch a NUL are dropped
        chars = np.frombuffer("\0".join(runs).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        lengths = np.fromiter(map(len, runs), dtype=np.int64, count=len(runs))
        row_of = np.repeat(np.arange(len(runs), dtype=np.int64), lengths + 1)
        a, b = chars[:-1], chars[1:]
        ok = np.flatnonzero((a != 0) & (b != 0))
        width = len(self.idf)
        keys, tf = np.unique(row_of[ok] * width + self.cols_of(((a << 21) | b)[ok]), return_counts=True)
        rows, cols = keys // width, keys % width
        w = (1.0 + np.log(tf.astype(np.float32))) * self.idf[cols]
        # each row's `top_terms` heaviest (by row, then weight, then column), kept in column order
        order = np.lexsort((cols, -w, rows))
        starts = np.searchsorted(rows, rows[order])
        keep = np.zeros(len(keys), dtype=bool)
        keep[order[np.arange(len(order)) - starts < self.top_terms]] = True
        rows, cols, w = rows[keep], cols[keep].astype(np.int32), w[keep]
        norms = np.sqrt(np.bincount(rows, weights=w.astype(np.float64) ** 2))
        w = (w / np.where(norms > 0, norms, 1.0)[rows]).astype(np.float32)
        cols.setflags(write=False)
        w.setflags(write=False)
        bounds = np.searchsorted(rows, np.arange(len(runs) + 1)).tolist()
        return [(cols[i:j], w[i:j]) for i, j in zip(bounds[:-1], bounds[1:], strict=True)]

    @cached_property
    def tag(self) -> bytes:
        """8 bytes naming this model (vocabulary, weights, settings): a stored vector is used only by the model
        that made it."""
        h = hashlib.blake2b(digest_size=8)
        for part in (self.vocab, self.idf):
            h.update(np.ascontiguousarray(part).tobytes())
        h.update(repr((self.stop_terms, self.text_chars, self.top_terms)).encode())
        return h.digest()

    def pack(self, vec: tuple[np.ndarray, np.ndarray]) -> bytes:
        """A vector as stored with its case (`Case.dup_vector`): the tag, the columns, the weights."""
        return self.tag + vec[0].astype("<i4").tobytes() + vec[1].astype("<f4").tobytes()

    def unpack(self, blob: bytes | None) -> tuple[np.ndarray, np.ndarray] | None:
        """A stored vector, or None when there is none or another model (or nothing sound) made it."""
        if not blob or len(blob) < 8 or bytes(blob[:8]) != self.tag or (len(blob) - 8) % 8:
            return None
        n = (len(blob) - 8) // 8
        cols = np.frombuffer(blob, dtype="<i4", count=n, offset=8).astype(np.int32)
        w = np.frombuffer(blob, dtype="<f4", count=n, offset=8 + 4 * n).astype(np.float32)
        if n > self.top_terms or (n and (int(cols.min()) < 0 or int(cols.max()) >= self.pad)):
            return None
        return cols, w

    def padded(
        self, title: str, content: str, vec: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The vector (computed unless given) padded to `top_terms` columns, as the index keeps it."""
        cols, w = vec if vec is not None else self.vector(title, content)
        pc = np.full(self.top_terms, self.pad, dtype=np.int32)
        pw = np.zeros(self.top_terms, dtype=np.float32)
        pc[: len(cols)] = cols
        pw[: len(w)] = w
        return pc, pw

    def cosine(self, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
        _, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
        return float(np.dot(a[1][ia], b[1][ib]))

    def bigrams(self, title: str, content: str) -> QueryBigrams:
        """The text's runs joined by NUL, with the column of the bigram starting at each position (computed
        once per query, then matched against each candidate)."""
        joined = "\0".join(r for r in _runs(self.text_of(title, content), self.stop_terms) if len(r) >= 2)
        chars = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        if len(chars) < 2:
            return QueryBigrams(joined, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        a, b = chars[:-1], chars[1:]
        cols = np.where((a != 0) & (b != 0), self.cols_of((a << 21) | b), -1).astype(np.int32)
        return QueryBigrams(joined, cols, self.idf[cols])

    def shared_phrases(
        self,
        title: str,
        content: str,
        other_cols: Collection[int] | np.ndarray,  # never −1
        n: int = 3,
        longest: int = 12,
        query: QueryBigrams | None = None,
        presorted: bool = False,
    ) -> list[str]:
        """Longest runs of the query's text (≤ `longest` characters) whose bigrams the other matter also has.
        `presorted`: other_cols is an ascending array already (an index row: its padding sorts last and matches
        no bigram)."""
        q = query if query is not None else self.bigrams(title, content)
        if isinstance(other_cols, np.ndarray):
            other = other_cols if presorted else np.sort(other_cols)
        else:
            other = np.sort(np.fromiter(other_cols, dtype=np.int64))
        if not len(other) or not len(q.cols):
            return []
        shared = np.zeros(len(q.cols) + 2, dtype=bool)
        shared[1:-1] = other[np.minimum(np.searchsorted(other, q.cols), len(other) - 1)] == q.cols
        edges = np.flatnonzero(shared[1:] != shared[:-1])
        found: dict[str, float] = {}
        total = q.idf_sums
        for start, end in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            i = start  # bigrams start..end-1 are shared: phrases of at most longest - 1 bigrams each
            while i < end:
                j = min(end, i + longest - 1)
                phrase = q.text[i : j + 1]
                weight = round(total[j] - total[i], 6)  # equal phrases tie exactly, as before
                found[phrase] = max(found.get(phrase, 0.0), weight)
                i = j
        best = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
        out: list[str] = []
        for phrase, _ in best:
            if not any(phrase in o for o in out):
                out.append(phrase)
            if len(out) == n:
                break
        return out


@dataclass(frozen=True)
class QueryBigrams:
    text: str  # the runs of ≥ 2 characters joined by NUL
    cols: np.ndarray  # int32: column of the bigram text[i : i + 2], −1 where it touches a NUL
    idf: np.ndarray  # float32: the idf of those columns

    @cached_property
    def idf_sums(self) -> list[float]:
        """idf_sums[j] − idf_sums[i]: the weight of bigrams i…j−1 (a phrase), without a numpy call per phrase."""
        return [0.0, *np.cumsum(self.idf, dtype=np.float64).tolist()]


RECENT_VECTORS = 2048  # vectors remembered per process (an intake batch is at most 500 matters)
BULK_VECTORS = 2000  # texts computed together in a bulk read (bounded memory)
_RECENT: dict[tuple[TextModel, str, str], tuple[np.ndarray, np.ndarray]] = {}
_RECENT_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _build_model(stop_terms: tuple[str, ...], text_chars: int, top_terms: int, data_dir: str) -> TextModel:
    docs = message_corpus(Path(data_dir))
    empty = TextModel(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.float32), stop_terms, text_chars, top_terms)
    per_doc = [np.unique(_codes(_runs(empty.text_of(s, d), stop_terms))) for s, d in docs]
    vocab, df = np.unique(np.concatenate(per_doc) if per_doc else np.zeros(0, dtype=np.int64), return_counts=True)
    n = len(docs)
    idf = np.empty(len(vocab) + HASH_BUCKETS + 1, dtype=np.float32)
    idf[: len(vocab)] = np.log((1 + n) / (1 + df)) + 1.0
    idf[len(vocab) :] = math.log(1 + n) + 1.0  # unseen bigrams: as rare as can be
    idf[-1] = 0.0
    return TextModel(vocab.astype(np.int64), idf, stop_terms, text_chars, top_terms)


def text_model(settings: TextSettings | None = None, data_dir: Path | None = None) -> TextModel:
    s = settings or policy().text
    return _build_model(tuple(s.stop_terms), s.text_chars, s.top_terms, str(data_dir or DATA_DIR))


# ------------------------------------------------------------------------------------------------ geometry


def haversine_m(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - math.radians(lon1)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_R * np.arcsin(np.sqrt(np.minimum(a, 1.0))))


def _row(lat: float, cell_m: float) -> int:
    return math.floor(lat * M_PER_DEG / cell_m)


def _col(lon: float, row: int, cell_m: float) -> int:
    center = (row + 0.5) * cell_m / M_PER_DEG
    return math.floor(lon * M_PER_DEG * math.cos(math.radians(center)) / cell_m)


def cells_covering(lat: float, lon: float, radius_m: float, cell_m: float) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for r in range(_row(lat - radius_m / M_PER_DEG, cell_m), _row(lat + radius_m / M_PER_DEG, cell_m) + 1):
        center = (r + 0.5) * cell_m / M_PER_DEG
        cos = max(math.cos(math.radians(center)), 0.01)
        dlon = radius_m / (M_PER_DEG * cos)
        # one cell of slack on each side: rows are not exactly equal in width
        out.extend((r, c) for c in range(_col(lon - dlon, r, cell_m) - 1, _col(lon + dlon, r, cell_m) + 2))
    return out


# ------------------------------------------------------------------------------------------------ the index


def _epoch(value: datetime) -> float:
    return as_utc(value).timestamp()


_COLUMNS = (
    Case.id,
    Case.tracking_code,
    Case.title,
    func.substr(Case.content, 1, 2000),
    Case.lat,
    Case.lon,
    Case.received_at,
    Case.town_code,
    Case.county_code,
    Case.dup_vector,
)


@dataclass
class Gaps:
    """Ids an index read past while they were absent: a transaction that took them is still open (another
    process's batch took them first and commits last). They are read again until they appear, for
    `GAP_WAIT_S` at most (a rolled-back transaction's never do) and while within `GAP_SPAN` of the highest."""

    awaited: dict[int, float] = field(default_factory=dict)  # id → when first read past

    def floor(self, top: int) -> int:
        """The lowest id to read: the look-back below `top` (the highest seen), or the oldest still awaited."""
        lo = max(top - LOOKBACK_IDS, 0)
        if self.awaited:
            now, oldest = time.monotonic(), top - GAP_SPAN
            self.awaited = {i: t for i, t in self.awaited.items() if i > oldest and now - t < GAP_WAIT_S}
            lo = min([lo, *self.awaited])
        return lo

    def note(self, seen: Collection[int], top: int, new_top: int) -> None:
        """After a read that found `seen` and moved the highest id from `top` to `new_top`."""
        for i in seen:
            self.awaited.pop(i, None)
        if new_top > top:
            now = time.monotonic()
            self.awaited.update((i, now) for i in range(max(top + 1, new_top - GAP_SPAN), new_top) if i not in seen)


@dataclass
class DupIndex:
    """Open cases of one database, in arrays; one per process and database, guarded by a lock."""

    model: TextModel
    cell_m: float
    lock: threading.RLock = field(default_factory=threading.RLock)
    size: int = 0
    cap: int = 0
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    cols: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.int32))
    wts: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))
    codes: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    towns: list[str | None] = field(default_factory=list)
    by_id: dict[int, int] = field(default_factory=dict)
    cells: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    by_town: dict[str, list[int]] = field(default_factory=dict)
    by_county: dict[str, list[int]] = field(default_factory=dict)
    # An area's slots as an array, extended as its list grows (slots are only ever appended to an area).
    _area_arrays: dict[tuple[int, str], np.ndarray] = field(default_factory=dict, repr=False)
    max_id: int = 0
    max_code: str = ""
    max_event: int = 0
    case_gaps: Gaps = field(default_factory=lambda: Gaps())
    event_gaps: Gaps = field(default_factory=lambda: Gaps())
    seen_events: set[int] = field(default_factory=set)
    last_resync: float = 0.0
    missing_since: float | None = None
    recent: dict[int, str] = field(default_factory=dict)  # codes of the highest ids seen, to know the database
    loaded: bool = False
    stats: Counter[str] = field(default_factory=Counter)
    _dense: np.ndarray | None = field(default=None, repr=False)  # the query's weights by column, kept zeroed
    _compact: np.ndarray | None = field(default=None, repr=False)  # column → row of a batch's query columns, else −1

    # -- building

    def _grow(self, need: int) -> None:
        if need <= self.cap:
            return
        cap = max(1024, self.cap * 2, need)
        k = self.model.top_terms

        def grow(a: np.ndarray, fill: Any, shape: tuple[int, ...]) -> np.ndarray:
            b = np.full(shape, fill, dtype=a.dtype)
            if self.size:
                b[: self.size] = a[: self.size]
            return b

        self.ids = grow(self.ids, 0, (cap,))
        self.lat = grow(self.lat, np.nan, (cap,))
        self.lon = grow(self.lon, np.nan, (cap,))
        self.t = grow(self.t, 0.0, (cap,))
        self.alive = grow(self.alive, False, (cap,))
        self.cols = grow(self.cols, self.model.pad, (cap, k))
        self.wts = grow(self.wts, 0.0, (cap, k))
        self.cap = cap

    def add(self, row: Sequence[Any], vec: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Index one open case (a `_COLUMNS` row); its text vector from `vec`, else the stored one, else its text."""
        case_id, code, title, content, lat, lon, received_at, town, county, stored = row
        if case_id in self.by_id:
            return
        if vec is None:
            vec = self.model.unpack(stored)
            self.stats["vectors_stored" if vec is not None else "vectors_computed"] += 1
        self._grow(self.size + 1)
        i = self.size
        self.size += 1
        self.ids[i] = case_id
        has_xy = lat is not None and lon is not None
        self.lat[i] = lat if has_xy else np.nan
        self.lon[i] = lon if has_xy else np.nan
        self.t[i] = _epoch(received_at)
        self.alive[i] = True
        self.cols[i], self.wts[i] = self.model.padded(title or "", content or "", vec)
        self.codes.append(code)
        self.titles.append(title or "")
        self.towns.append(town)
        self.by_id[case_id] = i
        if has_xy:
            r = _row(lat, self.cell_m)
            self.cells.setdefault((r, _col(lon, r, self.cell_m)), []).append(i)
        if town:
            self.by_town.setdefault(town, []).append(i)
        if county:
            self.by_county.setdefault(county, []).append(i)

    def drop(self, case_id: int) -> None:
        i = self.by_id.pop(case_id, None)
        if i is not None:
            self.alive[i] = False

    def _reset(self) -> None:
        fresh = DupIndex(self.model, self.cell_m, lock=self.lock)
        for name in self.__dataclass_fields__:
            if name not in ("lock", "stats"):
                setattr(self, name, getattr(fresh, name))

    def _load(self, session: Session, where: Any, stream: bool = False) -> int:
        """Add the open cases matching `where`. `stream`: through a server-side cursor, for a whole rebuild; the
        few new cases of a refresh come in one plain round trip instead (a cursor costs three)."""
        n = 0
        q = select(*_COLUMNS).where(where).order_by(Case.id)
        rows = session.execute(q.execution_options(yield_per=BULK_VECTORS) if stream else q)
        for chunk in rows.partitions(BULK_VECTORS):
            vecs = [self.model.unpack(r[-1]) for r in chunk]
            todo = [i for i, v in enumerate(vecs) if v is None]
            # vectors not stored with their cases (written before vectors were, or by another model) are computed
            # together
            made = self.model.vectors([(chunk[i][2] or "", chunk[i][3] or "") for i in todo], remember=False)
            for i, made_vec in zip(todo, made, strict=True):
                vecs[i] = made_vec
            self.stats["vectors_stored"] += len(chunk) - len(todo)
            self.stats["vectors_computed"] += len(todo)
            for row, vec in zip(chunk, vecs, strict=True):
                self.add(tuple(row), vec)
            n += len(chunk)
        return n

    def _remember(self, codes: dict[int, str]) -> None:
        self.recent.update(codes)
        if len(self.recent) > 2 * RECENT_IDS:
            floor = max(self.recent) - RECENT_IDS
            self.recent = {i: c for i, c in self.recent.items() if i > floor}

    def rebuild(self, session: Session) -> None:
        self._reset()
        head = session.execute(
            select(Case.id, Case.tracking_code).order_by(Case.id.desc()).limit(LOOKBACK_IDS + 1)
        ).all()
        self._load(session, Case.status.in_(OPEN_STATES), stream=True)
        if head:
            self.max_id, self.max_code = int(head[0][0]), str(head[0][1])
            self._remember({int(r[0]): str(r[1]) for r in head})
        self.max_event = int(session.scalar(select(func.max(CaseEvent.id))) or 0)
        self.last_resync = time.monotonic()
        self.loaded = True
        self.stats["rebuilds"] += 1

    # -- keeping current

    def refresh(self, session: Session, resync_seconds: float) -> None:
        if not self.loaded:
            self.rebuild(session)
            return
        rows = session.connection().execute(_NEW_CASES, {"lo": self.case_gaps.floor(self.max_id)}).all()
        known = {int(r[0]): str(r[1]) for r in rows}
        if self.max_id and self._foreign(session, known.get(self.max_id)):
            self.rebuild(session)  # the row behind our highest id is gone or different: another database
            return
        self._remember(known)
        # open and unknown: new cases, and cases whose transactions committed after a higher id was seen
        new = [int(r[0]) for r in rows if r[2] in lifecycle.OPEN and int(r[0]) not in self.by_id]
        if new:
            self._load(session, Case.id.in_(new))
            self.stats["incremental"] += len(new)
        self.case_gaps.note(known, self.max_id, int(rows[-1][0]) if rows else self.max_id)
        if rows and int(rows[-1][0]) > self.max_id:
            self.max_id, self.max_code = int(rows[-1][0]), str(rows[-1][1])
        self._follow_events(session)
        if time.monotonic() - self.last_resync >= resync_seconds:
            self.resync(session)

    def _foreign(self, session: Session, code: str | None) -> bool:
        """Whether the database no longer holds the cases we indexed (it was rebuilt or restored).

        A different code behind our highest id says so. A missing row may be another transaction's of this
        process, not yet committed (or rolled back): if the rows we remember below it are still there with their
        codes, it is the same database, and only a row missing for longer than MISSING_GRACE_S forces a rebuild.
        """
        if code is not None:
            self.missing_since = None
            return code != self.max_code
        probe = sorted(i for i in self.recent if i < self.max_id)[-64:]
        rows = session.execute(select(Case.id, Case.tracking_code).where(Case.id.in_(probe))).all() if probe else []
        if not rows or any(self.recent.get(int(r[0])) != str(r[1]) for r in rows):
            return True
        now = time.monotonic()
        if self.missing_since is None:
            self.missing_since = now
        return now - self.missing_since > MISSING_GRACE_S

    def _follow_events(self, session: Session) -> None:
        """Cases that left or re-entered the open set since the last call, from the timeline's new events.

        Every status change appends an event (cases.service), so reading the events above the highest one seen
        (minus a look-back for transactions that commit out of order, and the ids still awaited: `Gaps`) keeps
        the open set exact: closed, merged, rejected or transferred cases leave the index, reopened ones come
        back.
        """
        lo = self.event_gaps.floor(self.max_event)
        rows = session.connection().execute(_NEW_EVENTS, {"lo": lo}).all()
        self.event_gaps.note({int(r[0]) for r in rows}, self.max_event, int(rows[-1][0]) if rows else self.max_event)
        affected: set[int] = set()
        for ev_id, case_id, before, after in rows:
            if ev_id in self.seen_events:
                continue
            self.seen_events.add(int(ev_id))
            if before is not None and (before in lifecycle.OPEN) != (after in lifecycle.OPEN):
                affected.add(int(case_id))
        if rows:
            self.max_event = max(self.max_event, int(rows[-1][0]))
        self.seen_events = {e for e in self.seen_events if e >= lo}
        if not affected:
            return
        status = {
            int(r[0]): str(r[1]) for r in session.execute(select(Case.id, Case.status).where(Case.id.in_(affected)))
        }
        for case_id in affected:
            if status.get(case_id) not in lifecycle.OPEN:
                self.drop(case_id)
        back = [i for i in affected if status.get(i) in lifecycle.OPEN and i not in self.by_id]
        if back:
            self._load(session, Case.id.in_(back))
        self.stats["status_changes"] += len(affected)

    def resync(self, session: Session) -> None:
        open_rows = session.execute(select(Case.id, Case.tracking_code).where(Case.status.in_(OPEN_STATES))).all()
        open_ids = {int(r[0]): str(r[1]) for r in open_rows}
        for case_id in list(self.by_id):
            if case_id not in open_ids:
                self.drop(case_id)
            elif open_ids[case_id] != self.codes[self.by_id[case_id]]:
                self.rebuild(session)
                return
        missing = [i for i in open_ids if i not in self.by_id]
        for k in range(0, len(missing), 500):
            self._load(session, Case.id.in_(missing[k : k + 500]))
        self.last_resync = time.monotonic()
        self.stats["resyncs"] += 1

    # -- searching

    def slots_near(self, lat: float, lon: float, radius_m: float) -> np.ndarray:
        found: list[int] = []
        for cell in cells_covering(lat, lon, radius_m, self.cell_m):
            slots = self.cells.get(cell)
            if slots:
                found.extend(slots)
        return np.fromiter(found, dtype=np.int64, count=len(found))

    def slots_in(self, area: dict[str, list[int]], code: str | None) -> np.ndarray:
        slots = area.get(code or "") or []
        key = (id(area), code or "")
        have = self._area_arrays.get(key)
        if have is None or len(have) > len(slots):
            have = np.zeros(0, dtype=np.int64)
        if len(have) < len(slots):
            tail = slots[len(have) :]
            have = np.concatenate([have, np.fromiter(tail, dtype=np.int64, count=len(tail))])
            self._area_arrays[key] = have
        return have

    def similarity(self, q: tuple[np.ndarray, np.ndarray], slots: np.ndarray) -> np.ndarray:
        """Cosine of the query with the cases in `slots` (call with the lock held)."""
        if not len(slots) or not len(q[0]):
            return np.zeros(len(slots), dtype=np.float32)
        if self._dense is None or len(self._dense) != len(self.model.idf):
            self._dense = np.zeros(len(self.model.idf), dtype=np.float32)
        dense = self._dense
        dense[q[0]] = q[1]
        try:
            # np.take skips fancy indexing's bounds checks (a third of the time); columns are in range by
            # construction (padding is the last column, always zero).
            cols = np.take(self.cols, slots, axis=0)
            return np.einsum("ij,ij->i", np.take(dense, cols, mode="clip"), np.take(self.wts, slots, axis=0))
        finally:
            dense[q[0]] = 0.0

    def similarity_many(self, queries: Sequence[tuple[np.ndarray, np.ndarray]], slots: np.ndarray) -> np.ndarray:
        """Cosines of several queries with the same cases, (queries × slots): the cases' columns are read once
        for all of them (call with the lock held). An intake batch asks this for every area its matters share."""
        out = np.zeros((len(queries), len(slots)), dtype=np.float32)
        if not len(slots) or not queries:
            return out
        sizes = [len(q[0]) for q in queries]
        if not sum(sizes):
            return out
        union, inverse = np.unique(np.concatenate([q[0] for q in queries]), return_inverse=True)
        weights = np.zeros((len(union), len(queries)), dtype=np.float32)  # the queries by shared column
        weights[inverse, np.repeat(np.arange(len(queries)), sizes)] = np.concatenate([q[1] for q in queries])
        if self._compact is None or len(self._compact) != len(self.model.idf):
            self._compact = np.full(len(self.model.idf), -1, dtype=np.int32)
        compact = self._compact
        compact[union] = np.arange(len(union), dtype=np.int32)
        try:
            at = np.take(compact, np.take(self.cols, slots, axis=0), mode="clip")  # (slots, top_terms)
        finally:
            compact[union] = -1
        hit = at >= 0
        counts = hit.sum(axis=1)
        matrix = sparse.csr_matrix(
            (np.take(self.wts, slots, axis=0)[hit], at[hit], np.concatenate([[0], np.cumsum(counts)])),
            shape=(len(slots), len(union)),
        )
        out[:] = (matrix @ weights).T
        return out


_INDEXES: dict[str, DupIndex] = {}
_BUILDING: set[str] = set()
_INDEXES_LOCK = threading.Lock()
# Above this many open cases a process builds its first index in a thread and answers from SQL meanwhile.
BACKGROUND_BUILD_ABOVE = 20_000
# Statements of every intake transaction, built once: building a select() costs more CPU than running it.
# The refreshes' LIMIT also keeps the planner on the primary key when statistics are stale.
_NEW_CASES = (
    select(Case.id, Case.tracking_code, Case.status)
    .where(Case.id >= bindparam("lo"))
    .order_by(Case.id)
    .limit(REFRESH_BATCH)
)
_NEW_EVENTS = (
    select(CaseEvent.id, CaseEvent.case_id, CaseEvent.from_status, CaseEvent.to_status)
    .where(CaseEvent.id >= bindparam("lo"))
    .order_by(CaseEvent.id)
    .limit(REFRESH_BATCH)
)
_LIVE = select(Case.id, Case.tracking_code, Case.status, Case.title).where(
    Case.id.in_(bindparam("ids", expanding=True))
)
# PostgreSQL: the ids as one array parameter; rendering hundreds of IN parameters cost more than the query.
_LIVE_PG = text("SELECT id, tracking_code, status, title FROM cases WHERE id = ANY(CAST(:ids AS bigint[]))")

# The SQL fallback reads at most this many open cases (the most recent) around the new matter.
FALLBACK_ROWS = 2_000


def _key(session: Session) -> str:
    return database_key(session)


def index_for(
    session: Session, pol: DuplicatesPolicy | None = None, *, wait: bool = True, prime: Sequence[Case] = ()
) -> DupIndex | None:
    """The process's index of the session's database, brought up to date.

    With `wait=False` and no index yet for a large database, the index is built in a background thread and
    None is returned (the caller answers from the bounded SQL fallback meanwhile). `prime`: cases this
    transaction has just stored, added from memory instead of being read back.
    """
    pol = pol or policy()
    model = text_model(pol.text)
    key = _key(session)
    with _INDEXES_LOCK:
        idx = _INDEXES.get(key)
        if idx is not None and (idx.model is not model or idx.cell_m != pol.cell_m):
            idx = None
        if idx is None and key in _BUILDING and not wait:
            return None
    if idx is None:
        if not wait:
            n_open = session.scalar(select(func.count()).select_from(Case).where(Case.status.in_(OPEN_STATES))) or 0
            if n_open > BACKGROUND_BUILD_ABOVE:
                _build_in_background(session, key, model, pol)
                return None
        idx = DupIndex(model, pol.cell_m)
        with idx.lock:
            idx.rebuild(session)
        with _INDEXES_LOCK:
            _INDEXES[key] = idx
    with idx.lock:
        for case in prime:
            idx.add(_row_of(case), model.vector(case.title or "", case.content or ""))
        idx.refresh(session, pol.resync_seconds)
    return idx


def _row_of(case: Case) -> tuple[Any, ...]:
    """A stored case as the index reads it (`_COLUMNS`), without reading it back."""
    content = (case.content or "")[:2000]
    return (
        case.id,
        case.tracking_code,
        case.title,
        content,
        case.lat,
        case.lon,
        case.received_at,
        case.town_code,
        case.county_code,
        None,  # its vector comes with it (index_for's prime)
    )


def _build_in_background(session: Session, key: str, model: TextModel, pol: DuplicatesPolicy) -> None:
    with _INDEXES_LOCK:
        if key in _BUILDING:
            return
        _BUILDING.add(key)
    # DEFERRED: on SQLite the long read must not hold the write lock
    engine = session.get_bind().engine.execution_options(sqlite_begin="DEFERRED")

    def run() -> None:
        try:
            idx = DupIndex(model, pol.cell_m)
            with Session(engine) as s, idx.lock:
                idx.rebuild(s)
            with _INDEXES_LOCK:
                _INDEXES[key] = idx
        except Exception:  # pragma: no cover - logged; the next call tries again
            log.exception("building the duplicate index failed")
        finally:
            with _INDEXES_LOCK:
                _BUILDING.discard(key)

    threading.Thread(target=run, name="pingan-dup-index", daemon=True).start()


def _fallback_index(
    session: Session,
    pol: DuplicatesPolicy,
    lon: float | None,
    lat: float | None,
    t0: float,
    radius: float,
    window_s: float,
    town: str | None,
    county: str | None,
) -> DupIndex:
    """A throw-away index of the open cases a bounded SQL query finds around the new matter."""
    idx = DupIndex(text_model(pol.text), pol.cell_m)
    at = datetime.fromtimestamp(t0, tz=UTC)
    where: list[Any] = [
        Case.status.in_(OPEN_STATES),
        Case.received_at >= at - timedelta(seconds=window_s),
        Case.received_at <= at + timedelta(seconds=window_s),
    ]
    if lat is not None and lon is not None:
        dlat = radius / M_PER_DEG
        dlon = radius / (M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
        box = and_(Case.lat.between(lat - dlat, lat + dlat), Case.lon.between(lon - dlon, lon + dlon))
        where.append(or_(box, and_(Case.lat.is_(None), Case.town_code == town)) if town else box)
    elif town:
        where.append(Case.town_code == town)
    elif county:
        where.append(Case.county_code == county)
    else:
        return idx
    rows = session.execute(select(*_COLUMNS).where(*where).order_by(Case.received_at.desc()).limit(FALLBACK_ROWS))
    for row in rows:
        idx.add(tuple(row))
    idx.loaded = True
    return idx


def forget(session: Session, case_ids: Sequence[int]) -> None:
    """Drop cases from the process's index (a batch that was added from memory and then rolled back)."""
    with _INDEXES_LOCK:
        idx = _INDEXES.get(_key(session))
    if idx is not None:
        with idx.lock:
            for case_id in case_ids:
                idx.drop(case_id)


def forget_indexes() -> None:
    """Drop every process-local index (tests, policy changes)."""
    with _INDEXES_LOCK:
        _INDEXES.clear()


def _fmt_hours(h: float) -> str:
    return f"{h:.1f}"


@dataclass
class Query:
    """One new matter to find duplicates for (see `candidates`)."""

    title: str
    content: str
    lon: float | None
    lat: float | None
    at: datetime
    town_code: str | None = None
    county_code: str | None = None
    exclude_case_id: int | None = None
    before_id: int | None = None  # only cases stored before this one (a batch's later cases are not candidates)


def candidates(
    session: Session,
    *,
    title: str,
    content: str,
    lon: float | None,
    lat: float | None,
    at: datetime,
    exclude_case_id: int | None = None,
    radius_m: float | None = None,
    days: float | None = None,
    limit: int | None = None,
    town_code: str | None = None,
    county_code: str | None = None,
    actor: Actor | None = None,
    fallback: bool = False,
) -> list[dict[str, Any]]:
    """Open cases that may be the same matter, best first: {case_id, tracking_code, title, status, score,
    text_similarity, distance_m, hours_apart, why}. Defaults come from data/policy/duplicates.yaml.

    With coordinates: cases within `radius_m` (and cases without coordinates in the same town/street, on text
    alone); without: cases in the same town/street, or the same county when the town is unknown. `actor`
    limits the answer to cases that actor may see. `fallback=True` answers from the bounded SQL query that is
    used while the process's index is being built (for comparisons).
    """
    q = Query(title, content, lon, lat, at, town_code, county_code, exclude_case_id)
    return candidates_many(session, [q], radius_m=radius_m, days=days, limit=limit, actor=actor, fallback=fallback)[0]


def candidates_many(
    session: Session,
    queries: Sequence[Query],
    *,
    radius_m: float | None = None,
    days: float | None = None,
    limit: int | None = None,
    actor: Actor | None = None,
    fallback: bool = False,
    stored: Sequence[Case] = (),
    shared_words: bool = True,
) -> list[list[dict[str, Any]]]:
    """`candidates` for many matters at once (an intake batch): one index refresh and one confirming query.
    `stored`: the batch's own new cases (given their ids, maybe not yet flushed), which join the index and the
    confirmation from memory. `shared_words=False`: the why says distance, time apart and text similarity but
    not the words the two texts share (the costliest part; intake keeps a record of the candidates, and the
    case page asks again with the words: GET /cases/{id}/duplicates)."""
    pol = policy()
    model = text_model(pol.text)
    # every text's vector in one go; the calls below find them remembered
    model.vectors([(q.title, q.content) for q in queries] + [(c.title or "", c.content or "") for c in stored])
    for case in stored:
        case.dup_vector = model.pack(model.vector(case.title or "", case.content or ""))
    radius = float(radius_m if radius_m is not None else pol.radius_m)
    window_s = float(days if days is not None else pol.days) * 86400.0
    n = int(limit if limit is not None else pol.limit)
    if radius <= 0 or window_s <= 0 or n <= 0 or not queries:
        return [[] for _ in queries]
    shared = None if fallback else index_for(session, pol, wait=False, prime=stored)
    keep = max(3 * n, n + 5)
    area_hits: list[list[_Hit] | None] = [None] * len(queries)
    if shared is not None and len(queries) > 1:
        with shared.lock:
            area_hits = _batch_area_hits(shared, pol, queries, window_s, keep)
    ranked: list[tuple[DupIndex, list[_Hit]]] = []
    for q, pre in zip(queries, area_hits, strict=True):
        t0 = _epoch(q.at)
        idx = shared or _fallback_index(session, pol, q.lon, q.lat, t0, radius, window_s, q.town_code, q.county_code)
        with idx.lock:
            hits = _rank(
                idx,
                pol,
                q.title,
                q.content,
                q.lon,
                q.lat,
                t0,
                q.exclude_case_id,
                radius,
                window_s,
                n,
                q.town_code,
                q.county_code,
                q.before_id,
                pre,
            )
        ranked.append((idx, hits))
    # The batch's own new cases are not stored yet: they answer from memory below.
    ids = sorted({h.case_id for _, hits in ranked for h in hits}.difference(c.id for c in stored))
    live: dict[int, Any] = {}
    visible: set[int] = set()
    conn = session.connection()
    live_query = _LIVE_PG if conn.dialect.name == "postgresql" else _LIVE
    for k in range(0, len(ids), 1000):
        chunk = ids[k : k + 1000]
        rows = conn.execute(live_query, {"ids": chunk}).all()
        live.update({int(r[0]): r for r in rows})
        if actor is not None:
            from pingan.cases.queries import scoped

            visible.update(session.scalars(scoped(select(Case.id).where(Case.id.in_(chunk)), actor)))
    for case in stored:
        live.setdefault(case.id, (case.id, case.tracking_code, case.status, case.title))
    if actor is None:
        visible = set(live)
    return [
        _confirm(idx, hits, n, live, visible, q.title, q.content, shared_words)
        for q, (idx, hits) in zip(queries, ranked, strict=True)
    ]


@dataclass
class _Hit:
    slot: int
    case_id: int
    score: float
    text: float
    distance_m: float | None
    hours: float
    area: str | None  # "town" / "county" when matched by area instead of distance


def _rank(
    idx: DupIndex,
    pol: DuplicatesPolicy,
    title: str,
    content: str,
    lon: float | None,
    lat: float | None,
    t0: float,
    exclude: int | None,
    radius: float,
    window_s: float,
    n: int,
    town: str | None,
    county: str | None,
    before: int | None = None,
    area_hits: list[_Hit] | None = None,
) -> list[_Hit]:
    """The best hits near the matter (by distance) and in its area (same town or county, for cases without
    coordinates). `area_hits`: the area's best hits, ranked for the whole batch at once (`_batch_area_hits`)."""
    has_xy = lat is not None and lon is not None
    parts: list[tuple[np.ndarray, str | None]] = []
    if has_xy:
        assert lat is not None and lon is not None
        parts.append((idx.slots_near(lat, lon, radius), None))
    found_in = _area_of(has_xy, town, county)
    if found_in is not None and area_hits is None:
        kind, code = found_in
        parts.append((idx.slots_in(_area_lists(idx, kind), code), kind))
    q = idx.model.vector(title, content)
    hits: dict[int, _Hit] = {h.slot: h for h in area_hits or ()}
    keep = max(3 * n, n + 5)
    w = pol.weights
    for slots, area in parts:
        if not len(slots):
            continue
        seconds = np.abs(idx.t.take(slots) - t0)
        mask = idx.alive.take(slots) & (seconds <= window_s)
        if exclude is not None or before is not None:
            ids = idx.ids.take(slots)
            if exclude is not None:
                mask &= ids != exclude
            if before is not None:
                mask &= ids < before
        if area is not None and has_xy:
            mask &= np.isnan(idx.lat.take(slots))  # located ones were handled by distance
        slots, seconds = slots[mask], seconds[mask]
        if not len(slots):
            continue
        dist: np.ndarray | None = None
        if area is None:
            assert lat is not None and lon is not None
            dist = haversine_m(lat, lon, idx.lat[slots], idx.lon[slots])
            inside = dist <= radius
            slots, dist, seconds = slots[inside], dist[inside], seconds[inside]
            if not len(slots):
                continue
        sims = idx.similarity(q, slots)
        hours = seconds / 3600.0
        time_part = 1.0 - seconds / window_s
        if dist is not None:
            prox = 1.0 - dist / radius
            need = pol.min_text
        else:
            prox = np.full(len(slots), pol.same_area_proximity if area == "town" else pol.same_area_proximity / 2)
            need = pol.min_text_no_coords
        score = w.text * sims + w.distance * prox + w.time * time_part
        ok = np.flatnonzero((sims >= need) & (score >= pol.min_score))
        # Only the best `keep` can be answered: pick them before building objects (best score, then lowest id).
        # In a busy area thousands pass: sort only those scoring at least the keep-th best (ties included).
        if len(ok) > keep:
            ok = ok[score[ok] >= -np.partition(-score[ok], keep - 1)[keep - 1]]
        ok = ok[np.lexsort((idx.ids[slots[ok]], -score[ok]))[:keep]]
        for j in ok.tolist():
            slot = int(slots[j])
            hit = _Hit(
                slot,
                int(idx.ids[slot]),
                float(score[j]),
                float(sims[j]),
                None if dist is None else float(dist[j]),
                float(hours[j]),
                area,
            )
            prev = hits.get(slot)
            if prev is None or prev.score < hit.score:
                hits[slot] = hit
    return sorted(hits.values(), key=lambda h: (-h.score, h.case_id))[:keep]


def _area_of(has_xy: bool, town: str | None, county: str | None) -> tuple[str, str] | None:
    """The area a matter's unlocated neighbours are searched in: its town (also for a located matter), else
    its county when it has no coordinates."""
    if town:
        return ("town", town)
    if county and not has_xy:
        return ("county", county)
    return None


def _area_lists(idx: DupIndex, kind: str) -> dict[str, list[int]]:
    return idx.by_town if kind == "town" else idx.by_county


def _batch_area_hits(
    idx: DupIndex, pol: DuplicatesPolicy, queries: Sequence[Query], window_s: float, keep: int
) -> list[list[_Hit] | None]:
    """For queries that share an area with others in the batch: their best `keep` hits among the area's cases
    without coordinates (what `_rank` finds there), all from one pass over the area's cases and one ranking
    of the (query, case) pairs that pass the text threshold (call with the lock held)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, q in enumerate(queries):
        area = _area_of(q.lat is not None and q.lon is not None, q.town_code, q.county_code)
        if area is not None:
            groups.setdefault(area, []).append(i)
    out: list[list[_Hit] | None] = [None] * len(queries)
    w = pol.weights
    for (kind, code), members in groups.items():
        if len(members) < 2:
            continue
        slots = idx.slots_in(_area_lists(idx, kind), code)
        sims = idx.similarity_many([idx.model.vector(queries[i].title, queries[i].content) for i in members], slots)
        for i in members:
            out[i] = []
        # Area hits need this much text similarity: most of a busy town drops out before the other filters.
        row, col = np.nonzero(sims >= pol.min_text_no_coords)
        if not len(row):
            continue
        qs = [queries[i] for i in members]
        t0 = np.array([_epoch(q.at) for q in qs])[row]
        has_xy = np.array([q.lat is not None and q.lon is not None for q in qs])[row]
        no_id = np.iinfo(np.int64).max
        exclude = np.array([-1 if q.exclude_case_id is None else q.exclude_case_id for q in qs], dtype=np.int64)
        before = np.array([no_id if q.before_id is None else q.before_id for q in qs], dtype=np.int64)
        slot = slots[col]
        ids = idx.ids[slot]
        seconds = np.abs(idx.t[slot] - t0)
        # located cases were found by distance (a located query) or are not in an area list at all
        ok = idx.alive[slot] & (seconds <= window_s) & (ids != exclude[row]) & (ids < before[row])
        ok &= ~has_xy | np.isnan(idx.lat[slot])
        prox = pol.same_area_proximity if kind == "town" else pol.same_area_proximity / 2
        sim = sims[row, col]
        score = w.text * sim + w.distance * prox + w.time * (1.0 - seconds / window_s)
        ok &= score >= pol.min_score
        if len(slots) > keep:
            # Only each query's best `keep` can be answered: sort only the pairs scoring at least its keep-th
            # best (ties included); in a busy town thousands pass.
            best = np.full((len(members), len(slots)), -np.inf)
            best[row[ok], col[ok]] = score[ok]
            ok &= score >= -np.partition(-best, keep - 1, axis=1)[:, keep - 1][row]
        pick = np.flatnonzero(ok)
        # per query: best score first, then the lowest id; the first `keep` of each
        order = pick[np.lexsort((ids[pick], -score[pick], row[pick]))]
        first = np.searchsorted(row[order], row[order])
        order = order[np.arange(len(order)) - first < keep]
        for j in order.tolist():
            member = members[int(row[j])]
            hits = out[member]
            assert hits is not None
            hits.append(
                _Hit(int(slot[j]), int(ids[j]), float(score[j]), float(sim[j]), None, float(seconds[j]) / 3600.0, kind)
            )
    return out


def _why(idx: DupIndex, h: _Hit, title: str, content: str, query: QueryBigrams | None) -> list[str]:
    why: list[str] = []
    if h.distance_m is not None:
        why.append(f"距离 {h.distance_m:.0f} 米 ({h.distance_m:.0f} m apart)")
    elif h.area == "town":
        why.append("同一乡镇/街道，无坐标 (same town/street, no coordinates)")
    else:
        why.append("同一区县，无坐标 (same county, no coordinates)")
    why.append(f"受理时间相隔 {_fmt_hours(h.hours)} 小时 ({_fmt_hours(h.hours)} h apart)")
    why.append(f"文本相似度 {h.text:.2f} (text similarity)")
    if query is None:
        return why
    phrases = idx.model.shared_phrases(title, content, idx.cols[h.slot], query=query, presorted=True)
    if phrases:
        why.append(f"共同词语 (shared words)：{'、'.join(phrases)}")
    return why


def _confirm(
    idx: DupIndex,
    ranked: list[_Hit],
    n: int,
    live: dict[int, Any],
    visible: set[int],
    title: str,
    content: str,
    shared_words: bool = True,
) -> list[dict[str, Any]]:
    """The best hits still open (per `live`, just re-read) and visible to the actor, with their why."""
    if not ranked:
        return []
    query = idx.model.bigrams(title, content) if shared_words else None
    out: list[dict[str, Any]] = []
    with idx.lock:
        for h in ranked:
            r = live.get(h.case_id)
            if r is None or r[2] not in lifecycle.OPEN or r[1] != idx.codes[h.slot]:
                idx.drop(h.case_id)
                continue
            if h.case_id not in visible or len(out) >= n:
                continue
            out.append(
                {
                    "case_id": h.case_id,
                    "tracking_code": r[1],
                    "title": r[3],
                    "status": r[2],
                    "score": round(h.score, 4),
                    "text_similarity": round(h.text, 4),
                    "distance_m": None if h.distance_m is None else round(h.distance_m, 1),
                    "hours_apart": round(h.hours, 2),
                    "why": _why(idx, h, title, content, query),
                }
            )
    return out


def candidates_for_case(session: Session, case: Case, actor: Actor | None = None, **kw: Any) -> list[dict[str, Any]]:
    """Candidates for a case already stored (it is never its own candidate)."""
    return candidates(
        session,
        title=case.title,
        content=case.content,
        lon=case.lon,
        lat=case.lat,
        at=case.received_at,
        exclude_case_id=case.id,
        town_code=case.town_code,
        county_code=case.county_code,
        actor=actor,
        **kw,
    )
