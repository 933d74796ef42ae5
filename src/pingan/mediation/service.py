"""The mediation service: the only writer of disputes, parties, sessions, documents and petitions.

Every change goes through `register_dispute` / `act` (or `register_petition` / `petition_act`): the transition
table decides, the handler applies its fields, one event is appended to the record's hash chain
(pingan.audit.chain.event_hash), and the alerts it causes go to the outbox in the same transaction.
"""

from __future__ import annotations

import calendar as _cal
import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pingan.audit.chain import GENESIS, event_hash
from pingan.cases import deadlines
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.policies import Limit
from pingan.errors import Conflict, Invalid, NotFound
from pingan.geo.models import Region
from pingan.mediation import lifecycle
from pingan.mediation.lifecycle import D_LABELS, DISPUTE_TABLE, P_LABELS, PETITION_TABLE, DStatus, PStatus
from pingan.mediation.models import (
    Dispute,
    DisputeDocument,
    DisputeEvent,
    DisputeParty,
    MediationSession,
    Mediator,
    Petition,
    PetitionEvent,
)
from pingan.mediation.policies import RISK_ORDER, MediationPolicy
from pingan.mediation.schemas import (
    DisputeActionInput,
    DisputeIn,
    PetitionActionInput,
    PetitionIn,
    RiskInput,
)
from pingan.notify import outbox
from pingan.notify.models import OutboxMessage
from pingan.orgs.models import User
from pingan.orgs.roles import Role
from pingan.policy import registry
from pingan.timeutil import to_cst, utcnow

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# Signed agreements come back as a scan or a PDF: checked by content, not by the name.
_MAGIC = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def policy() -> MediationPolicy:
    return registry.load("mediation", MediationPolicy)


def person_key(id_number: str | None, phone: str | None) -> str | None:
    """A stable key of a person for linking petitions and parties (hash, not the number itself)."""
    raw = (id_number or "").strip().upper() or "".join(ch for ch in (phone or "") if ch.isdigit())[-11:]
    if not raw:
        return None
    return hashlib.sha256(("person:" + raw).encode()).hexdigest()


# ---------------------------------------------------------------- hash chains


def _append(
    session: Session,
    record: Dispute | Petition,
    event_cls: type[DisputeEvent] | type[PetitionEvent],
    action: str,
    actor: Actor,
    at: datetime,
    from_status: str | None,
    to_status: str | None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    data = data or {}
    seq = record.event_count + 1
    prev = record.head_hash or GENESIS
    h = event_hash(
        prev, record.id, seq, action, actor.id, actor.name, str(actor.role), at, from_status, to_status, note, data
    )
    fields: dict[str, Any] = {
        "seq": seq,
        "action": action,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "actor_role": str(actor.role),
        "at": at,
        "from_status": from_status,
        "to_status": to_status,
        "note": note,
        "data": data,
        "prev_hash": prev,
        "hash": h,
    }
    if event_cls is DisputeEvent:
        session.add(DisputeEvent(dispute_id=record.id, **fields))
    else:
        session.add(PetitionEvent(petition_id=record.id, **fields))
    record.event_count = seq
    record.head_hash = h
    record.updated_at = at


def verify_chains(session: Session) -> list[str]:
    """Check every dispute's and petition's timeline; returns the problems found (empty when intact)."""
    problems: list[str] = []
    groups: list[tuple[str, list[Any], list[Any]]] = [
        (
            "dispute",
            list(session.scalars(select(Dispute))),
            list(session.scalars(select(DisputeEvent).order_by(DisputeEvent.dispute_id, DisputeEvent.seq))),
        ),
        (
            "petition",
            list(session.scalars(select(Petition))),
            list(session.scalars(select(PetitionEvent).order_by(PetitionEvent.petition_id, PetitionEvent.seq))),
        ),
    ]
    for kind, records, all_events in groups:
        events: dict[int, list[Any]] = {}
        for ev in all_events:
            events.setdefault(ev.dispute_id if kind == "dispute" else ev.petition_id, []).append(ev)
        for rec in records:
            prev = GENESIS
            evs = events.get(rec.id, [])
            for i, ev in enumerate(evs, start=1):
                h = event_hash(
                    ev.prev_hash, rec.id, ev.seq, ev.action, ev.actor_id, ev.actor_name, ev.actor_role,
                    ev.at, ev.from_status, ev.to_status, ev.note, ev.data or {},
                )  # fmt: skip
                if ev.seq != i or ev.prev_hash != prev or h != ev.hash:
                    problems.append(f"{kind} {rec.id} event #{ev.seq}: chain broken or content edited")
                prev = ev.hash
            if rec.event_count != len(evs) or rec.head_hash != prev:
                problems.append(f"{kind} {rec.id}: head hash/event count do not match the timeline")
    return problems


# ---------------------------------------------------------------- helpers


def _require(value: Any, field: str, zh: str) -> Any:
    if value is None or value == "" or value == []:
        raise Invalid(
            "field_required", f"此操作需要填写{zh}（{field}）", f"this action requires '{field}'", field=field
        )
    return value


def add_months(value: datetime, months: int) -> datetime:
    local = to_cst(value)
    month0 = local.month - 1 + months
    year, month = local.year + month0 // 12, month0 % 12 + 1
    day = min(local.day, _cal.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def mediation_deadline(session: Session, start: datetime) -> datetime:
    lim = policy().limit
    if lim.unit == "months":
        return add_months(start, lim.amount)
    if lim.unit == "days":
        return start + timedelta(days=lim.amount)
    deadline, _ = deadlines.calendar(session).add(start, Limit(amount=lim.amount, unit="work_days"))
    return deadline


def local_date(at: datetime) -> date:
    return to_cst(at).date()


def get_dispute(session: Session, dispute_id: int) -> Dispute:
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise NotFound("dispute_not_found", f"纠纷 {dispute_id} 不存在", f"dispute {dispute_id} not found")
    return d


def get_petition(session: Session, petition_id: int) -> Petition:
    p = session.get(Petition, petition_id)
    if p is None:
        raise NotFound("petition_not_found", f"信访件 {petition_id} 不存在", f"petition {petition_id} not found")
    return p


def get_mediator(session: Session, mediator_id: int) -> Mediator:
    m = session.get(Mediator, mediator_id)
    if m is None or not m.active:
        raise Invalid(
            "mediator_unknown",
            f"调解员 {mediator_id} 不存在或已停用",
            f"mediator {mediator_id} unknown or inactive",
            field="mediator_id",
        )
    return m


def _region(session: Session, code: str) -> tuple[str, str | None]:
    """(county code, town code) of a region code; the region must exist."""
    if session.get(Region, code) is None:
        raise Invalid("region_unknown", f"行政区划 {code} 不存在", f"region {code} unknown", field="region_code")
    return code[:6], (code[:9] if len(code) >= 9 else None)


# ---------------------------------------------------------------- risk


def assess_risk(session: Session, d: Dispute, obs: RiskInput) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """Level and reasons from what the mediator observed and what the records say."""
    pol = policy().risk
    keys = [p.person_key for p in d.parties if p.person_key]
    petitions = 0
    if keys:
        petitions = session.scalar(select(func.count()).select_from(Petition).where(Petition.person_key.in_(keys))) or 0
    values: dict[str, Any] = {
        "threats": obs.threats,
        "prior_violence": obs.prior_violence,
        "repeated_petitions": petitions,
        "group_size": d.people_count,
        "amount": float(d.amount or 0),
    }
    points = 0
    reasons: list[dict[str, Any]] = []
    for name, factor in pol.factors.items():
        value = values[name]
        hit = bool(value) if factor.min is None else float(value) >= factor.min
        if hit:
            points += factor.points
            reasons.append({"factor": name, "label": factor.label, "value": value, "points": factor.points})
    return pol.level_for(points), reasons, {**values, "points": points}


def _apply_risk(session: Session, d: Dispute, obs: RiskInput, actor: Actor, at: datetime) -> dict[str, Any]:
    before = d.risk_level if d.event_count else None
    level, reasons, factors = assess_risk(session, d, obs)
    d.risk_level, d.risk_reasons, d.risk_factors = level, reasons, factors
    if RISK_ORDER[level] > RISK_ORDER[d.peak_risk]:
        d.peak_risk = level
    alerted: list[str] = []
    if level == "high" and before != "high":
        alerted = _alert(session, d, "risk_alert", at, {"level": level, "reasons": [r["label"] for r in reasons]})
    return {"risk_level": level, "risk_before": before, "risk_reasons": reasons, "alerted": alerted}


def _alert(session: Session, d: Dispute, kind: str, at: datetime, extra: dict[str, Any]) -> list[str]:
    where = d.town_code or d.county_code
    out = []
    for i, tpl in enumerate(policy().alert_recipients):
        recipient = tpl.replace("{town}", where)
        outbox.enqueue(
            session,
            f"dispute:{kind}:{d.id}:{d.event_count + 1}:{i}",
            kind,
            d.case_id,
            recipient,
            {
                # No personal data in messages (titles often name the parties): the recipient opens the record.
                "dispute_id": d.id,
                "code": d.code,
                "type": d.dispute_type,
                "region_code": d.region_code,
                "people_count": d.people_count,
                **extra,
            },
            at,
        )
        out.append(recipient)
    return out


# ---------------------------------------------------------------- disputes


def register_dispute(session: Session, inp: DisputeIn, actor: Actor, at: datetime | None = None) -> Dispute:
    if actor.role not in lifecycle.REGISTER_ROLES:
        raise Conflict("role_not_allowed", f"角色“{actor.role}”无权登记纠纷", f"role '{actor.role}' may not register")
    at = at or utcnow()
    pol = policy()
    if inp.dispute_type not in pol.dispute_types:
        raise Invalid(
            "dispute_type_unknown",
            f"纠纷类型须为：{'、'.join(pol.dispute_types)}",
            f"dispute_type must be one of {pol.dispute_types}",
            field="dispute_type",
        )
    if inp.way not in pol.ways:
        raise Invalid(
            "way_unknown", f"调解方式须为：{'、'.join(pol.ways)}", f"way must be one of {pol.ways}", field="way"
        )
    county, town = _region(session, inp.region_code)
    source_ref = inp.source_ref
    if inp.source == "case":
        case = session.get(Case, _require(inp.case_id, "case_id", "来源案件"))
        if case is None:
            raise Invalid(
                "case_unknown", f"案件 {inp.case_id} 不存在", f"case {inp.case_id} not found", field="case_id"
            )
        source_ref = source_ref or case.tracking_code
    elif inp.case_id is not None:
        raise Invalid("case_id_only_for_case", "只有来源为案件时才能填写案件编号", "case_id needs source 'case'")
    petition = None
    if inp.source == "petition":
        petition = get_petition(session, _require(inp.petition_id, "petition_id", "来源信访件"))
        if petition.dispute_id is not None:
            raise Conflict("petition_linked", "该信访件已转为纠纷调解", "this petition already has a dispute")
        source_ref = petition.code
    if inp.source == "sweep" and not (inp.grid_code or source_ref):
        raise Invalid("sweep_needs_grid", "网格排查须填写网格编码", "a sweep needs the grid code", field="grid_code")
    if inp.source == "court":
        _require(source_ref, "source_ref", "法院委派函号")
    mediator = get_mediator(session, inp.mediator_id) if inp.mediator_id else None
    d = Dispute(
        code="TJ-" + secrets.token_hex(6),
        title=inp.title,
        dispute_type=inp.dispute_type,
        scale=inp.scale,
        people_count=inp.people_count,
        amount=inp.amount,
        place=inp.place,
        region_code=inp.region_code,
        county_code=county,
        town_code=town,
        grid_code=inp.grid_code,
        description=inp.description,
        source=inp.source,
        source_ref=source_ref,
        case_id=inp.case_id,
        way=inp.way,
        organisation=inp.organisation or (mediator.organisation if mediator else ""),
        mediator_id=mediator.id if mediator else None,
        center=inp.center,
        family_kind=inp.family_kind,
        status=DStatus.REGISTERED,
        registered_at=at,
        updated_at=at,
        created_by=actor.name,
    )
    for p in inp.parties:
        d.parties.append(
            DisputeParty(
                role=p.role,
                name=p.name,
                phone=p.phone,
                id_number=p.id_number.upper() if p.id_number else None,
                address=p.address,
                minor=p.minor,
                person_key=person_key(p.id_number, p.phone),
            )
        )
    session.add(d)
    session.flush()
    d.code = f"TJ{local_date(at):%Y}{d.id:06d}"
    risk = _apply_risk(session, d, inp.risk, actor, at)
    if petition is not None:
        petition.dispute_id = d.id
        _append(session, petition, PetitionEvent, "to_dispute", actor, at, petition.status, petition.status,
                data={"dispute_id": d.id, "code": d.code})  # fmt: skip
    _append(
        session, d, DisputeEvent, "register", actor, at, None, DStatus.REGISTERED,
        data={"source": d.source, "source_ref": d.source_ref, "case_id": d.case_id, **risk},
    )  # fmt: skip
    session.flush()
    return d


def act(
    session: Session,
    dispute_id: int,
    action: str,
    actor: Actor,
    inp: DisputeActionInput | None = None,
    at: datetime | None = None,
) -> Dispute:
    """Apply one lifecycle action to a dispute (the only way a dispute changes after registration)."""
    inp = inp or DisputeActionInput()
    at = at or utcnow()
    d = get_dispute(session, dispute_id)
    if inp.version is not None and inp.version != d.version:
        raise Conflict(
            "version_conflict",
            "纠纷记录已被他人修改，请刷新后重试",
            "the dispute was changed by someone else; reload and retry",
            expected=inp.version,
            current=d.version,
        )
    t = lifecycle.check(DISPUTE_TABLE, D_LABELS, d.status, action, actor.role)
    _check_scope(session, d, action, actor)
    from_status = d.status
    handler = _HANDLERS.get(action)
    data: dict[str, Any] = handler(session, d, actor, inp, at) if handler else {}
    if t.target is not None and d.status == from_status:
        d.status = t.target
    if inp.reason:
        data.setdefault("reason", inp.reason)
    _append(session, d, DisputeEvent, action, actor, at, from_status, d.status, inp.note, data)
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as exc:
        raise Conflict(
            "version_conflict",
            "纠纷记录已被他人同时修改，请刷新后重试",
            "the dispute was changed by someone else at the same time; reload and retry",
        ) from exc
    return d


def _check_scope(session: Session, d: Dispute, action: str, actor: Actor) -> None:
    """A mediator acts only on the disputes assigned to them (or unassigned ones)."""
    if actor.role != Role.MEDIATOR or action == "comment" or d.mediator_id is None:
        return
    m = session.get(Mediator, d.mediator_id)
    if m is None or m.user_id != actor.id:
        raise Conflict("not_your_dispute", "该纠纷已指派给其他调解员", "this dispute is assigned to another mediator")


DHandler = Callable[[Session, Dispute, Actor, DisputeActionInput, datetime], dict[str, Any]]


def _accept(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    if d.mediator_id is None and inp.mediator_id is None and actor.role == Role.MEDIATOR:
        mine = session.scalars(select(Mediator).where(Mediator.user_id == actor.id, Mediator.active)).first()
        if mine is not None:
            d.mediator_id = mine.id
    if inp.mediator_id is not None:
        d.mediator_id = get_mediator(session, inp.mediator_id).id
    d.accepted_at = at
    d.deadline_at = mediation_deadline(session, at)
    return {"deadline_at": d.deadline_at.isoformat(), "mediator_id": d.mediator_id}


def _party(d: Dispute, party_id: int | None) -> DisputeParty:
    pid = _require(party_id, "party_id", "当事人")
    for p in d.parties:
        if p.id == pid:
            return p
    raise Invalid("party_unknown", f"当事人 {pid} 不属于该纠纷", f"party {pid} is not a party of this dispute")


def _refuse(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    # 人民调解法第十七条: 当事人一方明确拒绝调解的，不得调解.
    _require(inp.reason, "reason", "拒绝理由")
    p = _party(d, inp.party_id)
    p.refused = True
    d.outcome = "拒绝调解"
    d.closed_at = at
    return {"party_id": p.id, "party_role": p.role}


def _assign_mediator(
    session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime
) -> dict[str, Any]:
    m = get_mediator(session, _require(inp.mediator_id, "mediator_id", "调解员"))
    before = d.mediator_id
    d.mediator_id = m.id
    d.organisation = d.organisation or m.organisation
    return {"mediator_id": m.id, "mediator": m.name, "before": before}


def _hold_session(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    s = _require(inp.session, "session", "调解记录")
    held_at = s.held_at or at
    if s.people_count is not None:
        d.people_count = s.people_count
    if s.amount is not None:
        d.amount = s.amount
    risk = _apply_risk(session, d, s.risk, actor, at)
    d.session_count += 1
    d.sessions.append(
        MediationSession(
            seq=d.session_count,
            held_at=held_at,
            place=s.place,
            participants=list(s.participants),
            notes=s.notes,
            risk_level=risk["risk_level"],
            risk_reasons=risk["risk_reasons"],
            recorded_by=actor.name,
        )
    )
    return {"session": d.session_count, "held_at": held_at.isoformat(), "place": s.place, **risk}


def _assess(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    return _apply_risk(session, d, _require(inp.risk, "risk", "风险评估"), actor, at)


def _marriage(d: Dispute) -> bool:
    return d.center.startswith("marriage") or d.dispute_type == "婚姻家庭"


def _start_cooling_off(
    session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime
) -> dict[str, Any]:
    if d.family_kind != "divorce":
        raise Conflict("not_divorce", "只有离婚纠纷才有冷静期", "only a divorce dispute has a cooling-off period")
    today = local_date(at)
    if d.cooling_off_until is not None and d.cooling_off_until >= today:
        raise Conflict("cooling_off_running", "冷静期尚未结束", "the cooling-off period is still running")
    d.cooling_off_until = today + timedelta(days=policy().cooling_off_days)
    return {"cooling_off_until": d.cooling_off_until.isoformat()}


def _reach_agreement(
    session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime
) -> dict[str, Any]:
    a = _require(inp.agreement, "agreement", "协议内容")
    if a.outcome in ("和好", "协议离婚") and not _marriage(d):
        raise Invalid("outcome_not_family", "和好/协议离婚只适用于婚姻家庭纠纷", "和好/协议离婚 are family outcomes")
    if a.performance_deadline < local_date(at):
        raise Invalid("deadline_past", "履行期限不能早于今天", "the performance deadline is in the past")
    if d.cooling_off_until is not None and a.outcome == "协议离婚" and local_date(at) < d.cooling_off_until:
        raise Conflict(
            "cooling_off_running",
            f"冷静期至 {d.cooling_off_until} 结束，之前不能达成离婚协议",
            f"the cooling-off period runs until {d.cooling_off_until}",
        )
    d.agreement = {
        "facts": a.facts,
        "terms": list(a.terms),
        "performance_manner": a.performance_manner,
        "performance_deadline": a.performance_deadline.isoformat(),
        "outcome": a.outcome,
    }
    d.outcome = a.outcome
    d.agreed_at = at
    return {"agreement": d.agreement}


def _sign(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    doc_id = _require(inp.document_id, "document_id", "已签署协议扫描件")
    doc = session.get(DisputeDocument, doc_id)
    if doc is None or doc.dispute_id != d.id or doc.kind != "signed_agreement":
        raise Invalid(
            "document_unknown",
            "请先上传该纠纷已签署的协议书（signed_agreement）",
            "upload this dispute's signed agreement first",
            field="document_id",
        )
    d.signed_document_id = doc.id
    d.signed_at = at
    d.judicial_deadline = local_date(at) + timedelta(days=policy().judicial_confirmation_days)
    return {"document_id": doc.id, "sha256": doc.sha256, "judicial_deadline": d.judicial_deadline.isoformat()}


def _record_performance(
    session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime
) -> dict[str, Any]:
    _require(inp.note, "note", "履行情况")
    return {}


def _complete(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    d.performed_at = at
    due = (d.agreement or {}).get("performance_deadline")
    return {"on_time": due is None or local_date(at) <= date.fromisoformat(due)}


def _revisit(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.note, "note", "回访情况")
    d.revisit_count += 1
    if inp.evaluation:
        d.evaluation = inp.evaluation
    if d.status == DStatus.PERFORMED:
        d.status = DStatus.REVISITED
    return {"revisit": d.revisit_count, "evaluation": inp.evaluation}


def _close(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    d.closed_at = at
    return {"outcome": d.outcome}


def _terminate(session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime) -> dict[str, Any]:
    _require(inp.reason, "reason", "终止理由")
    routes = _require(inp.routes, "routes", "告知的其他途径")
    known = policy().routes
    bad = [r for r in routes if r not in known]
    if bad:
        raise Invalid("route_unknown", f"途径须为：{'、'.join(known)}", f"routes must be among {known}", field="routes")
    d.routes = list(dict.fromkeys(routes))
    d.outcome = "转诉讼" if _marriage(d) and "诉讼" in routes else "调解终止"
    d.closed_at = at
    return {"routes": d.routes, "outcome": d.outcome}


def _apply_judicial(
    session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime
) -> dict[str, Any]:
    if d.judicial_applied_at is not None:
        raise Conflict("judicial_applied", "已申请司法确认", "judicial confirmation was already applied for")
    if d.judicial_deadline is None or local_date(at) > d.judicial_deadline:
        raise Conflict(
            "judicial_window_closed",
            f"已超过司法确认申请期限（{d.judicial_deadline}）",
            f"the 30-day window for judicial confirmation ended on {d.judicial_deadline}",
        )
    d.judicial_applied_at = at
    return {"judicial_deadline": d.judicial_deadline.isoformat()}


def _judicial_result(
    session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime
) -> dict[str, Any]:
    if d.judicial_applied_at is None:
        raise Conflict("judicial_not_applied", "尚未申请司法确认", "judicial confirmation was not applied for")
    d.judicial_result = _require(inp.result, "result", "司法确认结果")
    return {"result": d.judicial_result}


def _record_incident(
    session: Session, d: Dispute, actor: Actor, inp: DisputeActionInput, at: datetime
) -> dict[str, Any]:
    kind = _require(inp.incident_kind, "incident_kind", "激化类型")
    _require(inp.note, "note", "情况说明")
    d.escalated = True
    if kind == "群体性事件":
        d.group_incident = True
    alerted = _alert(session, d, "dispute_incident", at, {"incident_kind": kind})
    return {"incident_kind": kind, "alerted": alerted}


_HANDLERS: dict[str, DHandler] = {
    "accept": _accept,
    "refuse": _refuse,
    "assign_mediator": _assign_mediator,
    "hold_session": _hold_session,
    "assess_risk": _assess,
    "start_cooling_off": _start_cooling_off,
    "reach_agreement": _reach_agreement,
    "sign": _sign,
    "record_performance": _record_performance,
    "complete_performance": _complete,
    "revisit": _revisit,
    "close": _close,
    "terminate": _terminate,
    "apply_judicial": _apply_judicial,
    "judicial_result": _judicial_result,
    "record_incident": _record_incident,
}


def upload_document(
    session: Session,
    dispute_id: int,
    kind: str,
    filename: str,
    content: bytes,
    actor: Actor,
    at: datetime | None = None,
) -> DisputeDocument:
    at = at or utcnow()
    d = get_dispute(session, dispute_id)
    lifecycle.check(DISPUTE_TABLE, D_LABELS, d.status, "comment", actor.role)
    if kind not in ("signed_agreement", "referral", "other"):
        raise Invalid("document_kind", "文件类型须为 signed_agreement/referral/other", "unknown document kind")
    if not content or len(content) > MAX_DOCUMENT_BYTES:
        raise Invalid("document_size", "文件为空或超过 10 MB", "the file is empty or larger than 10 MB")
    mime = next((m for magic, m in _MAGIC.items() if content.startswith(magic)), None)
    if mime is None:
        raise Invalid("document_type", "只接受 PDF、PNG 或 JPEG 文件", "only PDF, PNG or JPEG files are accepted")
    doc = DisputeDocument(
        dispute_id=d.id,
        kind=kind,
        filename=filename[:200] or "document",
        mime=mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by=actor.name,
        created_at=at,
    )
    session.add(doc)
    session.flush()
    _append(session, d, DisputeEvent, "upload", actor, at, d.status, d.status,
            data={"document_id": doc.id, "kind": kind, "sha256": doc.sha256, "size": doc.size})  # fmt: skip
    session.flush()
    return doc


def log_view(session: Session, d: Dispute, actor: Actor, what: str, at: datetime | None = None) -> None:
    """Record an unmasked view of personal data (an agreement names the parties in full)."""
    _append(session, d, DisputeEvent, "view_personal", actor, at or utcnow(), d.status, d.status,
            data={"what": what})  # fmt: skip


def add_mediator(
    session: Session,
    name: str,
    kind: str,
    organisation: str,
    region_code: str,
    center: str = "",
    user_id: int | None = None,
    phone: str | None = None,
    at: datetime | None = None,
) -> Mediator:
    if user_id is not None and session.get(User, user_id) is None:
        raise Invalid("user_unknown", f"用户 {user_id} 不存在", f"user {user_id} not found", field="user_id")
    m = Mediator(
        name=name,
        kind=kind,
        organisation=organisation,
        region_code=region_code,
        center=center,
        user_id=user_id,
        phone=phone,
        created_at=at or utcnow(),
    )
    session.add(m)
    session.flush()
    return m


# ---------------------------------------------------------------- petitions

_LEVEL_OF_CODE = {6: "county", 9: "town", 12: "town"}


def register_petition(session: Session, inp: PetitionIn, actor: Actor, at: datetime | None = None) -> Petition:
    if actor.role not in lifecycle.PETITION_DESK:
        raise Conflict("role_not_allowed", f"角色“{actor.role}”无权登记信访", f"role '{actor.role}' may not register")
    at = at or utcnow()
    pol = policy()
    county, _town = _region(session, inp.region_code)
    key = person_key(inp.petitioner_id_number, inp.petitioner_phone)
    levels = pol.petition_levels
    skip = levels.index(inp.received_level) > levels.index(pol.petition_proper_level) and inp.form == "来访"
    repeat_of: Petition | None = None
    if inp.repeat_of_id is not None:
        repeat_of = get_petition(session, inp.repeat_of_id)
    elif key is not None:
        # The same person on the same subject before: a repeat petition (重复信访).
        repeat_of = session.scalars(
            select(Petition)
            .where(Petition.person_key == key, Petition.subject == inp.subject)
            .order_by(Petition.id.desc())
            .limit(1)
        ).first()
    today = local_date(at)
    p = Petition(
        code="XF-" + secrets.token_hex(6),
        form=inp.form,
        petitioner_name=inp.petitioner_name,
        petitioner_phone=inp.petitioner_phone,
        petitioner_id_number=inp.petitioner_id_number.upper() if inp.petitioner_id_number else None,
        person_key=key,
        people_count=inp.people_count,
        subject=inp.subject,
        content=inp.content,
        region_code=inp.region_code,
        county_code=county,
        received_level=inp.received_level,
        proper_level=pol.petition_proper_level,
        skip_level=skip,
        repeat_of_id=repeat_of.id if repeat_of else None,
        repeat_index=(repeat_of.repeat_index + 1) if repeat_of else 0,
        status=PStatus.REGISTERED,
        received_at=at,
        accept_deadline=today + timedelta(days=pol.petition_accept_days),
        updated_at=at,
    )
    session.add(p)
    session.flush()
    p.code = f"XF{today:%Y}{p.id:06d}"
    _append(session, p, PetitionEvent, "register", actor, at, None, PStatus.REGISTERED,
            data={"form": p.form, "skip_level": skip, "repeat_of_id": p.repeat_of_id})  # fmt: skip
    session.flush()
    return p


def petition_act(
    session: Session,
    petition_id: int,
    action: str,
    actor: Actor,
    inp: PetitionActionInput | None = None,
    at: datetime | None = None,
) -> Petition:
    inp = inp or PetitionActionInput()
    at = at or utcnow()
    p = get_petition(session, petition_id)
    if inp.version is not None and inp.version != p.version:
        raise Conflict("version_conflict", "信访件已被他人修改，请刷新后重试", "the petition was changed; reload",
                       expected=inp.version, current=p.version)  # fmt: skip
    t = lifecycle.check(PETITION_TABLE, P_LABELS, p.status, action, actor.role)
    from_status = p.status
    data: dict[str, Any] = {}
    if action == "accept":
        p.accepted_at = at
        p.reply_deadline = local_date(at) + timedelta(days=policy().petition_reply_days)
        data["reply_deadline"] = p.reply_deadline.isoformat()
    elif action == "not_accept":
        _require(inp.reason, "reason", "不予受理理由")
        p.closed_at = at
    elif action == "reply":
        p.reply = _require(inp.reply, "reply", "处理意见")
        p.replied_at = at
    elif action == "close":
        resolved = _require(inp.resolved, "resolved", "是否息访")
        p.resolved = bool(resolved)
        p.closed_at = at
        data["resolved"] = p.resolved
        data["backlog"] = p.backlog
    elif action == "mark_backlog":
        if p.backlog:
            raise Conflict("already_backlog", "已列为积案", "the petition is already in the backlog")
        p.backlog = True
        p.backlog_since = at
        p.backlog_owner = _require(inp.owner, "owner", "包案责任人")
        p.backlog_deadline = _require(inp.deadline, "deadline", "化解期限")
        data = {"owner": p.backlog_owner, "deadline": p.backlog_deadline.isoformat() if p.backlog_deadline else None}
    elif action == "to_dispute":
        dinp = _require(inp.dispute, "dispute", "纠纷信息")
        dinp = dinp.model_copy(update={"source": "petition", "petition_id": p.id})
        register_dispute(session, dinp, actor, at)  # links both records and appends the petition's event
        return p
    if t.target is not None and p.status == from_status:
        p.status = t.target
    if inp.reason:
        data.setdefault("reason", inp.reason)
    _append(session, p, PetitionEvent, action, actor, at, from_status, p.status, inp.note, data)
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as exc:
        raise Conflict(
            "version_conflict", "信访件已被他人同时修改", "the petition was changed at the same time"
        ) from exc
    return p


def petitions_of_person(session: Session, keys: Sequence[str]) -> int:
    if not keys:
        return 0
    return session.scalar(select(func.count()).select_from(Petition).where(Petition.person_key.in_(keys))) or 0


def open_disputes_filter() -> Any:
    return or_(*(Dispute.status == s for s in lifecycle.D_OPEN))


# ---------------------------------------------------------------- reminders


def sweep(session: Session, now: datetime | None = None, judicial_warn_days: int = 5) -> dict[str, int]:
    """Reminders through the outbox, each sent once: mediation past its deadline, performance past its
    deadline, and 司法确认 windows closing within `judicial_warn_days` with no application."""
    now = now or utcnow()
    today = local_date(now)
    out = {"mediation_overdue": 0, "performance_overdue": 0, "judicial_window": 0}
    in_mediation = [str(s) for s in lifecycle.D_IN_MEDIATION]
    candidates: list[tuple[str, Dispute, str]] = []
    for d in session.scalars(select(Dispute).where(Dispute.status.in_(in_mediation), Dispute.deadline_at < now)):
        candidates.append(("mediation_overdue", d, f"dispute:overdue:{d.id}:{d.deadline_at:%Y%m%d}"))
    for d in session.scalars(select(Dispute).where(Dispute.status == DStatus.PERFORMING)):
        due = (d.agreement or {}).get("performance_deadline")
        if due and date.fromisoformat(due) < today:
            candidates.append(("performance_overdue", d, f"dispute:perf:{d.id}:{due}"))
    for d in session.scalars(
        select(Dispute).where(
            Dispute.judicial_deadline.is_not(None),
            Dispute.judicial_applied_at.is_(None),
            Dispute.judicial_deadline >= today,
            Dispute.judicial_deadline <= today + timedelta(days=judicial_warn_days),
        )
    ):
        candidates.append(("judicial_window", d, f"dispute:judicial:{d.id}"))
    if not candidates:
        return out
    keys = [k for _, _, k in candidates]
    sent = set(session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))))
    for kind, d, key in candidates:
        if key in sent:
            continue
        recipient = f"mediator:{d.mediator_id}" if d.mediator_id else f"zongzhi:{d.town_code or d.county_code}"
        payload = {
            "dispute_id": d.id,
            "code": d.code,
            "deadline": d.deadline_at.isoformat() if kind == "mediation_overdue" and d.deadline_at else None,
            "judicial_deadline": d.judicial_deadline.isoformat() if d.judicial_deadline else None,
        }
        outbox.enqueue(session, key, kind, d.case_id, recipient, payload, now)
        sent.add(key)
        out[kind] += 1
    session.flush()
    return out
