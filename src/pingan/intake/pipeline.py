"""The one intake pipeline every channel shares:

normalise (adapter) → find resubmission → locate → route (classify, triage, duplicates, responsibility)
→ store with the 受理 event → dispatch automatically when confident → notify the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case
from pingan.cases.schemas import ActionInput
from pingan.db import insert_new
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
    session: Session,
    items: Sequence[tuple[IntakeRecord, Actor]],
    at: datetime | None = None,
    own_transaction: bool = False,
) -> list[IntakeResult]:
    """Take many matters in the caller's transaction: one lookup, then each new case is built in memory in its
    final state (受理, and 立案 + 交办 when dispatched automatically) and the batch is written at once.

    A (channel, external id) already stored, or repeated within `items`, answers with the stored case.
    `own_transaction`: the transaction holds nothing but this batch, so a lost (channel, external id) race
    may roll all of it back and start again (no savepoint needed: two statements fewer per batch).
    """
    at = at or utcnow()
    # Layer versions read once for the batch; no autoflush, so the batch's writes go out together.
    session.info[locator.BATCH_CACHE] = {}
    try:
        with session.no_autoflush:
            if own_transaction:
                try:
                    return _submit_many(session, items, at, nested=False)
                except IntegrityError:
                    session.rollback()
                    session.info[locator.BATCH_CACHE] = {}
            return _submit_many(session, items, at)
    finally:
        session.info.pop(locator.BATCH_CACHE, None)
        session.info.pop(_HELD, None)


def _submit_many(
    session: Session, items: Sequence[tuple[IntakeRecord, Actor]], at: datetime, nested: bool = True
) -> list[IntakeResult]:
    first: dict[tuple[str, str], int] = {}
    for i, (rec, _) in enumerate(items):
        first.setdefault((rec.channel, rec.external_id), i)
    stored = service.find_many_by_external(session, list(first))
    by_key: dict[tuple[str, str], IntakeResult] = {k: _result(c, created=False) for k, c in stored.items()}
    fresh = [items[i] for key, i in first.items() if key not in stored]
    if fresh and not nested:
        opened = _open(session, fresh, at)
        by_key.update({(rec.channel, rec.external_id): res for (rec, _), res in zip(fresh, opened, strict=True)})
    elif fresh:
        by_key.update(_open_fresh(session, fresh, at))
    results: list[IntakeResult] = []
    for i, (rec, _) in enumerate(items):
        r = by_key[(rec.channel, rec.external_id)]
        results.append(r if first[(rec.channel, rec.external_id)] == i else r.model_copy(update={"created": False}))
    return results


def _open_fresh(
    session: Session, items: Sequence[tuple[IntakeRecord, Actor]], at: datetime
) -> dict[tuple[str, str], IntakeResult]:
    """Open cases for matters not yet stored, in a savepoint: everything the batch writes is added inside it,
    so that losing a (channel, external id) race to a concurrent retry undoes only the batch."""
    try:
        with session.begin_nested():
            opened = _open(session, items, at)
    except IntegrityError:
        if len(items) == 1:
            rec = items[0][0]
            existing = service.find_by_external(session, rec.channel, rec.external_id)
            if existing is None:
                raise
            return {(rec.channel, rec.external_id): _result(existing, created=False)}
        return {(rec.channel, rec.external_id): _submit_many(session, [(rec, actor)], at)[0] for rec, actor in items}
    return {(rec.channel, rec.external_id): res for (rec, _), res in zip(items, opened, strict=True)}


def _open(session: Session, items: Sequence[tuple[IntakeRecord, Actor]], at: datetime) -> list[IntakeResult]:
    """Locate, route and stage the new cases, find their duplicates, dispatch the sure ones, then write all
    of it at once (one statement per table, `db.insert_new`): the new objects leave the session."""
    staged = _stage(session, [rec for rec, _ in items])
    cases = [st.case for st in staged]
    service.stage_cases(session, [(st.case, actor, at, st.data) for st, (_, actor) in zip(staged, items, strict=True)])
    try:
        found = duplicates.candidates_many(
            session,
            [
                duplicates.Query(
                    c.title, c.content, c.lon, c.lat, c.received_at, c.town_code, c.county_code, before_id=c.id
                )
                for c in cases
            ],
            stored=cases,
            shared_words=False,
        )
        for st, dups in zip(staged, found, strict=True):
            st.decision.duplicates = dups
        _load_departments(session, [st for st in staged if _dispatchable(st.decision)])
        results = [
            _after_open(session, st.case, rec, actor, st, at) for (rec, actor), st in zip(items, staged, strict=True)
        ]
        insert_new(session)
    except BaseException:
        duplicates.forget(session, [c.id for c in cases])
        raise
    return results


@dataclass
class _Staged:
    case: Case
    loc: Location
    decision: dispatch.RoutingDecision
    data: dict[str, Any]


def _stage(session: Session, recs: Sequence[IntakeRecord]) -> list[_Staged]:
    """Locate and route the matters (the batch's texts classified in one call) and build their case rows (not
    yet stored)."""
    locs = [locate(session, rec.lon, rec.lat, rec.address or rec.title) for rec in recs]
    inputs = [
        dispatch.RoutingInput(rec.title, rec.content, rec.channel, loc.county_code, loc.region_code, rec.lon, rec.lat)
        for rec, loc in zip(recs, locs, strict=True)
    ]
    decisions = dispatch.route_many(session, inputs)
    return [_build(rec, loc, decision) for rec, loc, decision in zip(recs, locs, decisions, strict=True)]


def _build(rec: IntakeRecord, loc: Location, decision: dispatch.RoutingDecision) -> _Staged:
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
            session,
            case.id,
            "handle_on_spot",
            actor,
            ActionInput(result=rec.on_spot_result),
            at,
            flush=False,
            case=case,
        )
    elif _dispatchable(decision) and _active(session, decision.department_id):
        service.act(
            session, case.id, "register", SYSTEM, ActionInput(note="置信度达到自动派遣阈值"), at, flush=False, case=case
        )
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
            case=case,
        )
        auto = True
    return _result(case, created=True, auto=auto)


def _dispatchable(decision: dispatch.RoutingDecision) -> bool:
    """Sure enough to dispatch at intake: confident, owned by a department, no transfer rule, no likely duplicate."""
    return bool(decision.auto and decision.department_id and not decision.triage and not _likely_duplicate(decision))


def _load_departments(session: Session, staged: Sequence[_Staged]) -> None:
    """The departments the batch will hand over to, in one query; held for the batch (the identity map only
    keeps what something else references), so that the batch's later lookups find them there."""
    ids = {d for st in staged for d in (st.decision.department_id, *st.decision.co_department_ids) if d}
    if ids:
        session.info[_HELD] = session.scalars(_DEPARTMENTS, {"ids": sorted(ids)}).all()


_HELD = "pingan.intake.departments"
_DEPARTMENTS = select(Department).where(Department.id.in_(bindparam("ids", expanding=True)))


def _active(session: Session, department_id: int | None) -> bool:
    # Routing reads departments from a per-process cache; the one we hand over to must still be active now.
    dep = session.get(Department, department_id) if department_id is not None else None
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
