"""Statistics computed from the records, each with its definition shown next to the number.

A figure is a dict: key, label (zh), value, and for rates numerator/denominator; `definition` and
`definition_en` say exactly what was counted. Nothing here is typed in: change a record and the figure moves.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pingan.mediation import lifecycle
from pingan.mediation.lifecycle import DStatus, PStatus
from pingan.mediation.models import Dispute, Mediator, Petition
from pingan.mediation.policies import RISK_ORDER
from pingan.mediation.service import local_date, policy
from pingan.timeutil import utcnow


def count(key: str, label: str, value: int, definition: str, definition_en: str) -> dict[str, Any]:
    return {"key": key, "label": label, "value": value, "definition": definition, "definition_en": definition_en}


def rate(key: str, label: str, num: int, den: int, definition: str, definition_en: str) -> dict[str, Any]:
    value = round(100.0 * num / den, 1) if den else None
    return {
        "key": key,
        "label": label,
        "value": value,
        "unit": "%",
        "numerator": num,
        "denominator": den,
        "definition": definition,
        "definition_en": definition_en,
        "display": f"{num:,} / {den:,} = {value}%" if den else f"{num:,} / 0 = —",
    }


def _scope(q: Select[Any], region: str | None, since: datetime | None, until: datetime | None) -> Select[Any]:
    if region:
        q = q.where(Dispute.region_code.startswith(region))
    if since:
        q = q.where(Dispute.registered_at >= since)
    if until:
        q = q.where(Dispute.registered_at < until)
    return q


def _resolved(status: str) -> bool:
    return status in lifecycle.D_AGREED


def prevented(d: Dispute | Any, group_min: int) -> tuple[bool, bool]:
    """(escalation prevented, group incident prevented) for one dispute, by the definitions in `disputes()`."""
    ok = _resolved(d.status)
    esc = ok and d.peak_risk == "high" and not d.escalated
    grp = ok and d.people_count >= group_min and RISK_ORDER[d.peak_risk] >= 1 and not d.group_incident
    return esc, grp


def disputes(
    session: Session,
    region: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    mediator_id: int | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    now = now or utcnow()
    group_min = policy().group_incident_min_people
    q = _scope(select(Dispute), region, since, until)
    if mediator_id is not None:
        q = q.where(Dispute.mediator_id == mediator_id)
    rows = list(session.scalars(q))
    received = len(rows)
    accepted = sum(1 for d in rows if d.accepted_at is not None)
    refused = sum(1 for d in rows if d.status == DStatus.REFUSED)
    mediated = sum(1 for d in rows if d.session_count > 0)
    agreed = sum(1 for d in rows if _resolved(d.status))
    terminated = sum(1 for d in rows if d.status == DStatus.TERMINATED)
    agreed_on_time = sum(
        1 for d in rows if _resolved(d.status) and d.agreed_at and d.deadline_at and d.agreed_at <= d.deadline_at
    )
    overdue = sum(
        1 for d in rows if d.status in lifecycle.D_IN_MEDIATION and d.deadline_at is not None and d.deadline_at < now
    )
    high_now = sum(1 for d in rows if d.status in lifecycle.D_OPEN and d.risk_level == "high")
    escalated = sum(1 for d in rows if d.escalated)
    esc_prev = sum(1 for d in rows if prevented(d, group_min)[0])
    grp_prev = sum(1 for d in rows if prevented(d, group_min)[1])
    signed = [d for d in rows if d.signed_at is not None]
    applied = sum(1 for d in signed if d.judicial_applied_at is not None)
    window_open = sum(
        1
        for d in signed
        if d.judicial_applied_at is None and d.judicial_deadline and d.judicial_deadline >= local_date(now)
    )
    today = local_date(now)
    perf_overdue = sum(
        1
        for d in rows
        if d.status == DStatus.PERFORMING
        and d.agreement
        and date.fromisoformat(d.agreement["performance_deadline"]) < today
    )
    return [
        count("received", "登记纠纷", received, "期间内登记的纠纷数", "disputes registered in the period"),
        count("accepted", "受理", accepted, "其中已受理的纠纷数", "of those, disputes accepted"),
        count(
            "refused",
            "当事人拒绝调解",
            refused,
            "当事人一方明确拒绝、不能调解的纠纷数",
            "disputes that could not proceed because a party refused",
        ),  # fmt: skip
        count("mediated", "已调解", mediated, "至少开展过一次调解的纠纷数", "disputes with at least one session"),
        count(
            "agreed",
            "调解成功",
            agreed,
            "达成协议（含和好、协议离婚）的纠纷数",
            "disputes that reached an agreement (incl. 和好, 协议离婚)",
        ),  # fmt: skip
        count(
            "terminated",
            "调解终止",
            terminated,
            "调解终止并告知其他途径的纠纷数",
            "disputes whose mediation was terminated (other routes offered)",
        ),  # fmt: skip
        rate(
            "success_rate",
            "调解成功率",
            agreed,
            agreed + terminated,
            "达成协议数 / (达成协议数 + 调解终止数)",
            "agreements / (agreements + terminations): mediations that ended",
        ),  # fmt: skip
        rate(
            "on_time_rate",
            "按期调结率",
            agreed_on_time,
            agreed,
            "期限内达成协议数 / 达成协议数",
            "agreements reached by the deadline / agreements",
        ),  # fmt: skip
        count(
            "overdue",
            "超期未调结",
            overdue,
            "仍在调解且已过期限的纠纷数",
            "disputes still in mediation past their deadline",
        ),  # fmt: skip
        count(
            "high_risk_open",
            "高风险在办",
            high_now,
            "当前风险等级为高、尚未办结的纠纷数",
            "open disputes whose current risk level is high",
        ),  # fmt: skip
        count(
            "escalated",
            "发生激化",
            escalated,
            "记录了激化（民转刑、群体性事件、越级上访等）的纠纷数",
            "disputes with a recorded escalation",
        ),  # fmt: skip
        count(
            "escalations_prevented",
            "防止民转刑/激化",
            esc_prev,
            "曾被评估为高风险、最终达成协议且未记录激化的纠纷数",
            "disputes once assessed high risk that reached an agreement with no escalation recorded",
        ),  # fmt: skip
        count(
            "group_incidents_prevented",
            "防止群体性事件",
            grp_prev,
            f"涉及 {group_min} 人及以上、曾被评估为中或高风险、最终达成协议且未发生群体性事件的纠纷数",
            f"disputes of {group_min}+ people once at medium/high risk that reached an agreement "
            "with no group incident recorded",
        ),  # fmt: skip
        count(
            "performance_overdue",
            "履行逾期",
            perf_overdue,
            "履行中且已过协议履行期限的纠纷数",
            "agreements being performed past their performance deadline",
        ),
        rate(
            "judicial_applied_rate",
            "司法确认申请率",
            applied,
            len(signed),
            "已申请司法确认数 / 已签署协议数",
            "agreements with a judicial-confirmation application / signed agreements",
        ),  # fmt: skip
        count(
            "judicial_window_open",
            "司法确认期内未申请",
            window_open,
            "已签署、30日申请期未过且尚未申请的协议数",
            "signed agreements still inside the 30-day window with no application",
        ),  # fmt: skip
    ]


def center(
    session: Session, center_key: str, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """The marriage & family mediation center's figures (逢离必调)."""
    q = _scope(select(Dispute).where(Dispute.center == center_key), None, since, until)
    rows = list(session.scalars(q))
    received = len(rows)
    reconciled = [d for d in rows if d.outcome == "和好"]
    divorce = sum(1 for d in rows if d.outcome == "协议离婚")
    litigation = sum(1 for d in rows if d.outcome == "转诉讼")
    in_progress = sum(1 for d in rows if d.status in lifecycle.D_IN_MEDIATION)
    visited = sum(1 for d in reconciled if d.revisit_count > 0)
    today = local_date(utcnow())
    cooling = sum(1 for d in rows if d.cooling_off_until is not None and d.cooling_off_until >= today)
    dv = sum(1 for d in rows if d.family_kind == "domestic_violence")
    minors = sum(1 for d in rows if d.family_kind == "minors")
    return [
        count(
            "received",
            "受理",
            received,
            "期间内中心登记的婚姻家庭纠纷数（含法院委派）",
            "family disputes registered by the center in the period (incl. court referrals)",
        ),  # fmt: skip
        count("reconciled", "调解和好", len(reconciled), "结果为“和好”的纠纷数", "disputes with outcome 和好"),
        count("agreement_divorce", "协议离婚", divorce, "结果为“协议离婚”的纠纷数", "outcome 协议离婚"),
        count("to_litigation", "转诉讼", litigation, "调解终止并转诉讼的纠纷数", "terminated, route 诉讼"),
        count("in_progress", "调解中", in_progress, "尚在调解中的纠纷数", "still in mediation"),
        count("cooling_off", "冷静期中", cooling, "冷静期尚未结束的纠纷数", "cooling-off period still running"),
        rate(
            "success_rate",
            "调解成功率（和好率）",
            len(reconciled),
            received,
            "和好数 / 受理数",
            "reconciled / received",
        ),  # fmt: skip
        rate(
            "followed_up",
            "和好回访率",
            visited,
            len(reconciled),
            "和好后至少回访一次的数 / 和好数",
            "reconciled couples visited at least once / reconciled",
        ),  # fmt: skip
        count("domestic_violence", "家暴案件", dv, "家庭暴力类纠纷数", "domestic-violence disputes"),
        count("minors", "未成年人权益", minors, "涉未成年人权益纠纷数", "disputes on minors' rights"),
    ]


def mediators(session: Session, region: str | None = None) -> list[dict[str, Any]]:
    """Per mediator: disputes mediated, agreements, escalations and group incidents prevented."""
    group_min = policy().group_incident_min_people
    q = select(Dispute).where(Dispute.mediator_id.is_not(None), Dispute.session_count > 0)
    if region:
        q = q.where(Dispute.region_code.startswith(region))
    agg: dict[int, dict[str, int]] = {}
    for d in session.scalars(q):
        assert d.mediator_id is not None
        a = agg.setdefault(
            d.mediator_id, {"mediated": 0, "agreed": 0, "escalations_prevented": 0, "group_prevented": 0}
        )
        esc, grp = prevented(d, group_min)
        a["mediated"] += 1
        a["agreed"] += int(_resolved(d.status))
        a["escalations_prevented"] += int(esc)
        a["group_prevented"] += int(grp)
    names = {m.id: m for m in session.scalars(select(Mediator).where(Mediator.id.in_(list(agg))))}
    out: list[dict[str, Any]] = [
        {"mediator_id": mid, "name": names[mid].name, "organisation": names[mid].organisation, **a}
        for mid, a in agg.items()
    ]
    out.sort(key=lambda r: (-r["mediated"], r["mediator_id"]))
    return out


def petitions(session: Session, region: str | None = None, since: datetime | None = None) -> dict[str, Any]:
    q = select(Petition)
    if region:
        q = q.where(Petition.region_code.startswith(region))
    if since:
        q = q.where(Petition.received_at >= since)
    rows = list(session.scalars(q))
    by_form: dict[str, int] = {}
    for p in rows:
        by_form[p.form] = by_form.get(p.form, 0) + 1
    repeat = sum(1 for p in rows if p.repeat_index > 0)
    repeat_people = len({p.person_key for p in rows if p.repeat_index > 0 and p.person_key})
    skip = sum(1 for p in rows if p.skip_level)
    backlog = [p for p in rows if p.backlog]
    cleared = [p for p in backlog if p.status == PStatus.CLOSED and p.resolved]
    today = local_date(utcnow())
    overdue_backlog = [p for p in backlog if p not in cleared and p.backlog_deadline and p.backlog_deadline < today]
    accept_late = sum(
        1 for p in rows if p.status == PStatus.REGISTERED and p.accept_deadline and p.accept_deadline < today
    )
    reply_late = sum(1 for p in rows if p.status == PStatus.ACCEPTED and p.reply_deadline and p.reply_deadline < today)
    figures = [
        count(
            "received",
            "信访总量",
            len(rows),
            "期间内登记的信访件数（来信、来访、网上）",
            "petitions registered (letters, visits, online)",
        ),  # fmt: skip
        count(
            "repeat", "重复信访", repeat, "同一人同一事项再次信访的件数", "repeat petitions (same person, same matter)"
        ),
        count("repeat_petitioners", "重复信访人", repeat_people, "有重复信访的人数", "people with repeat petitions"),
        count(
            "skip_level",
            "越级上访",
            skip,
            "到有权处理层级以上走访的件数",
            "visits above the level with authority over the matter",
        ),  # fmt: skip
        count(
            "accept_overdue",
            "逾期未受理",
            accept_late,
            "登记后超过受理告知期限（15日）仍未受理的件数",
            "registered petitions past the 15-day acceptance limit",
        ),  # fmt: skip
        count(
            "reply_overdue",
            "逾期未办结",
            reply_late,
            "受理后超过办理期限（60日）仍未出具意见的件数",
            "accepted petitions past the 60-day handling limit",
        ),  # fmt: skip
        count("backlog", "信访积案", len(backlog), "列为积案的件数", "petitions put on the backlog"),
        rate(
            "backlog_clearance",
            "积案化解率",
            len(cleared),
            len(backlog),
            "已办结且息访的积案数 / 积案数",
            "backlog petitions closed as resolved / backlog petitions",
        ),  # fmt: skip
        count(
            "backlog_overdue",
            "积案超期",
            len(overdue_backlog),
            "未化解且已过化解期限的积案数",
            "unresolved backlog petitions past their deadline",
        ),  # fmt: skip
    ]
    return {"figures": figures, "by_form": by_form}


def backlog(session: Session, region: str | None = None) -> list[dict[str, Any]]:
    """Every backlog petition with its owner, deadline and the record that shows it resolved (or not)."""
    q = select(Petition).where(Petition.backlog.is_(True)).order_by(Petition.backlog_deadline, Petition.id)
    if region:
        q = q.where(Petition.region_code.startswith(region))
    out = []
    for p in session.scalars(q):
        out.append(
            {
                "id": p.id,
                "code": p.code,
                "subject": p.subject,
                "region_code": p.region_code,
                "owner": p.backlog_owner,
                "deadline": p.backlog_deadline.isoformat() if p.backlog_deadline else None,
                "since": p.backlog_since.isoformat() if p.backlog_since else None,
                "status": p.status,
                "resolved": bool(p.status == PStatus.CLOSED and p.resolved),
                "closed_at": p.closed_at.isoformat() if p.closed_at else None,
                "head_hash": p.head_hash,
            }
        )
    return out


def as_of(value: date | None) -> datetime | None:
    from pingan.timeutil import as_utc

    return as_utc(datetime.combine(value, datetime.min.time())) if value else None
