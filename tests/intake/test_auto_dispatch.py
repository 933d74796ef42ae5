"""With the shipped policy, a matter the classifier is sure of is dispatched at intake without a person."""

from __future__ import annotations

import pytest

from pingan.policy import registry
from tests.conftest import SHIPPED_POLICY_DIR
from tests.helpers import hotline_body


@pytest.fixture
def shipped_policy(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PINGAN_POLICY_DIR", str(SHIPPED_POLICY_DIR))
    yield
    registry.reload()


def test_sure_matters_are_dispatched_and_police_matters_wait(api, shipped_policy) -> None:  # type: ignore[no-untyped-def]
    body = hotline_body(
        "AUTO-1",
        title="孩子学校乱收费，强制购买教辅资料",
        content="平江县某中学开学要求每个学生交两百元资料费，请教育局查处。",
        address="平江县",
    )
    r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    case = api.get("paiqian", f"/api/v1/cases/{out['case_id']}").json()
    routing = case["routing"]
    assert routing["category"] == "教育文体"
    assert routing["confidence"] >= routing["threshold"]  # the shipped model is sure of this one (0.99)
    assert out["auto_dispatched"] is True and case["status"] == "assigned" and case["deadline_at"]
    timeline = api.get("paiqian", f"/api/v1/cases/{out['case_id']}/timeline").json()
    assert [e["action"] for e in timeline] == ["intake", "register", "assign"]
    assert timeline[-1]["actor_role"] == "system"
    police = hotline_body("AUTO-2", title="小区楼下有人持刀抢劫", content="刚刚在小区门口，有人持刀抢劫路人")
    r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=police)
    case = api.get("paiqian", f"/api/v1/cases/{r.json()['case_id']}").json()
    assert case["status"] == "received" and case["routing"]["triage"]["rule_id"].startswith("P110")


def test_a_likely_duplicate_waits_for_a_person(api, shipped_policy) -> None:  # type: ignore[no-untyped-def]
    pos = {"lat": 28.7812, "lon": 113.6501, "crs": "wgs84"}
    first = hotline_body(
        "DUPA-1",
        title="孩子学校乱收费，强制购买教辅资料",
        position=pos,
        content="平江县某中学开学要求每个学生交两百元资料费，请教育局查处。",
        address="平江县",
    )
    r1 = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=first).json()
    assert r1["auto_dispatched"] is True
    again = {**first, "work_order_no": "DUPA-2", "caller_phone": "13911112222"}
    r2 = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=again).json()
    case = api.get("paiqian", f"/api/v1/cases/{r2['case_id']}").json()
    dups = case["routing"]["duplicates"]
    assert dups and dups[0]["case_id"] == r1["case_id"] and dups[0]["why"]
    assert r2["auto_dispatched"] is False and case["status"] == "received"
    # Intake records distance, time and similarity; the words both share come when the case page asks.
    assert not any("共同词语" in w for w in dups[0]["why"])
    live = api.get("paiqian", f"/api/v1/cases/{r2['case_id']}/duplicates").json()
    assert live["items"][0]["case_id"] == r1["case_id"]
    assert any("共同词语" in w and "教辅资料" in w for w in live["items"][0]["why"])


def test_a_mixed_batch_is_written_with_one_insert_per_table(db, shipped_policy) -> None:  # type: ignore[no-untyped-def]
    """Cases dispatched at intake (deadlines, kind, department …) and cases left waiting go out in one statement,
    and the departments handed over to are read once for the batch."""
    from sqlalchemy import event, func, select

    from pingan.cases.actors import Actor
    from pingan.cases.models import CaseEvent
    from pingan.intake import adapters, pipeline
    from pingan.intake.schemas import Hotline12345In
    from pingan.orgs.roles import Role

    actor = Actor(id=None, name="t", role=Role.OPERATOR)
    sure = dict(
        title="孩子学校乱收费，强制购买教辅资料", content="平江县某中学开学要求每个学生交两百元资料费，请教育局查处。"
    )
    police = dict(title="小区楼下有人持刀抢劫", content="刚刚在小区门口，有人持刀抢劫路人")
    bodies = [hotline_body(f"MIX-{i}", address="平江县", **kind) for i, kind in enumerate((police, sure, police))]
    records = [(adapters.from_hotline(Hotline12345In(**b), actor), actor) for b in bodies]
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.factory() as s:
            results = pipeline.submit_many(s, records, own_transaction=True)
            s.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [r.auto_dispatched for r in results] == [False, True, False]
    # (a batch this small goes by INSERT on PostgreSQL too; from db.COPY_FROM rows, by COPY: tests/test_db_writes.py)
    writes = {t: sum(st.startswith(f"INSERT INTO {t} ") for st in statements) for t in ("cases", "case_events")}
    assert writes == {"cases": 1, "case_events": 1}
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent)) >= 5  # 受理 ×3, 立案 and 交办
    by_id = [st for st in statements if st.startswith("SELECT departments.") and "WHERE departments.id" in st]
    assert len(by_id) == 1
