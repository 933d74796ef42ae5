"""答复草稿: draft replies for a case from the most similar past department replies (messages_replies.csv).

The past messages (subject + detail) are vectorised with the duplicate finder's character-bigram TF-IDF; the
`k` nearest by cosine give their replies as drafts, with the source subject and the similarity. A draft has the
source's subject replaced by the case's title and the source's user id replaced by "网友". Drafts are only
returned: nothing here sends anything, a person reviews, edits and sends the reply.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sqlalchemy.orm import Session

from pingan.config import DATA_DIR
from pingan.dispatch.duplicates import TextModel, text_model

MIN_REPLY_CHARS = 40  # "网友：您好！留言已收悉" is not a draft worth showing


@dataclass(frozen=True)
class PastReply:
    message_id: str
    user: str
    subject: str
    detail: str
    reply: str
    replied_at: str


@dataclass(frozen=True)
class ReplyIndex:
    model: TextModel
    items: list[PastReply]
    matrix: sparse.csr_matrix


def read_replies(path: Path | None = None) -> list[PastReply]:
    path = path or DATA_DIR / "messages" / "messages_replies.csv"
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            reply = (row.get("答复意见") or "").strip()
            if len(reply) < MIN_REPLY_CHARS:
                continue
            out.append(
                PastReply(
                    message_id=row.get("留言编号") or "",
                    user=(row.get("留言用户") or "").strip(),
                    subject=(row.get("留言主题") or "").strip(),
                    detail=(row.get("留言详情") or "").strip(),
                    reply=reply,
                    replied_at=(row.get("答复时间") or "").strip(),
                )
            )
    return out


@lru_cache(maxsize=2)
def _index(path: str, model: TextModel) -> ReplyIndex:
    items = read_replies(Path(path))
    rows, cols, vals = [], [], []
    for i, (c, w) in enumerate(model.vectors([(it.subject, it.detail) for it in items], remember=False)):
        rows.append(np.full(len(c), i, dtype=np.int32))
        cols.append(c)
        vals.append(w)
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(items), len(model.idf)),
        dtype=np.float32,
    )
    return ReplyIndex(model, items, matrix)


def reply_index(path: Path | None = None) -> ReplyIndex:
    """Built on first use and cached for the life of the process."""
    return _index(str(path or DATA_DIR / "messages" / "messages_replies.csv"), text_model())


def adapt(reply: PastReply, title: str) -> str:
    """The past reply as a draft for a new matter: its subject → the new title, its user id → 网友."""
    text = reply.reply
    if reply.subject and title:
        text = text.replace(reply.subject, title)
    if reply.user and len(reply.user) >= 4:
        text = text.replace(f"“{reply.user}”", "").replace(reply.user, "网友")
    return text


def suggest_reply(
    session: Session | None, title: str, content: str, k: int = 3, path: Path | None = None
) -> list[dict[str, Any]]:
    """Up to `k` drafts from the most similar past replies, most similar first (never sent by this code).

    `session` is accepted so that replies recorded in the database can join the sources later; the shipped
    messages are the only source today.
    """
    idx = reply_index(path)
    cols, weights = idx.model.vector(title, content)
    if not len(cols) or k <= 0:
        return []
    q = sparse.csr_matrix((weights, (np.zeros(len(cols), dtype=np.int32), cols)), shape=(1, len(idx.model.idf)))
    sims = np.asarray((idx.matrix @ q.T).todense()).ravel()
    order = np.argsort(-sims, kind="stable")[:k]
    out = []
    for i in order:
        if sims[i] <= 0:
            break
        it = idx.items[int(i)]
        out.append(
            {
                "source_message_id": it.message_id,
                "source_subject": it.subject,
                "similarity": round(float(sims[i]), 4),
                "replied_at": it.replied_at,
                "draft": adapt(it, title),
            }
        )
    return out
