"""The dispute lifecycle of 人民调解法: the happy path, refusals, termination, judicial confirmation, locking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.errors import Conflict, Invalid
from pingan.mediation import service
from pingan.mediation.models import Dispute, DisputeEvent
from pingan.orgs.roles import Role

from .conftest import user_actor
from .helpers import DESK, T0, act, dispute_in, session_in, sign, to_agreed


def test_full_lifecycle_and_chain(session) -> None:  # type: ignore[no-untyped-def]
    d = service.register_dispute(session, dispute_in(), DESK, T0)
    assert d.status == "registered" and d.code.startswith("TJ2026")
    act(session, d, "accept", T0)
    # Default limit: one month (calendar), from acceptance.
    assert d.deadline_at is not None and d.deadline_at.astimezone(T0.tzinfo).date().isoformat() == "2026-04-02"
    at = T0 + timedelta(days=2)
    act(session, d, "hold_session", at, session=session_in(notes="第一次调解"))
    act(session, d, "hold_session", at + timedelta(days=1), session=session_in(notes="第二次调解"))
    assert (
        d.status == "mediating"
        and d.session_count == 2
        and [s.notes for s in d.sessions] == ["第一次调解", "第二次调解"]
    )
    at += timedelta(days=3)
    from .helpers import agreement_in

    act(session, d, "reach_agreement", at, agreement=agreement_in(at))
    assert d.status == "agreed" and d.outcome == "达成协议"
    with pytest.raises(Invalid) as no_doc:
        act(session, d, "sign", at)
    assert no_doc.value.code == "field_required"
    sign(session, d, at)
    assert d.status == "performing" and d.judicial_deadline == (at.date() + timedelta(days=30))
    act(session, d, "apply_judicial", at + timedelta(days=5))
    act(session, d, "judicial_result", at + timedelta(days=9), result="确认有效")
    act(session, d, "complete_performance", at + timedelta(days=15))
    assert d.status == "performed"
    act(session, d, "revisit", at + timedelta(days=20), note="回访：已改向，双方满意", evaluation="满意")
    assert d.status == "revisited"
    act(session, d, "close", at + timedelta(days=21))
    assert d.status == "closed" and d.closed_at is not None
    session.commit()
    actions = session.scalars(
        select(DisputeEvent.action).where(DisputeEvent.dispute_id == d.id).order_by(DisputeEvent.seq)
    )
    assert list(actions) == [
        "register", "accept", "hold_session", "hold_session", "reach_agreement", "upload", "sign",
        "apply_judicial", "judicial_result", "complete_performance", "revisit", "close",
    ]  # fmt: skip
    assert service.verify_chains(session) == []
    # Tampering with one event's note is caught.
    session.execute(text("UPDATE dispute_events SET note = 'x' WHERE seq = 3"))
    session.commit()
    assert any("event #3" in p for p in service.verify_chains(session))


def test_refusal_is_recorded_and_final(session) -> None:  # type: ignore[no-untyped-def]
    d = service.register_dispute(session, dispute_in(), DESK, T0)
    with pytest.raises(Conflict) as early:
        act(session, d, "hold_session", T0, session=session_in())
    assert early.value.code == "invalid_transition"
    with pytest.raises(Invalid):
        act(session, d, "refuse", T0, reason="不同意调解")  # which party refused is required
    act(session, d, "refuse", T0, party_id=d.parties[1].id, reason="被申请人明确拒绝调解")
    assert d.status == "refused" and d.outcome == "拒绝调解" and d.parties[1].refused and not d.parties[0].refused
    with pytest.raises(Conflict) as after:
        act(session, d, "accept", T0)
    assert after.value.code == "invalid_transition" and "拒绝调解" in after.value.zh


def test_roles_and_mediator_scope(session) -> None:  # type: ignore[no-untyped-def]
    li = user_actor(session, "tj_test_a")
    zhou = user_actor(session, "tj_test_b")
    m = service.add_mediator(session, "李勇", "mediator", "临湘市某镇人民调解委员会", "430682", user_id=li.id)
    d = service.register_dispute(session, dispute_in(mediator_id=m.id), DESK, T0)
    grid = Actor(id=None, name="网格员", role=Role.GRID_WORKER)
    with pytest.raises(Conflict) as role:
        act(session, d, "accept", T0, actor=grid)
    assert role.value.code == "role_not_allowed"
    with pytest.raises(Conflict) as other:
        act(session, d, "accept", T0, actor=zhou)
    assert other.value.code == "not_your_dispute"
    act(session, d, "accept", T0, actor=li)
    assert d.status == "accepted"


def test_terminate_offers_routes(session) -> None:  # type: ignore[no-untyped-def]
    d = service.register_dispute(session, dispute_in(), DESK, T0)
    act(session, d, "accept", T0)
    with pytest.raises(Invalid):
        act(session, d, "terminate", T0, reason="分歧大")  # routes required
    with pytest.raises(Invalid) as bad:
        act(session, d, "terminate", T0, reason="分歧大", routes=["上访"])
    assert bad.value.code == "route_unknown"
    act(session, d, "terminate", T0, reason="分歧大", routes=["诉讼", "仲裁"])
    assert d.status == "terminated" and d.routes == ["诉讼", "仲裁"] and d.outcome == "调解终止"
    fam = service.register_dispute(
        session, dispute_in(dispute_type="婚姻家庭", center="marriage:430621", family_kind="divorce"), DESK, T0
    )
    act(session, fam, "accept", T0)
    act(session, fam, "terminate", T0, reason="一方坚持离婚", routes=["诉讼"])
    assert fam.outcome == "转诉讼"


def test_judicial_confirmation_window(session) -> None:  # type: ignore[no-untyped-def]
    late = service.register_dispute(session, dispute_in(), DESK, T0)
    at = to_agreed(session, late)
    sign(session, late, at)
    with pytest.raises(Conflict) as closed:
        act(session, late, "apply_judicial", at + timedelta(days=31))
    assert closed.value.code == "judicial_window_closed"
    with pytest.raises(Conflict):
        act(session, late, "judicial_result", at, result="确认有效")  # nothing applied for
    act(session, late, "apply_judicial", at + timedelta(days=30))
    with pytest.raises(Conflict) as twice:
        act(session, late, "apply_judicial", at + timedelta(days=30))
    assert twice.value.code == "judicial_applied"


def test_cooling_off_blocks_divorce_agreement(session) -> None:  # type: ignore[no-untyped-def]
    d = service.register_dispute(
        session, dispute_in(dispute_type="婚姻家庭", center="marriage:430621", family_kind="divorce"), DESK, T0
    )
    act(session, d, "accept", T0)
    act(session, d, "start_cooling_off", T0)
    assert d.cooling_off_until == T0.date() + timedelta(days=30)
    act(session, d, "hold_session", T0 + timedelta(days=1), session=session_in())
    from .helpers import agreement_in

    with pytest.raises(Conflict) as cool:
        act(session, d, "reach_agreement", T0 + timedelta(days=5), agreement=agreement_in(T0, "协议离婚"))
    assert cool.value.code == "cooling_off_running"
    act(session, d, "reach_agreement", T0 + timedelta(days=5), agreement=agreement_in(T0 + timedelta(days=5), "和好"))
    assert d.outcome == "和好"
    nonfamily = service.register_dispute(session, dispute_in(), DESK, T0)
    act(session, nonfamily, "accept", T0)
    with pytest.raises(Conflict) as nd:
        act(session, nonfamily, "start_cooling_off", T0)
    assert nd.value.code == "not_divorce"


def test_optimistic_lock(session) -> None:  # type: ignore[no-untyped-def]
    d = service.register_dispute(session, dispute_in(), DESK, T0)
    v = d.version
    act(session, d, "accept", T0, version=v)
    with pytest.raises(Conflict) as stale:
        act(session, d, "comment", T0, version=v, note="旧版本")
    assert stale.value.code == "version_conflict"


def test_sources_link_back(session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as missing:
        service.register_dispute(session, dispute_in(source="case", case_id=999999), DESK, T0)
    assert missing.value.code == "case_unknown"
    case = Case(channel="grid", external_id="t-med-1", case_type="上报", title="邻里争吵", content="两户争吵",
                region_code="430682001", county_code="430682", received_at=T0, tracking_code="PATESTMED01",
                status="received", created_at=T0, updated_at=T0)  # fmt: skip
    session.add(case)
    session.flush()
    d = service.register_dispute(session, dispute_in(source="case", case_id=case.id), DESK, T0)
    assert d.case_id == case.id and d.source_ref == case.tracking_code
    with pytest.raises(Invalid):
        service.register_dispute(session, dispute_in(source="sweep"), DESK, T0)  # a sweep names its grid
    with pytest.raises(Invalid):
        service.register_dispute(session, dispute_in(source="court"), DESK, T0)  # a referral names its letter
    c = service.register_dispute(session, dispute_in(source="court", source_ref="（2026）湘0682民诉前调1号"), DESK, T0)
    assert c.source == "court"
    assert session.scalar(select(Dispute.id).where(Dispute.case_id == case.id)) == d.id
