"""The one intake pipeline every channel shares:

normalise (adapter) → find resubmission → locate → route (classify, triage, duplicates, responsibility)
→ store with the 受理 event → dispatch automatically when confident → notify the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case
from pingan.cases.schemas import ActionInput
from pingan.dispatch import api as dispatch
from pingan.dispatch import duplicates
from pingan.geo import locator
from pingan.geo.grids import grid_recipients
from pingan.geo.locate import Location, locate
from pingan.intake.adapters import IntakeRecord
from pingan.intake.schemas import IntakeResult
from pingan.notify import outbox
from pingan.orgs.models import Department
from pingan.timeutil import utcnow

SYSTEM = Actor.system("自动派遣")


def submit(session: Session, rec: IntakeRecord, actor: Actor, at: datetime | None = None) -> IntakeResult:
    return submit_many(session, [(rec, actor)], at)[0]


def submit_many(
    session: Session, items: Sequence[tuple[IntakeRecord, Actor]], at: datetime | None = None
) -> list[IntakeResult]:
    """Take many matters in the caller's transaction: one lookup, one INSERT per table, one flush at the end.

    A (channel, external id) already stored, or repeated within `items`, answers with the stored case.
    """
    at = at or utcnow()
    # Layer versions read once for the batch; no autoflush, so the batch's writes go out in one flush.
    session.info[locator.BATCH_CACHE] = {}
    try:
        with session.no_autoflush:
            results = _submit_many(session, items, at)
    finally:
        session.info.pop(locator.BATCH_CACHE, None)
    session.flush()
    return results


def _submit_many(session: Session, items: Sequence[tuple[IntakeRecord, Actor]], at: datetime) -> list[IntakeResult]:
    first: dict[tuple[str, str], int] = {}
    for i, (rec, _) in enumerate(items):
        first.setdefault((rec.channel, rec.external_id), i)
    stored = service.find_many_by_external(session, list(first))
    fresh = [i for key, i in first.items() if key not in stored]
    staged = [_stage(session, *items[i]) for i in fresh]
    opened = service.open_cases(
        session, [(st.case, items[i][1], at, st.data) for i, st in zip(fresh, staged, strict=True)]
    )
    by_key: dict[tuple[str, str], IntakeResult] = {k: _result(c, created=False) for k, c in stored.items()}
    new = [(i, st, case) for i, st, (case, created) in zip(fresh, staged, opened, strict=True) if created]
    found = duplicates.candidates_many(
        session,
        [
            duplicates.Query(
                c.title, c.content, c.lon, c.lat, c.received_at, c.town_code, c.county_code, before_id=c.id
            )
            for _, _, c in new
        ],
        stored=[c for _, _, c in new],
    )
    for (_, st, _), dups in zip(new, found, strict=True):
        st.decision.duplicates = dups
    for i, st, (case, created) in zip(fresh, staged, opened, strict=True):
        rec, actor = items[i]
        if created:
            by_key[(rec.channel, rec.external_id)] = _after_open(session, case, rec, actor, st, at)
        else:
            by_key[(rec.channel, rec.external_id)] = _result(case, created=False)
    results: list[IntakeResult] = []
    for i, (rec, _) in enumerate(items):
        r = by_key[(rec.channel, rec.external_id)]
        results.append(r if first[(rec.channel, rec.external_id)] == i else r.model_copy(update={"created": False}))
    return results


@dataclass
class _Staged:
    case: Case
    loc: Location
    decision: dispatch.RoutingDecision
    data: dict[str, Any]


def _stage(session: Session, rec: IntakeRecord, actor: Actor) -> _Staged:
    """Locate and route one matter and build its case row (not yet stored)."""
    loc = locate(session, rec.lon, rec.lat, rec.address or rec.title)
    decision = dispatch.route(
        session,
        title=rec.title,
        content=rec.content,
        channel=rec.channel,
        county_code=loc.county_code,
        region_code=loc.region_code,
        lon=rec.lon,
        lat=rec.lat,
    )
    case = Case(
        channel=rec.channel,
        external_id=rec.external_id,
        case_type=rec.case_type,
        urgency=rec.urgency,
        title=rec.title,
        content=rec.content,
        address=rec.address,
        lon=rec.lon,
        lat=rec.lat,
        region_code=loc.grid_code or loc.region_code,
        county_code=loc.county_code,
        town_code=loc.town_code,
        village_code=loc.village_code,
        grid_code=loc.grid_code,
        locate_level=loc.level,
        category=decision.category,
        caller_name=rec.caller_name,
        caller_phone=rec.caller_phone,
        caller_id_number=rec.caller_id_number,
        confidential=rec.confidential,
        reporter_id=rec.reporter_id,
        received_at=rec.received_at,
        owner_platform="110" if rec.channel == "police_110" else "12345",
        routing=decision.to_json(),
        extra=rec.extra,
        departments=[],
    )
    data = {
        "channel": rec.channel,
        "external_id": rec.external_id,
        "attachment_ids": rec.attachment_ids,
        "locate": {"level": loc.level, "confidence": loc.confidence, "matched": loc.matched},
    }
    return _Staged(case, loc, decision, data)


def _after_open(
    session: Session,
    case: Case,
    rec: IntakeRecord,
    actor: Actor,
    st: _Staged,
    at: datetime,
) -> IntakeResult:
    """Grid notices, and dispatch when confident and not a likely duplicate."""
    decision = st.decision
    if decision.duplicates:
        case.routing = decision.to_json()
    if rec.channel == "police_110":
        # Accepting a 110 transfer makes the 12345 side the owner from now on.
        case.owner_platform = "12345"
    if case.grid_code:
        for recipient in grid_recipients(session, case.grid_code):
            outbox.enqueue(
                session,
                f"grid:{case.id}:{recipient}",
                "notify",
                case.id,
                recipient,
                {"tracking_code": case.tracking_code, "title": case.title, "grid_code": case.grid_code},
                at,
            )
    auto = False
    if rec.on_spot_result and actor.role == "grid_worker":
        service.act(
            session, case.id, "handle_on_spot", actor, ActionInput(result=rec.on_spot_result), at, flush=False
        )
    elif (
        decision.auto
        and decision.department_id
        and not decision.triage
        and not _likely_duplicate(decision)
        and _active(session, decision.department_id)
    ):
        service.act(session, case.id, "register", SYSTEM, ActionInput(note="置信度达到自动派遣阈值"), at, flush=False)
        service.act(
            session,
            case.id,
            "assign",
            SYSTEM,
            ActionInput(
                department_id=decision.department_id,
                co_department_ids=decision.co_department_ids,
                note=f"自动派遣（置信度 {decision.confidence:.2f}）",
            ),
            at,
            flush=False,
        )
        auto = True
    return _result(case, created=True, auto=auto)


def _active(session: Session, department_id: int) -> bool:
    # Routing reads departments from a per-process cache; the one we hand over to must still be active now.
    dep = session.get(Department, department_id)
    return dep is not None and dep.active


def _likely_duplicate(decision: dispatch.RoutingDecision) -> bool:
    hold = duplicates.policy().hold_auto_dispatch_score
    return any(c["score"] >= hold for c in decision.duplicates)


def _result(case: Case, created: bool, auto: bool = False) -> IntakeResult:
    return IntakeResult(
        case_id=case.id,
        tracking_code=case.tracking_code,
        status=case.status,
        created=created,
        region_code=case.region_code,
        locate_level=case.locate_level,
        category=case.category,
        department_id=case.department_id,
        auto_dispatched=auto
        or (created is False and case.status != Status.RECEIVED and bool((case.routing or {}).get("auto"))),
    )
