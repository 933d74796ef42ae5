"""Dispatcher corrections (派遣纠错): recorded when a person overrides the routing, learned from at the next
`pingan routing train --db URL`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.cases.models import Case
from pingan.dispatch.dataset import LABELS, Message
from pingan.dispatch.models import RoutingCorrection
from pingan.timeutil import utcnow


def record_if_corrected(
    session: Session, case: Case, department_id: int | None, category: str | None = None, at: datetime | None = None
) -> RoutingCorrection | None:
    """Record a correction when the dispatcher's department or category differs from the routing suggestion.

    Call it from the assign action with the department the dispatcher chose and the case's category after
    the dispatcher's change (None = unchanged). Automatic dispatches are not corrections.
    """
    routing = case.routing or {}
    suggested_cat = routing.get("category")
    suggested_dep = routing.get("department_id")
    chosen_cat = category if category is not None else case.category
    if not routing or (chosen_cat == suggested_cat and department_id == suggested_dep):
        return None
    if chosen_cat is not None and chosen_cat not in LABELS:
        chosen_cat = None  # a category the classifier does not know cannot be learned; keep the department
    row = RoutingCorrection(
        case_id=case.id,
        title=(case.title or "")[:200],
        content=case.content or "",
        county_code=case.county_code or "",
        suggested_category=suggested_cat,
        suggested_department_id=suggested_dep,
        confidence=routing.get("confidence"),
        category=chosen_cat,
        department_id=department_id,
        created_at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def training_examples(session: Session) -> list[Message]:
    """Corrections with a category, as training messages (latest correction per case wins)."""
    latest: dict[int, RoutingCorrection] = {}
    for row in session.scalars(select(RoutingCorrection).order_by(RoutingCorrection.id)):
        latest[row.case_id] = row
    out = []
    for row in sorted(latest.values(), key=lambda r: r.id):
        if row.category in LABELS and (row.title or row.content):
            out.append(Message(row.title.strip(), row.content.strip(), row.category))
    return out
