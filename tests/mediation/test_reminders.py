"""Reminders go out once each; overdue figures follow the records; unmasked views are limited and logged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from pingan.mediation import service, stats
from pingan.mediation.schemas import PetitionIn
from pingan.notify.models import OutboxMessage

from .helpers import DESK, T0, act, dispute_in, sign, to_agreed


def _kinds(session) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(session.scalars(select(OutboxMessage.kind).where(OutboxMessage.kind != "risk_alert")))


def test_sweep_sends_each_reminder_once(session) -> None:  # type: ignore[no-untyped-def]
    stalled = service.register_dispute(session, dispute_in(), DESK, T0)
    act(session, stalled, "accept", T0)
    signed = service.register_dispute(session, dispute_in(), DESK, T0)
    at = to_agreed(session, signed)
    sign(session, signed, at)
    assert service.sweep(session, T0 + timedelta(days=3)) == {
        "mediation_overdue": 0, "performance_overdue": 0, "judicial_window": 0,
    }  # fmt: skip
    # 27 days after signing: the 30-day window closes in 3 days; the performance deadline (20 days) has passed;
    # the stalled mediation is past its one-month limit.
    later = at + timedelta(days=27)
    out = service.sweep(session, later)
    assert out == {"mediation_overdue": 1, "performance_overdue": 1, "judicial_window": 1}
    assert service.sweep(session, later + timedelta(hours=1)) == {k: 0 for k in out}
    assert _kinds(session) == ["judicial_window", "mediation_overdue", "performance_overdue"]
    figs = {f["key"]: f["value"] for f in stats.disputes(session, now=later)}
    assert figs["performance_overdue"] == 1 and figs["overdue"] == 1
    act(session, signed, "complete_performance", later)
    figs = {f["key"]: f["value"] for f in stats.disputes(session, now=later)}
    assert figs["performance_overdue"] == 0


def test_petition_deadlines(session) -> None:  # type: ignore[no-untyped-def]
    p = service.register_petition(session, PetitionIn(form="网上", petitioner_name="周某", subject="低保资格认定",
                                                       content="申请复核", region_code="430603"), DESK, T0)  # fmt: skip
    assert p.accept_deadline == (T0.date() + timedelta(days=15))
    figs = {f["key"]: f["value"] for f in stats.petitions(session)["figures"]}
    assert figs["accept_overdue"] == 1  # T0 is long past
    service.petition_act(session, p.id, "accept", DESK, at=T0 + timedelta(days=3))
    figs = {f["key"]: f["value"] for f in stats.petitions(session)["figures"]}
    assert figs["accept_overdue"] == 0 and figs["reply_overdue"] == 1


def test_unmasked_parties_are_limited_and_logged(api) -> None:  # type: ignore[no-untyped-def]
    body = {"title": "邻里纠纷", "dispute_type": "邻里", "region_code": "430602", "description": "两户争吵",
            "source": "walk_in", "parties": [{"role": "申请人", "name": "孙红梅", "phone": "13511112222"}]}  # fmt: skip
    did = api.post("zuoxi", "/api/v1/disputes", json=body).json()["id"]
    assert api.get("lingdao", f"/api/v1/disputes/{did}/parties").status_code == 403
    r = api.get("tj_test_a", f"/api/v1/disputes/{did}/parties")
    assert r.status_code == 200 and r.json()[0]["phone"] == "13511112222"
    tl = api.get("lingdao", f"/api/v1/disputes/{did}/timeline").json()
    assert tl[-1]["action"] == "view_personal" and tl[-1]["data"] == {"what": "parties"}
    assert tl[-1]["actor_role"] == "mediator"
