"""Every statistic is computed from the records and says what it divides by what."""

from __future__ import annotations

from datetime import timedelta

from pingan.mediation import service, stats
from pingan.mediation.schemas import PetitionActionInput, PetitionIn, RiskInput

from .helpers import DESK, T0, act, agreement_in, dispute_in, session_in, sign, to_agreed

CENTER = "marriage:430621"


def _fig(figures: list[dict], key: str) -> dict:  # type: ignore[type-arg]
    return next(f for f in figures if f["key"] == key)


def test_rate_shows_its_definition() -> None:
    r = stats.rate("success_rate", "调解成功率", 1001, 2134, "和好数 / 受理数", "reconciled / received")
    # The seed article printed 42.3%; the records say 46.9%.
    assert r["value"] == 46.9 and r["display"] == "1,001 / 2,134 = 46.9%" and r["definition"] == "和好数 / 受理数"
    assert stats.rate("x", "x", 0, 0, "", "")["value"] is None


def test_center_statistics_follow_the_records(session) -> None:  # type: ignore[no-untyped-def]
    fam = {"dispute_type": "婚姻家庭", "center": CENTER, "family_kind": "divorce", "source": "court",
           "source_ref": "（2026）湘0621民诉前调1号"}  # fmt: skip
    ds = [service.register_dispute(session, dispute_in(**fam), DESK, T0) for _ in range(4)]
    other = service.register_dispute(session, dispute_in(), DESK, T0)  # not the center's
    at = to_agreed(session, ds[0], outcome="和好")
    sign(session, ds[0], at)
    to_agreed(session, ds[1], outcome="协议离婚")
    act(session, ds[2], "accept", T0)
    act(session, ds[2], "terminate", T0, reason="调解不成", routes=["诉讼"])
    figs = stats.center(session, CENTER)
    assert _fig(figs, "received")["value"] == 4
    assert _fig(figs, "reconciled")["value"] == 1 and _fig(figs, "agreement_divorce")["value"] == 1
    assert _fig(figs, "to_litigation")["value"] == 1 and _fig(figs, "in_progress")["value"] == 1
    sr = _fig(figs, "success_rate")
    assert (sr["numerator"], sr["denominator"], sr["value"]) == (1, 4, 25.0) and sr["definition"] == "和好数 / 受理数"
    assert _fig(figs, "followed_up")["numerator"] == 0
    act(session, ds[0], "revisit", at + timedelta(days=10), note="回访：和睦", evaluation="满意")
    figs = stats.center(session, CENTER)
    assert _fig(figs, "followed_up")["numerator"] == 1
    assert other.center == ""


def test_prevented_escalations_and_group_incidents(session) -> None:  # type: ignore[no-untyped-def]
    high = RiskInput(threats=True, prior_violence=True)
    saved = service.register_dispute(session, dispute_in(risk=high), DESK, T0)
    to_agreed(session, saved)
    blew = service.register_dispute(session, dispute_in(risk=high), DESK, T0)
    to_agreed(session, blew)
    crowd = service.register_dispute(session, dispute_in(people_count=8, risk=RiskInput(threats=True)), DESK, T0)
    to_agreed(session, crowd)
    open_high = service.register_dispute(session, dispute_in(risk=high), DESK, T0)  # not resolved yet
    figs = stats.disputes(session, now=T0 + timedelta(days=10))
    assert _fig(figs, "escalations_prevented")["value"] == 2
    assert _fig(figs, "group_incidents_prevented")["value"] == 1
    assert "曾被评估为高风险" in _fig(figs, "escalations_prevented")["definition"]
    # Recording an escalation removes it from "prevented": the number is not typed in.
    act(session, blew, "record_incident", T0 + timedelta(days=6), incident_kind="民转刑", note="一方持械伤人")
    act(session, crowd, "record_incident", T0 + timedelta(days=6), incident_kind="群体性事件", note="聚集堵路")
    figs = stats.disputes(session, now=T0 + timedelta(days=10))
    assert _fig(figs, "escalations_prevented")["value"] == 1
    assert _fig(figs, "group_incidents_prevented")["value"] == 0
    assert _fig(figs, "escalated")["value"] == 2
    sr = _fig(figs, "success_rate")
    assert (sr["numerator"], sr["denominator"]) == (3, 3)
    # Overdue: still in mediation after the one-month limit.
    act(session, open_high, "accept", T0)
    assert _fig(stats.disputes(session, now=T0 + timedelta(days=40)), "overdue")["value"] == 1
    assert _fig(stats.disputes(session, now=T0 + timedelta(days=10)), "overdue")["value"] == 0
    per = {r["mediator_id"]: r for r in stats.mediators(session)}
    assert per == {}  # no mediator assigned in these records


def test_petitions_repeat_skip_level_and_backlog_clearance(session) -> None:  # type: ignore[no-untyped-def]
    base = {
        "petitioner_name": "王桂英",
        "petitioner_id_number": "430603196501011238",
        "subject": "征地补偿款未足额发放",
        "content": "要求补足补偿款",
        "region_code": "430603",
    }
    p1 = service.register_petition(session, PetitionIn(form="来信", **base), DESK, T0)
    p2 = service.register_petition(session, PetitionIn(form="来访", received_level="province", **base), DESK, T0)
    p3 = service.register_petition(session, PetitionIn(form="网上", **{**base, "subject": "低保资格认定"}), DESK, T0)
    assert (p1.repeat_index, p2.repeat_index, p2.repeat_of_id, p3.repeat_index) == (0, 1, p1.id, 0)
    assert (p1.skip_level, p2.skip_level) == (False, True)
    for p in (p1, p2):
        service.petition_act(session, p.id, "accept", DESK, at=T0)
        service.petition_act(
            session,
            p.id,
            "mark_backlog",
            DESK,
            PetitionActionInput(owner="云溪区委书记", deadline=(T0 + timedelta(days=90)).date()),
            T0,
        )
    figs = stats.petitions(session)["figures"]
    assert _fig(figs, "repeat")["value"] == 1 and _fig(figs, "skip_level")["value"] == 1
    clr = _fig(figs, "backlog_clearance")
    assert (clr["numerator"], clr["denominator"]) == (0, 2)
    service.petition_act(session, p1.id, "reply", DESK, PetitionActionInput(reply="已补足"), T0 + timedelta(days=10))
    service.petition_act(session, p1.id, "close", DESK, PetitionActionInput(resolved=True), T0 + timedelta(days=12))
    assert _fig(stats.petitions(session)["figures"], "backlog_clearance")["value"] == 50.0
    service.petition_act(session, p2.id, "reply", DESK, PetitionActionInput(reply="已答复"), T0 + timedelta(days=10))
    service.petition_act(session, p2.id, "close", DESK, PetitionActionInput(resolved=False), T0 + timedelta(days=12))
    # Closed but not resolved (未息访) does not count as cleared.
    assert _fig(stats.petitions(session)["figures"], "backlog_clearance")["value"] == 50.0
    items = {i["id"]: i for i in stats.backlog(session)}
    assert items[p1.id]["resolved"] and not items[p2.id]["resolved"] and items[p1.id]["owner"] == "云溪区委书记"
    assert service.verify_chains(session) == []


def test_every_dispute_figure_on_a_known_set(session) -> None:  # type: ignore[no-untyped-def]
    high = RiskInput(threats=True, prior_violence=True)
    refused = service.register_dispute(session, dispute_in(), DESK, T0)
    act(session, refused, "refuse", T0, party_id=refused.parties[0].id, reason="拒绝")
    waiting = service.register_dispute(session, dispute_in(risk=high), DESK, T0)  # registered only, high risk
    late = service.register_dispute(session, dispute_in(), DESK, T0)  # accepted, agreed after the deadline
    act(session, late, "accept", T0)
    act(session, late, "hold_session", T0 + timedelta(days=1), session=session_in())

    at_late = T0 + timedelta(days=40)
    act(session, late, "reach_agreement", at_late, agreement=agreement_in(at_late))
    on_time = service.register_dispute(session, dispute_in(), DESK, T0)
    at = to_agreed(session, on_time)
    sign(session, on_time, at)
    act(session, on_time, "apply_judicial", at + timedelta(days=1))
    signed_only = service.register_dispute(session, dispute_in(), DESK, T0)
    at2 = to_agreed(session, signed_only)
    sign(session, signed_only, at2)
    now = at2 + timedelta(days=10)
    f = {x["key"]: x for x in stats.disputes(session, now=now)}
    expect = {
        "received": 5, "accepted": 3, "refused": 1, "mediated": 3, "agreed": 3, "terminated": 0, "overdue": 0,
        "high_risk_open": 1, "escalated": 0, "escalations_prevented": 0, "judicial_window_open": 1,
    }  # fmt: skip
    assert {k: f[k]["value"] for k in expect} == expect
    assert (f["success_rate"]["numerator"], f["success_rate"]["denominator"]) == (3, 3)
    assert (f["on_time_rate"]["numerator"], f["on_time_rate"]["denominator"]) == (2, 3)
    assert (f["judicial_applied_rate"]["numerator"], f["judicial_applied_rate"]["denominator"]) == (1, 2)
    # After the window: no longer open.
    assert {x["key"]: x["value"] for x in stats.disputes(session, now=at2 + timedelta(days=31))}[
        "judicial_window_open"
    ] == 0
    for x in f.values():
        assert x["definition"] and x["definition_en"] and x["label"]
        if x.get("unit") == "%":
            assert x["display"].startswith(f"{x['numerator']:,} / {x['denominator']:,}")
    assert waiting.status == "registered"


def test_center_family_kinds_and_cooling_off(session) -> None:  # type: ignore[no-untyped-def]
    kinds = ["divorce", "divorce", "domestic_violence", "minors"]
    ds = [
        service.register_dispute(session, dispute_in(dispute_type="婚姻家庭", center=CENTER, family_kind=k), DESK, T0)
        for k in kinds
    ]
    act(session, ds[0], "accept", T0)
    act(session, ds[0], "start_cooling_off", service.utcnow())
    f = {x["key"]: x["value"] for x in stats.center(session, CENTER)}
    assert (f["received"], f["domestic_violence"], f["minors"], f["cooling_off"]) == (4, 1, 1, 1)


def test_repeat_petitioners_and_backlog_overdue(session) -> None:  # type: ignore[no-untyped-def]
    def reg(name: str, idn: str, subject: str) -> int:
        return service.register_petition(
            session,
            PetitionIn(
                form="来信",
                petitioner_name=name,
                petitioner_id_number=idn,
                subject=subject,
                content="反映",
                region_code="430603",
            ),  # fmt: skip
            DESK,
            T0,
        ).id

    a = [reg("甲", "430603196501011238", "工资") for _ in range(3)]
    reg("乙", "430603197001011232", "工资")
    reg("乙", "430603197001011232", "工资")
    reg("丙", "430603198001011234", "低保")
    f = {x["key"]: x["value"] for x in stats.petitions(session)["figures"]}
    assert (f["received"], f["repeat"], f["repeat_petitioners"]) == (6, 3, 2)
    service.petition_act(session, a[0], "accept", DESK, at=T0)
    backlog = PetitionActionInput(owner="区信访局", deadline=(T0 + timedelta(days=30)).date())
    service.petition_act(session, a[0], "mark_backlog", DESK, backlog, T0)
    f = {x["key"]: x["value"] for x in stats.petitions(session)["figures"]}
    assert f["backlog"] == 1 and f["backlog_overdue"] == 1  # T0 + 30 days is in the past
