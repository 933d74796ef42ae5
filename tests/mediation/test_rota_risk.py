"""Rota fairness (counts differ by at most one, unavailability respected, swaps recorded) and risk alerts."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from pingan.errors import Conflict
from pingan.mediation import rota, service
from pingan.mediation.models import DutySlot, RotaEvent
from pingan.mediation.schemas import PetitionIn
from pingan.notify.models import OutboxMessage

from .helpers import DESK, T0, act, dispute_in, session_in

CENTER = "marriage:430621"


def test_plan_is_fair_with_unavailability() -> None:
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(40)]
    people = list(range(1, 25))
    # Person 1 is away 30 of 40 days, person 2 half the time.
    unavailable = {1: set(days[:30]), 2: set(days[::2])}
    out = rota.plan(days, people, unavailable, 3)
    counts = Counter(p for chosen in out.values() for p in chosen)
    assert all(len(v) == 3 and len(set(v)) == 3 for v in out.values())
    assert max(counts[p] for p in people) - min(counts[p] for p in people) <= 1
    assert all(day not in unavailable.get(p, set()) for day, chosen in out.items() for p in chosen)


def test_generate_swap_and_refusals(session) -> None:  # type: ignore[no-untyped-def]
    team = [service.add_mediator(session, f"志愿者{i}", "lawyer" if i < 8 else "mediator", "中心", "430621",
                                 center=CENTER) for i in range(24)]  # fmt: skip
    start, end = date(2026, 3, 2), date(2026, 4, 30)
    rota.set_unavailable(session, team[0].id, [start + timedelta(days=i) for i in range(20)], "出庭")
    out = rota.generate(session, CENTER, start, end, DESK, per_day=3)
    assert out["fair"] and out["max"] - out["min"] <= 1
    slots = list(session.scalars(select(DutySlot).where(DutySlot.center == CENTER)))
    per_day = Counter(s.day for s in slots)
    assert set(per_day.values()) == {3} and len(per_day) == out["days"]
    # Working days only: 2026-04-04..06 is the Qingming holiday, weekends are off.
    assert date(2026, 4, 6) not in per_day and date(2026, 3, 7) not in per_day
    counts = Counter(s.mediator_id for s in slots)
    assert max(counts.values()) - min(counts[m.id] for m in team) <= 1
    assert not any(s.mediator_id == team[0].id and s.day < start + timedelta(days=20) for s in slots)
    with pytest.raises(Conflict):
        rota.generate(session, CENTER, start, end, DESK)  # exists; needs replace
    # A swap changes the slot and is recorded.
    day = min(per_day)
    on = sorted(s.mediator_id for s in slots if s.day == day)
    off = next(m.id for m in team if m.id not in on and m.id != team[0].id)
    slot = rota.swap(session, CENTER, day, on[0], off, "临时出庭", DESK)
    assert slot.mediator_id == off and slot.swapped_from_id == on[0]
    ev = session.scalars(select(RotaEvent).where(RotaEvent.action == "swap")).one()
    assert ev.data == {"day": day.isoformat(), "from": on[0], "to": off, "reason": "临时出庭"}
    with pytest.raises(Conflict) as busy:
        rota.swap(session, CENTER, day, on[1], off, "再换", DESK)
    assert busy.value.code == "already_on_duty"
    with pytest.raises(Conflict) as away:
        rota.swap(session, CENTER, start, next(s.mediator_id for s in slots if s.day == start), team[0].id, "x", DESK)
    assert away.value.code in ("unavailable", "not_on_duty")


def test_not_enough_people(session) -> None:  # type: ignore[no-untyped-def]
    team = [service.add_mediator(session, f"人{i}", "mediator", "中心", "430621", center=CENTER) for i in range(3)]
    rota.set_unavailable(session, team[0].id, [date(2026, 3, 3)])
    with pytest.raises(Conflict) as short:
        rota.generate(session, CENTER, date(2026, 3, 2), date(2026, 3, 6), DESK, per_day=3)
    assert short.value.code == "not_enough_available"


def _alerts(session) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "risk_alert")))


def test_high_risk_alerts_and_reassessment(session) -> None:  # type: ignore[no-untyped-def]
    from pingan.mediation.schemas import RiskInput

    d = service.register_dispute(session, dispute_in(risk=RiskInput(threats=True, prior_violence=True)), DESK, T0)
    assert d.risk_level == "high" and {r["factor"] for r in d.risk_reasons} == {"threats", "prior_violence"}
    alerts = _alerts(session)
    assert sorted(a.recipient for a in alerts) == ["police_liaison:430682001", "zongzhi:430682001"]
    assert alerts[0].payload["dispute_id"] == d.id and "张建国" not in str(alerts[0].payload)
    act(session, d, "accept", T0)
    # Re-assessed at the session: the threats stopped; prior violence alone is medium (3 points < 4).
    act(session, d, "hold_session", T0 + timedelta(days=1), session=session_in(threats=False, violence=True))
    assert d.risk_level == "medium" and d.peak_risk == "high" and d.sessions[-1].risk_level == "medium"
    assert len(_alerts(session)) == 2
    # Back to high: a new alert (a new event, a new message).
    act(session, d, "hold_session", T0 + timedelta(days=2), session=session_in(threats=True, violence=True))
    assert len(_alerts(session)) == 4


def test_risk_from_records_petitions_group_amount(session) -> None:  # type: ignore[no-untyped-def]
    for i in range(2):
        service.register_petition(session, PetitionIn(
            form="来访", petitioner_name="张建国", petitioner_id_number="430682197001011234", subject=f"宅基地{i}",
            content="反映邻居滴水檐越界", region_code="430682001"), DESK, T0)  # fmt: skip
    d = service.register_dispute(session, dispute_in(people_count=12, amount=150000.0), DESK, T0)
    f = d.risk_factors
    assert f["repeated_petitions"] == 2 and f["group_size"] == 12 and f["points"] == 2 + 2 + 1
    assert d.risk_level == "high" and len(_alerts(session)) == 2
    calm = service.register_dispute(session, dispute_in(parties=dispute_in().parties[1:]), DESK, T0)
    assert calm.risk_level == "low" and calm.risk_reasons == []
