"""Real citizen messages (data/messages/) turned into demo matters placed in Yueyang.

The messages are public competition data whose place names are masked (A市, F7县, K1区 …). The masked
F市 is 岳阳市 and F1–F9 are its counties in code order (masked_place_codes_yueyang.csv). For the demo every
masked city (A市 … M市, F市) becomes 岳阳市, every masked county Xn (any letter) becomes the Yueyang county
with the F-number ((n-1) mod 9)+1, and the masked province 西地省 becomes 湖南省.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pingan.config import DATA_DIR

MESSAGES_DIR = DATA_DIR / "messages"
LABELS = ("城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输")

# Files with the full text first: a message seen there wins over its subject-only copy.
_FILES = ("messages_fullrows.csv", "messages_detail_label.csv", "messages_subject_label.csv")
_MASKED = re.compile(r"(?<![A-Za-z0-9])([A-M])(\d{1,2})?(市|县|区|州)")
_SPACE = re.compile(r"\s+")
_KEY = re.compile(r"[^\w]+")
_SENTENCE = re.compile(r"[。！？!?；;，,：:\n]")
_GREETING = re.compile(r"您好|你好|尊敬|领导|书记|厅长|局长|市长|县长|区长")
_REPEAT = re.compile(r"(岳阳市){2,}")


@dataclass(frozen=True)
class County:
    code: str
    name: str
    taidi_code: str  # F1 … F9


@dataclass(frozen=True)
class Message:
    key: str  # stable id: source file and row
    title: str
    content: str
    label: str
    county_code: str | None  # the county the text names (after unmasking), if any
    full_text: bool  # False: only the subject is known, the content is a one-line summary


@lru_cache(maxsize=1)
def counties(path: Path | None = None) -> tuple[County, ...]:
    """F1–F9 → Yueyang counties, from masked_place_codes_yueyang.csv."""
    path = path or MESSAGES_DIR / "masked_place_codes_yueyang.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if re.fullmatch(r"F\d", r["taidi_code"])]
    rows.sort(key=lambda r: int(r["taidi_code"][1:]))
    return tuple(County(r["adcode"], r["inferred_name"], r["taidi_code"]) for r in rows)


def unmask(text: str) -> tuple[str, str | None]:
    """Replace masked place codes by Yueyang names; returns the text and the first county it names."""
    cs = counties()
    first: list[str] = []

    def repl(m: re.Match[str]) -> str:
        num = m.group(2)
        if num is None:
            return "岳阳市"
        county = cs[(int(num) - 1) % len(cs)]
        if not first:
            first.append(county.code)
        return county.name

    out = _REPEAT.sub("岳阳市", _MASKED.sub(repl, text).replace("西地省", "湖南省"))
    return out, (first[0] if first else None)


def _clean(text: str | None) -> str:
    return _SPACE.sub(" ", (text or "").replace("\u3000", " ")).strip()


def _title_from(detail: str) -> str:
    """A title for a message without a subject: its first clause that is not a greeting."""
    for part in _SENTENCE.split(detail):
        part = part.strip()
        if len(part) >= 6 and not _GREETING.search(part):
            return part[:40]
    return detail[:40]


@lru_cache(maxsize=1)
def load_messages(directory: Path | None = None) -> tuple[Message, ...]:
    """Every labelled message with its text unmasked, duplicates removed, in a stable order."""
    directory = directory or MESSAGES_DIR
    seen: set[str] = set()
    out: list[Message] = []
    for name in _FILES:
        with (directory / name).open(encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                label = _clean(row.get("一级标签"))
                subject = _clean(row.get("留言主题"))
                detail = _clean(row.get("留言详情"))
                if label not in LABELS or not (subject or detail):
                    continue
                keys = [k for k in (_subject_key(subject), _detail_key(detail)) if k]
                if any(k in seen for k in keys):
                    continue
                seen.update(keys)
                title_raw = subject or _title_from(detail)
                content_raw = detail or f"市民反映：{subject.rstrip('。？！?!')}。请相关部门核实处理。"
                title, c1 = unmask(title_raw)
                content, c2 = unmask(content_raw)
                out.append(
                    Message(
                        key=f"{name.split('_', 1)[1].split('.')[0]}:{i}",
                        title=title[:200],
                        content=content[:4000],
                        label=label,
                        county_code=c1 or c2,
                        full_text=bool(detail),
                    )
                )
    return tuple(out)


def _subject_key(subject: str) -> str | None:
    s = _KEY.sub("", subject)
    return "s:" + s if len(s) >= 4 else None


def _detail_key(detail: str) -> str | None:
    d = _KEY.sub("", detail)
    return "d:" + d[:40] if len(d) >= 12 else None
