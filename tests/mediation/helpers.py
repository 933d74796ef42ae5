"""Building blocks of the mediation tests (real service calls, no mocks)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pingan.cases.actors import Actor
from pingan.mediation import documents, service
from pingan.mediation.models import Dispute, Mediator
from pingan.mediation.schemas import AgreementIn, DisputeActionInput, DisputeIn, PartyIn, RiskInput, SessionIn
from pingan.orgs.roles import Role
from pingan.timeutil import CST

DESK = Actor(id=None, name="综治中心·测试", role=Role.DISPATCHER)
TOWN = "430682001"  # 长安街道, Linxiang
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def dispute_in(**kw: Any) -> DisputeIn:
    base: dict[str, Any] = {
        "title": "张建国与李秀英宅基地滴水檐纠纷",
        "dispute_type": "邻里",
        "people_count": 2,
        "amount": 3000.0,
        "place": "临湘市某村",
        "region_code": TOWN,
        "description": "两家因新建房屋滴水檐越界发生争执，多次争吵。",
        "source": "walk_in",
        "parties": [
            PartyIn(role="申请人", name="张建国", phone="13812345678", id_number="430682197001011234"),
            PartyIn(role="被申请人", name="李秀英", phone="13987654321", id_number="43068219750202432X"),
        ],
    }
    base.update(kw)
    return DisputeIn(**base)


def act(db_session: Any, d: Dispute, action: str, at: datetime, actor: Actor = DESK, **kw: Any) -> Dispute:
    return service.act(db_session, d.id, action, actor, DisputeActionInput(**kw), at)


def session_in(threats: bool = False, violence: bool = False, **kw: Any) -> SessionIn:
    return SessionIn(
        place=kw.pop("place", "村委会调解室"),
        participants=kw.pop("participants", ["张建国", "李秀英", "调解员"]),
        notes=kw.pop("notes", "释法明理，双方同意协商"),
        risk=RiskInput(threats=threats, prior_violence=violence),
        **kw,
    )


def agreement_in(at: datetime, outcome: str = "达成协议") -> AgreementIn:
    return AgreementIn(
        facts="李秀英新建房屋滴水檐越界约 30 厘米，雨水流入张建国院内。",
        terms=["李秀英于履行期限内将滴水檐改向，不再越界", "张建国不再主张其他赔偿"],
        performance_manner="李秀英自行施工，张建国配合",
        performance_deadline=(at + timedelta(days=20)).date(),
        outcome=outcome,  # type: ignore[arg-type]
    )


def to_agreed(session: Any, d: Dispute, at: datetime = T0, outcome: str = "达成协议") -> datetime:
    act(session, d, "accept", at)
    at += timedelta(days=2)
    act(session, d, "hold_session", at, session=session_in())
    at += timedelta(days=3)
    act(session, d, "reach_agreement", at, agreement=agreement_in(at, outcome))
    return at


def sign(session: Any, d: Dispute, at: datetime) -> None:
    m = session.get(Mediator, d.mediator_id) if d.mediator_id else None
    doc = service.upload_document(
        session, d.id, "signed_agreement", "signed.pdf", documents.agreement_pdf(d, m), DESK, at
    )
    act(session, d, "sign", at, document_id=doc.id)


def today(at: datetime) -> date:
    return at.astimezone(CST).date()
