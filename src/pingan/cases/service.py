"""The case service: the only code that writes cases and their timeline.

Every change goes through `act` (or `open_case` / `stage_cases` for the first event): the transition table decides,
the handler for the action applies its fields, one event is appended to the hash chain, and the
notifications it causes go to the outbox in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pingan.audit.chain import GENESIS, event_hash
from pingan.cases import deadlines, lifecycle
from pingan.cases.actors import Actor
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case, CaseDepartment, CaseEvent
from pingan.cases.policies import Limit, SatisfactionPolicy
from pingan.cases.schemas import ActionInput
from pingan.db import next_ids
from pingan.errors import Conflict, Invalid, NotFound
from pingan.notify import outbox
from pingan.orgs.models import Department
from pingan.orgs.roles import Role
from pingan.policy import registry
from pingan.timeutil import utcnow

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_tracking_code() -> str:
    """PA followed by 10 characters of 32: 50 random bits drawn at once (one read of the system randomness, not ten)."""
    bits = secrets.randbits(50)
    return "PA" + "".join(_CODE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(10))


def append_event(
    session: Session,
    case: Case,
    action: str,
    actor: Actor,
    at: datetime,
    from_status: str | None,
    to_status: str | None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    data = data or {}
    seq = case.event_count + 1
    prev = case.head_hash or GENESIS
    h = event_hash(
        prev, case.id, seq, action, actor.id, actor.name, str(actor.role), at, from_status, to_status, note, data
    )
    ev = CaseEvent(
        case_id=case.id,
        seq=seq,
        action=action,
        actor_id=actor.id,
        actor_name=actor.name,
        actor_role=str(actor.role),
        at=at,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data,
        prev_hash=prev,
        hash=h,
    )
    session.add(ev)
    case.event_count = seq
    case.head_hash = h
    case.updated_at = at
    return ev


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("case_not_found", f"案件 {case_id} 不存在", f"case {case_id} not found")
    return case


def find_by_external(session: Session, channel: str, external_id: str) -> Case | None:
    return find_many_by_external(session, [(channel, external_id)]).get((channel, external_id))


def find_many_by_external(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Case]:
    """The stored cases of these (channel, external id) pairs, one query per channel."""
    by_channel: dict[str, list[str]] = {}
    for channel, external_id in keys:
        by_channel.setdefault(channel, []).append(external_id)
    by_channel = {ch: sorted(set(ids)) for ch, ids in by_channel.items()}
    found: dict[tuple[str, str], Case] = {}
    with session.no_autoflush:
        # Most matters are new: a narrow probe first, whole cases only for the ones already stored.
        conn = session.connection()
        probe = _PROBE_PG if conn.dialect.name == "postgresql" else _PROBE
        stored = [int(r[0]) for ch, ids in by_channel.items() for r in conn.execute(probe, {"ch": ch, "ids": ids})]
        if stored:
            for case in session.scalars(select(Case).where(Case.id.in_(stored))):
                found[(case.channel, case.external_id)] = case
    return found


_PROBE = select(Case.id).where(Case.channel == bindparam("ch"), Case.external_id.in_(bindparam("ids", expanding=True)))
# PostgreSQL: one lookup in the (channel, external id) index per id, whatever the statistics say. With the
# statistics of a table that grew since it was last analysed (a fresh database under a bulk import), the IN
# form scanned every case of the channel through another index and compared each with all the ids: 29 ms for
# a batch of 250 among 6,000 cases, 1.2 ms once analysed; 0.3 ms this way (0.7 ms with the round trip).
_PROBE_PG = text(
    "SELECT c.id FROM unnest(CAST(:ids AS varchar[])) AS k(x) CROSS JOIN LATERAL "
    "(SELECT id FROM cases WHERE channel = :ch AND external_id = k.x LIMIT 1) AS c"
)


def open_case(session: Session, case: Case, actor: Actor, at: datetime, data: dict[str, Any]) -> tuple[Case, bool]:
    """Insert a new case with its 受理 event. Returns (case, created); a resubmission returns the original.

    Callers look the (channel, external id) up first; the unique constraint settles concurrent retries.
    """
    return open_cases(session, [(case, actor, at, data)])[0]


def open_cases(
    session: Session, items: Sequence[tuple[Case, Actor, datetime, dict[str, Any]]]
) -> list[tuple[Case, bool]]:
    """Insert new cases (one INSERT for all) with their 受理 events; (case, created) for each.

    When the batch meets the unique (channel, external id) constraint, a concurrent retry won a race: the
    batch is undone and each case is tried on its own, so that the ones that lost return the stored case.
    """
    try:
        with session.begin_nested():
            stage_cases(session, items)
            session.flush()
    except IntegrityError:
        if len(items) == 1:
            case = items[0][0]
            existing = find_by_external(session, case.channel, case.external_id)
            if existing is None:
                raise
            return [(existing, False)]
        return [r for item in items for r in open_cases(session, [item])]
    return [(case, True) for case, _, _, _ in items]


def _column_defaults() -> dict[str, Any]:
    """Each case column's value when nothing sets it: None, or its scalar default."""
    from sqlalchemy import inspect

    out: dict[str, Any] = {}
    for attr in inspect(Case).column_attrs:
        (col,) = attr.columns
        if col.primary_key or col.server_default is not None:
            continue
        if col.default is None:
            out[attr.key] = None
        elif col.default.is_scalar:
            out[attr.key] = col.default.arg
    return out


_DEFAULTS = _column_defaults()


def _fill_unset(case: Case) -> None:
    """Set every column nothing has set yet to its default, explicitly: the ORM sends rows with the same columns
    in one multi-row INSERT, and a batch mixes cases dispatched at once (deadlines, kind, department …) and not
    (16 cases took 8 INSERTs before)."""
    state = case.__dict__
    # Straight into the instance dict: the case is new, and an INSERT writes every column found there (the
    # attribute events of a setattr cost a fifth of staging a case).
    state.update({key: value for key, value in _DEFAULTS.items() if key not in state})


def stage_cases(session: Session, items: Sequence[tuple[Case, Actor, datetime, dict[str, Any]]]) -> None:
    """Give new cases their ids, tracking codes and 受理 events in memory; the caller's next flush writes them.

    With its id known before the INSERT, a case can take further actions (`act(..., case=)`, e.g. automatic
    dispatch) and still be written once, in its final state, with one multi-row INSERT per table. Callers stage
    inside a savepoint (`session.begin_nested()`), which they open before staging: SQLAlchemy flushes what is
    pending when a savepoint begins, and a (channel, external id) race must undo only the savepoint.
    """
    for (case, actor, at, data), case_id in zip(items, allocate_case_ids(session, len(items)), strict=True):
        _fill_unset(case)
        case.id = case_id
        case.status = Status.RECEIVED
        case.tracking_code = new_tracking_code()
        case.created_at = case.updated_at = at
        case.event_count, case.head_hash = 0, ""
        session.add(case)
        append_event(session, case, lifecycle.INTAKE_ACTION, actor, at, None, Status.RECEIVED, data=data)


def allocate_case_ids(session: Session, n: int) -> list[int]:
    """Ids for n cases not yet inserted."""
    if n <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = next_ids(session, cast(Table, Case.__table__), n)
        assert ids is not None, "cases.id has a sequence"
        return ids
    # SQLite: a writing transaction holds the database's write lock from its start (BEGIN IMMEDIATE, see
    # pingan.db), so no other writer can take these ids before our INSERT.
    top = int(session.scalar(select(func.max(Case.id))) or 0)
    return list(range(top + 1, top + 1 + n))


def act(
    session: Session,
    case_id: int,
    action: str,
    actor: Actor,
    inp: ActionInput | None = None,
    at: datetime | None = None,
    *,
    flush: bool = True,
    case: Case | None = None,
) -> Case:
    """Apply one lifecycle action to a case (the only way a case changes after intake).

    `flush=False` leaves the writes to the caller's next flush (the intake pipeline writes a batch at once);
    `case`: the case object itself when the caller holds it (a staged case that is not yet in the database).
    """
    inp = inp or ActionInput()
    at = at or utcnow()
    case = case if case is not None else get_case(session, case_id)
    if inp.version is not None and inp.version != case.version:
        raise Conflict(
            "version_conflict",
            "案件已被他人修改，请刷新后重试",
            "the case was changed by someone else; reload and retry",
            expected=inp.version,
            current=case.version,
        )
    t = lifecycle.check(case.status, action, actor.role)
    _check_scope(case, action, actor)
    from_status = case.status
    data: dict[str, Any] = {}
    handler = _HANDLERS.get(action)
    if handler is not None:
        data = handler(session, case, actor, inp, at) or {}
    if t.target is not None and case.status == from_status:
        case.status = t.target
    if inp.attachment_ids:
        data["attachment_ids"] = inp.attachment_ids
    if inp.reason:
        data.setdefault("reason", inp.reason)
    append_event(session, case, action, actor, at, from_status, case.status, inp.note, data)
    if not flush:
        return case
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            "version_conflict",
            "案件已被他人同时修改，请刷新后重试",
            "the case was changed by someone else at the same time; reload and retry",
        ) from exc
    return case


def _check_scope(case: Case, action: str, actor: Actor) -> None:
    if actor.role == Role.HANDLER:
        mine = [d for d in case.departments if d.department_id == actor.department_id and d.active]
        if not mine:
            raise Conflict("not_your_case", "该案件未交办给您的部门", "this case is not assigned to your department")
        is_lead = any(d.role == "lead" for d in mine)
        if action == "co_feedback" and is_lead:
            raise Conflict("lead_not_co", "主办部门请使用“处置反馈”", "the lead department gives 'feedback'")
        if action != "co_feedback" and action != "comment" and not is_lead:
            raise Conflict("co_only", "协办部门只能提交协办反馈", "a co-handling department may only co_feedback")
    if actor.role == Role.CHANNEL and action == "revisit" and actor.channel != lifecycle.RESIDENT_CHANNEL:
        raise Conflict("not_resident", "渠道接口不能回访，请由坐席回访", "a channel system may not revisit")
    if actor.role == Role.GRID_WORKER and action == "handle_on_spot" and case.reporter_id != actor.id:
        raise Conflict(
            "not_your_report", "只能即办自己上报的事项", "only the reporting grid worker may handle on the spot"
        )


def _require(value: Any, field: str, zh: str) -> Any:
    if value is None or value == "" or value == []:
        raise Invalid(
            "field_required", f"此操作需要填写{zh}（{field}）", f"this action requires '{field}'", field=field
        )
    return value


def _department(session: Session, dep_id: int) -> Department:
    dep = session.get(Department, dep_id)
    if dep is None or not dep.active:
        raise Invalid(
            "department_unknown",
            f"部门 {dep_id} 不存在或已停用",
            f"department {dep_id} unknown or inactive",
            field="department_id",
        )
    return dep


Handler = Callable[[Session, Case, Actor, ActionInput, datetime], dict[str, Any] | None]


def _reject(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "不予立案原因")
    case.closed_at = at
    return {}


def _merge(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    target_id = _require(inp.target_case_id, "target_case_id", "主案件编号")
    if target_id == case.id:
        raise Invalid("merge_self", "不能与自身并案", "a case cannot be merged into itself")
    target = get_case(session, target_id)
    if target.status in lifecycle.TERMINAL:
        raise Conflict(
            "merge_target_closed", "主案件已办结或已并案，不能并入", "the main case is finished or merged itself"
        )
    case.merged_into_id = target.id
    case.closed_at = at
    append_event(
        session,
        target,
        "merged_in",
        actor,
        at,
        target.status,
        target.status,
        f"并入案件 {case.tracking_code}",
        {"merged_case_id": case.id},
    )
    return {"target_case_id": target.id}


def _transfer_110(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "转办理由")
    outbox.enqueue(
        session,
        f"transfer:{case.id}:{case.event_count + 1}",
        "transfer",
        case.id,
        "platform:110",
        {"tracking_code": case.tracking_code, "reason": inp.reason, "title": case.title},
        at,
    )
    return {"three_way_call": inp.three_way_call, "to": "110", "owner_platform": case.owner_platform}


def _confirm_transfer(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    case.owner_platform = "110"
    case.closed_at = at
    return {"incident_no": inp.incident_no}


def _refuse_transfer(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "不予接收理由")
    return {"three_way_call": inp.three_way_call, "first_owner_keeps": case.owner_platform}


def _handle_on_spot(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.result, "result", "处置结果")
    case.kind = "即办件"
    case.closed_at = at
    return {"result": inp.result}


def _assign(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    lead = _department(session, _require(inp.department_id, "department_id", "承办部门"))
    if inp.category:
        from pingan.dispatch.dataset import LABELS

        if inp.category not in LABELS:
            zh, en = f"类别须为：{'、'.join(LABELS)}", f"category must be one of {list(LABELS)}"
            raise Invalid("category_unknown", zh, en, field="category")
    if actor.role != Role.SYSTEM:
        from pingan.dispatch.corrections import record_if_corrected

        # A person overriding the routing suggestion teaches the next training run.
        record_if_corrected(session, case, lead.id, inp.category, at)
    if inp.category:
        case.category = inp.category
    co = [_department(session, d) for d in dict.fromkeys(inp.co_department_ids) if d != lead.id]
    for link in case.departments:
        link.active = False
    links = {d.department_id: d for d in case.departments}
    for dep, role in [(lead, "lead"), *[(d, "co") for d in co]]:
        existing = links.get(dep.id)
        if existing is None:
            case.departments.append(CaseDepartment(department_id=dep.id, role=role, active=True))
        else:
            existing.role, existing.active, existing.feedback = role, True, None
    case.department_id = lead.id
    case.kind = "协调件" if co else ("即办件" if case.kind == "即办件" else "承诺件")
    case.assigned_at = at
    case.signed_at = None
    deadlines.set_deadlines(case, at, deadlines.calendar(session))
    for dep in [lead, *co]:
        outbox.enqueue(
            session,
            f"assigned:{case.id}:{case.event_count + 1}:{dep.id}",
            "assigned",
            case.id,
            f"department:{dep.id}",
            {
                "tracking_code": case.tracking_code,
                "title": case.title,
                "deadline_at": case.deadline_at.isoformat() if case.deadline_at else None,
                "role": "lead" if dep is lead else "co",
            },
            at,
        )
    return {
        "department_id": lead.id,
        "department": lead.name,
        "co_department_ids": [d.id for d in co],
        "deadline_at": case.deadline_at.isoformat() if case.deadline_at else None,
        "deadline_provisional": case.deadline_provisional,
    }


def _sign(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    case.signed_at = at
    on_time = case.sign_deadline_at is None or at <= case.sign_deadline_at
    return {"on_time": on_time}


def _return(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "退单理由")
    dep_id = case.department_id
    for link in case.departments:
        link.active = False
    case.department_id = None
    case.return_count += 1
    case.deadline_at = case.sign_deadline_at = case.urge_at = case.escalate_at = None
    case.signed_at = None
    return {"department_id": dep_id}


def _feedback(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.result, "result", "处置结果")
    return {"result": inp.result}


def _co_feedback(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.result, "result", "协办意见")
    for link in case.departments:
        if link.department_id == actor.department_id:
            link.feedback = inp.result
    return {"result": inp.result, "department_id": actor.department_id}


def _verify_fail(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "核查不通过原因")
    case.rework_count += 1
    return {"rework": case.rework_count}


def _close(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    case.closed_at = at
    on_time = case.deadline_at is None or at <= case.deadline_at
    merged = session.scalars(select(Case).where(Case.merged_into_id == case.id)).all()
    for m in [case, *merged]:
        outbox.enqueue(
            session,
            f"closed:{case.id}:{case.event_count + 1}:{m.id}",
            "closed",
            case.id,
            "caller",
            {"tracking_code": m.tracking_code, "main_tracking_code": case.tracking_code, "title": case.title},
            at,
        )
    return {"on_time": on_time, "informed_case_ids": [m.id for m in merged]}


def _revisit(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    pol = registry.load("satisfaction", SatisfactionPolicy)
    level = _require(inp.satisfaction, "satisfaction", "满意度")
    if level not in pol.levels:
        raise Invalid(
            "satisfaction_unknown",
            f"满意度须为：{'、'.join(pol.levels)}",
            f"satisfaction must be one of {pol.levels}",
            field="satisfaction",
        )
    case.satisfaction = level
    reopen = level in pol.reopen_on or (
        pol.reopen_on_unsatisfied_if_unsolved and level not in pol.satisfied and inp.solved is False
    )
    if reopen:
        case.status = Status.IN_PROGRESS
        case.closed_at = None
        case.rework_count += 1
        deadlines.set_deadlines(case, at, deadlines.calendar(session))
    return {"satisfaction": level, "solved": inp.solved, "satisfied": level in pol.satisfied, "reopened": reopen}


def _reopen(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "重新办理原因")
    if case.department_id is None:
        raise Conflict("no_department", "案件没有承办部门，不能重新办理", "the case has no department to reopen with")
    case.closed_at = None
    case.rework_count += 1
    deadlines.set_deadlines(case, at, deadlines.calendar(session))
    return {}


def _request_extension(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "延期理由")
    amount = _require(inp.amount, "amount", "延期时长")
    if case.pending_request:
        raise Conflict("request_pending", "已有待审批的申请", "a request is already waiting for approval")
    unit = inp.unit or "work_days"
    _check_extension(amount, unit)
    case.pending_request = {
        "type": "extension",
        "amount": amount,
        "unit": unit,
        "reason": inp.reason,
        "by": actor.name,
        "at": at.isoformat(),
    }
    return {"amount": amount, "unit": unit}


def _check_extension(amount: float, unit: str) -> None:
    cap = deadlines.policy().extension_max
    hours = {"work_days": 8.0, "work_hours": 1.0, "hours": 1 / 3}
    if amount * hours[unit] > cap.amount * hours[cap.unit]:
        raise Invalid(
            "extension_too_long",
            f"延期不得超过 {cap.amount:g} {cap.unit}",
            f"an extension may not exceed {cap.amount:g} {cap.unit}",
            field="amount",
        )


def _pending(case: Case, kind: str) -> dict[str, Any]:
    req = case.pending_request
    if not req or req.get("type") != kind:
        raise Conflict("no_pending_request", "没有待审批的申请", f"there is no pending {kind} request")
    return req


def _approve_extension(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    req = _pending(case, "extension")
    amount = inp.amount or req["amount"]
    unit = inp.unit or req["unit"]
    _check_extension(amount, unit)
    basis = case.sla_basis or {}
    exts = [*basis.get("extensions", []), {"amount": amount, "unit": unit}]
    if basis:
        deadlines.set_deadlines(
            case,
            datetime.fromisoformat(basis["start"]),
            deadlines.calendar(session),
            exts,
            Limit(amount=basis["amount"], unit=basis["unit"]),
        )
    case.pending_request = None
    return {"amount": amount, "unit": unit, "deadline_at": case.deadline_at.isoformat() if case.deadline_at else None}


def _deny(kind: str) -> Handler:
    def handler(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
        _require(inp.reason, "reason", "驳回理由")
        _pending(case, kind)
        case.pending_request = None
        return {}

    return handler


def _request_suspension(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "缓办理由")
    if case.pending_request:
        raise Conflict("request_pending", "已有待审批的申请", "a request is already waiting for approval")
    case.pending_request = {"type": "suspension", "reason": inp.reason, "by": actor.name, "at": at.isoformat()}
    return {}


def _approve_suspension(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    _pending(case, "suspension")
    case.pending_request = None
    case.resume_status = case.status
    return {}


def _resume(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    # The clock stopped while suspended: restart the full limit from now.
    case.resume_status = None
    deadlines.set_deadlines(case, at, deadlines.calendar(session))
    return {"deadline_at": case.deadline_at.isoformat() if case.deadline_at else None}


def _urge(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    case.urge_count += 1
    if case.department_id is not None:
        outbox.enqueue(
            session,
            f"urge:{case.id}:{case.event_count + 1}",
            "urge",
            case.id,
            f"department:{case.department_id}",
            {"tracking_code": case.tracking_code, "note": inp.note, "by": actor.name},
            at,
        )
    return {"urge_count": case.urge_count}


def _supervise(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    case.supervised = True
    outbox.enqueue(
        session,
        f"supervise:{case.id}:{case.event_count + 1}",
        "supervise",
        case.id,
        f"department:{case.department_id}",
        {"tracking_code": case.tracking_code, "note": inp.note},
        at,
    )
    return {}


def _escalate(session: Session, case: Case, actor: Actor, inp: ActionInput, at: datetime) -> dict[str, Any]:
    case.escalation_level += 1
    outbox.enqueue(
        session,
        f"escalate:{case.id}:{case.event_count + 1}",
        "escalate",
        case.id,
        f"region:{case.county_code}:level{case.escalation_level}",
        {"tracking_code": case.tracking_code, "level": case.escalation_level, "note": inp.note},
        at,
    )
    return {"level": case.escalation_level}


_HANDLERS: dict[str, Handler] = {
    "reject": _reject,
    "merge": _merge,
    "transfer_110": _transfer_110,
    "confirm_transfer": _confirm_transfer,
    "refuse_transfer": _refuse_transfer,
    "handle_on_spot": _handle_on_spot,
    "assign": _assign,
    "sign": _sign,
    "return": _return,
    "feedback": _feedback,
    "co_feedback": _co_feedback,
    "verify_fail": _verify_fail,
    "close": _close,
    "revisit": _revisit,
    "reopen": _reopen,
    "request_extension": _request_extension,
    "approve_extension": _approve_extension,
    "deny_extension": _deny("extension"),
    "request_suspension": _request_suspension,
    "approve_suspension": _approve_suspension,
    "deny_suspension": _deny("suspension"),
    "resume": _resume,
    "urge": _urge,
    "supervise": _supervise,
    "escalate": _escalate,
}
