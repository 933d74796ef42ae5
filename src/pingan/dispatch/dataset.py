"""The labelled citizen messages (data/messages/): loading, de-duplication and a leak-free held-out split.

The three files overlap (a message can appear subject-only in one file and with its full text in another), so
messages are grouped by union-find over their normalised subject and the start of their full text; a group goes
wholly to training or wholly to the held-out split, decided by a hash of the group's key (stable across runs and
machines, independent of row order).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SUBJECT = "留言主题"
DETAIL = "留言详情"
LABEL = "一级标签"

LABELS = ("城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输")

FILES = ("messages_subject_label.csv", "messages_detail_label.csv", "messages_fullrows.csv")

_SPACE = re.compile(r"\s+")
_KEYCHARS = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Message:
    subject: str
    detail: str
    label: str

    @property
    def text(self) -> str:
        return join_text(self.subject, self.detail)


def clean(text: str | None) -> str:
    return _SPACE.sub(" ", (text or "").replace("\u3000", " ")).strip()


def join_text(subject: str, detail: str) -> str:
    subject, detail = clean(subject), clean(detail)
    if subject and detail:
        return subject + "。" + detail
    return subject or detail


def _keys(m: Message) -> list[str]:
    keys = []
    s = _KEYCHARS.sub("", m.subject)
    if len(s) >= 4:
        keys.append("s:" + s)
    d = _KEYCHARS.sub("", m.detail)
    if len(d) >= 12:
        keys.append("d:" + d[:40])
    return keys


def read_csv(path: Path) -> list[Message]:
    """Rows of a CSV with columns 留言主题, 留言详情 (either may be missing or empty) and 一级标签."""
    out = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            m = Message(clean(row.get(SUBJECT)), clean(row.get(DETAIL)), clean(row.get(LABEL)))
            if m.subject or m.detail:
                out.append(m)
    return out


def load_all(messages_dir: Path) -> list[Message]:
    """Every labelled row of the three files, exact duplicates removed, in file order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for name in FILES:
        path = messages_dir / name
        if not path.exists():
            continue
        for m in read_csv(path):
            if m.label not in LABELS:
                continue
            k = (m.subject, m.detail)
            if k in seen:
                continue
            seen.add(k)
            out.append(m)
    return out


def group_index(messages: Iterable[Message]) -> list[int]:
    """For each message, the number of its duplicate group (messages that share a subject or the start of
    their full text, joined by union-find); numbers follow the first appearance of each group."""
    msgs = list(messages)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    own: list[str] = []
    for i, m in enumerate(msgs):
        keys = _keys(m) or [f"row:{i}"]
        root = find(keys[0])
        for k in keys[1:]:
            r = find(k)
            if r != root:
                parent[max(r, root)] = min(r, root)
                root = min(r, root)
        own.append(keys[0])
    numbers: dict[str, int] = {}
    return [numbers.setdefault(find(k), len(numbers)) for k in own]


def groups(messages: Iterable[Message]) -> list[list[Message]]:
    """Messages that share a subject or the start of their full text, grouped (union-find)."""
    msgs = list(messages)
    out: list[list[Message]] = []
    for m, g in zip(msgs, group_index(msgs), strict=True):
        if g == len(out):
            out.append([])
        out[g].append(m)
    return out


def _in_test(group: list[Message], test_share: float, salt: str) -> bool:
    key = min(k for m in group for k in (_keys(m) or [m.subject + m.detail]))
    h = int(hashlib.sha256((salt + key).encode("utf-8")).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < test_share


def split(
    messages: Iterable[Message], test_share: float = 0.15, salt: str = "pingan-routing-v1"
) -> tuple[list[Message], list[Message]]:
    """(train, test): whole duplicate groups on one side; within a group, messages keep their order."""
    train: list[Message] = []
    test: list[Message] = []
    for g in groups(messages):
        (test if _in_test(g, test_share, salt) else train).extend(g)
    return train, test


def write_csv(path: Path, messages: Iterable[Message]) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([SUBJECT, DETAIL, LABEL])
        for m in messages:
            w.writerow([m.subject, m.detail, m.label])
            n += 1
    return n
