"""Every channel through the one pipeline; validation; idempotency under concurrent retries."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from pingan.cases.models import Case
from tests.helpers import act, dep_id, hotline_body


def test_every_channel_runs_the_full_loop(api, session) -> None:  # type: ignore[no-untyped-def]
    pos = {"lat": 29.3573, "lon": 113.1289, "crs": "gcj02"}
    submissions = [
        ("zuoxi", "hotline_12345", hotline_body("CH-1", position=pos)),
        (
            "api110",
            "police_110",
            {
                "incident_no": "110-CH-2",
                "transfer_time": "2026-11-02T10:00:00+08:00",
                "operator_note": "非警务求助，转12345",
                "title": "楼上漏水",
                "content": "楼上住户漏水，协商无果",
                "address": "岳阳楼区洞庭街道",
            },
        ),
        (
            "wangge",
            "grid",
            {
                "report_id": "grid-" + uuid.uuid4().hex[:12],
                "title": "井盖缺失",
                "content": "巡查发现人行道井盖缺失，存在安全隐患",
                "position": pos,
            },
        ),
        (
            "zuoxi",
            "online",
            {
                "title": "路灯不亮",
                "content": "小区路灯坏了一个月",
                "caller_phone": "13712345678",
                "client_request_id": "web-" + uuid.uuid4().hex[:12],
            },
        ),
        (
            "zuoxi",
            "visit",
            {
                "title": "咨询低保政策",
                "content": "来访咨询低保申请条件",
                "caller_name": "李四",
                "caller_phone": "0730-8221234",
                "case_type": "咨询",
            },
        ),
    ]
    cg = dep_id(session, "cg")
    for user, channel, body in submissions:
        r = api.post(user, f"/api/v1/intake/{channel}", json=body)
        assert r.status_code == 201, (channel, r.text)
        cid = r.json()["case_id"]
        case = api.get("paiqian", f"/api/v1/cases/{cid}").json()
        assert case["channel"] == channel and case["status"] == "received"
        act(api, "paiqian", cid, "register")
        act(api, "paiqian", cid, "assign", department_id=cg)
        act(api, "chengguan", cid, "sign")
        act(api, "chengguan", cid, "feedback", result="已处理")
        act(api, "paiqian", cid, "verify_pass")
        act(api, "paiqian", cid, "close")
        assert act(api, "zuoxi", cid, "revisit", satisfaction="非常满意", solved=True)["status"] == "revisited"
        # Resubmitting the same thing returns the same case with 200.
        again = api.post(user, f"/api/v1/intake/{channel}", json=body)
        assert again.status_code == 200 and again.json()["case_id"] == cid


def test_positions_are_stored_in_wgs84(api, session) -> None:  # type: ignore[no-untyped-def]
    r = api.post(
        "zuoxi",
        "/api/v1/intake/hotline_12345",
        json=hotline_body("POS-1", position={"lat": 29.3573, "lon": 113.1289, "crs": "gcj02"}),
    )
    case = api.get("paiqian", f"/api/v1/cases/{r.json()['case_id']}").json()
    # GCJ-02 is offset by a few hundred metres to the north-east of WGS-84 around Yueyang.
    assert (
        0.001 < 113.1289 - case["lon"] < 0.01
        and 0.001 < 29.3573 - case["lat"] < 0.01
        or abs(113.1289 - case["lon"]) > 0.001
    )


def test_grid_worker_handles_on_the_spot(api, session) -> None:  # type: ignore[no-untyped-def]
    body = {
        "report_id": "spot-" + uuid.uuid4().hex[:12],
        "title": "占道经营",
        "content": "流动摊贩占用人行道",
        "position": {"lat": 29.36, "lon": 113.13, "crs": "wgs84"},
        "handled_on_spot": True,
        "on_spot_result": "已劝离摊贩，恢复通行",
    }
    r = api.post("wangge", "/api/v1/intake/grid", json=body)
    assert r.status_code == 201, r.text
    case = api.get("wangge", f"/api/v1/cases/{r.json()['case_id']}").json()
    assert case["status"] == "closed" and case["kind"] == "即办件"


def test_validation_errors_are_clear(api) -> None:  # type: ignore[no-untyped-def]
    cases = [
        hotline_body("BAD-1", caller_phone="12345"),
        hotline_body("BAD-2", surprise="x"),
        hotline_body("BAD-3", position={"lat": 95, "lon": 113, "crs": "wgs84"}),
        hotline_body("BAD-4", position={"lat": 29.3, "lon": 113.1}),
        hotline_body("BAD-5", position={"lat": 48.85, "lon": 2.35, "crs": "wgs84"}),
        hotline_body("BAD-6", title="x" * 201),
        hotline_body("BAD-7", case_type="闲聊"),
        hotline_body("BAD 8"),
    ]
    for body in cases:
        r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=body)
        assert r.status_code == 422, (body, r.text)
        err = r.json()["error"]
        assert err["code"] == "validation_error" and err["message"] and err["message_en"] and err["details"]
    r = api.client.post(
        "/api/v1/intake/hotline_12345",
        content=b"{not json",
        headers={"Content-Type": "application/json", **api.as_("zuoxi")},
    )
    assert r.status_code == 422


def test_landline_and_mobile_numbers_are_accepted(api) -> None:  # type: ignore[no-untyped-def]
    for i, phone in enumerate(["13812341234", "+86 138 1234 1234", "0730-8221234", "(0730)8221234"]):
        r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=hotline_body(f"PH-{i}", caller_phone=phone))
        assert r.status_code == 201, (phone, r.text)


def test_channel_accounts_are_scoped_to_their_channel(api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("api110", "/api/v1/intake/hotline_12345", json=hotline_body("SC-1"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "channel_forbidden"
    r = api.post("wangge", "/api/v1/intake/hotline_12345", json=hotline_body("SC-2"))
    assert r.status_code == 403
    r = api.client.post("/api/v1/intake/hotline_12345", json=hotline_body("SC-3"))
    assert r.status_code == 401


def test_concurrent_retries_make_one_case(api, session, db) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from pingan.app import create_app

    app = create_app(db.settings(), background=False)
    headers = api.as_("zuoxi")
    statuses: list[int] = []
    ids: set[int] = set()
    lock = threading.Lock()

    def worker() -> None:
        with TestClient(app) as client:
            for _ in range(3):
                r = client.post("/api/v1/intake/hotline_12345", json=hotline_body("RACE-1"), headers=headers)
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code in (200, 201):
                        ids.add(r.json()["case_id"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(201) == 1 and statuses.count(200) == 23, statuses
    assert len(ids) == 1
    n = session.scalar(select(func.count()).select_from(Case).where(Case.external_id == "RACE-1"))
    assert n == 1


def test_batch_intake(api, session) -> None:  # type: ignore[no-untyped-def]
    items = [hotline_body(f"B-{i}") for i in range(20)]
    r = api.post("api12345", "/api/v1/intake/hotline_12345/batch", json=items)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 20
    r = api.post("api12345", "/api/v1/intake/hotline_12345/batch", json=items[:5] + [hotline_body("B-new")])
    assert r.json()["created"] == 1 and r.json()["existing"] == 5
    bad = [hotline_body("B-x"), hotline_body("B-y", caller_phone="1")]
    r = api.post("api12345", "/api/v1/intake/hotline_12345/batch", json=bad)
    assert r.status_code == 422
    assert session.scalar(select(func.count()).select_from(Case).where(Case.external_id == "B-x")) == 0


def test_resident_reports_and_tracks(api) -> None:  # type: ignore[no-untyped-def]
    body = {
        "title": "噪音扰民",
        "content": "夜间施工噪音很大，影响休息",
        "caller_phone": "13698765432",
        "address": "岳阳楼区五里牌街道",
    }
    r = api.client.post("/api/v1/public/reports", json=body)
    assert r.status_code == 201, r.text
    code = r.json()["tracking_code"]
    assert api.client.post("/api/v1/public/reports", json=body).json()["tracking_code"] == code
    r = api.client.get("/api/v1/public/track", params={"code": code, "phone_last4": "5432"})
    assert r.status_code == 200 and r.json()["status_label"] == "待立案"
    r = api.client.get("/api/v1/public/track", params={"code": code, "phone_last4": "0000"})
    assert r.status_code == 404
    assert "caller_phone" not in r.text


def test_address_is_located_by_the_gazetteer(api) -> None:  # type: ignore[no-untyped-def]
    r = api.post(
        "zuoxi",
        "/api/v1/intake/hotline_12345",
        json=hotline_body("LOC-1", address="岳阳县荣家湾镇", title="道路破损", content="荣家湾镇主街道路破损"),
    )
    assert r.json()["region_code"].startswith("430621") and r.json()["locate_level"] in ("township", "village")


@pytest.mark.parametrize("own_transaction", [False, True])
def test_a_batch_that_loses_a_race_undoes_only_itself(api, db, monkeypatch, own_transaction) -> None:  # type: ignore[no-untyped-def]
    """A matter stored by a concurrent retry after the batch looked it up: the batch's one INSERT fails on the
    unique (channel, external id); each matter is taken again on its own (in a savepoint, or after rolling the
    batch's own transaction back), the late one answers with the stored case, the others are created once, and
    the duplicate index keeps no case of the undone batch."""
    from pingan.cases import service
    from pingan.cases.actors import Actor
    from pingan.dispatch import duplicates
    from pingan.intake import adapters, pipeline
    from pingan.intake.schemas import Hotline12345In
    from pingan.orgs.roles import Role

    r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=hotline_body("LATE-1"))
    assert r.status_code == 201, r.text
    stored_id = r.json()["case_id"]
    actor = Actor(id=None, name="t", role=Role.OPERATOR)
    recs = [adapters.from_hotline(Hotline12345In(**hotline_body(k)), actor) for k in ("LATE-0", "LATE-1", "LATE-2")]
    real = service.find_many_by_external
    calls: list[int] = []

    def late(session, keys):  # type: ignore[no-untyped-def]
        calls.append(1)
        return {} if len(calls) == 1 else real(session, keys)

    monkeypatch.setattr(service, "find_many_by_external", late)
    with db.factory() as s:
        results = pipeline.submit_many(s, [(rec, actor) for rec in recs], own_transaction=own_transaction)
        s.commit()
        idx = duplicates.index_for(s)
        assert idx is not None
        ids = set(s.scalars(select(Case.id)))
        assert set(idx.by_id) <= ids
    assert [r.created for r in results] == [True, False, True]
    assert results[1].case_id == stored_id
    with db.factory() as s:
        for key in ("LATE-0", "LATE-1", "LATE-2"):
            assert s.scalar(select(func.count()).select_from(Case).where(Case.external_id == key)) == 1


def test_tracking_codes_use_the_whole_alphabet_evenly() -> None:
    """A tracking code is "PA" and 10 characters of an alphabet without 0/O/1/I; each position takes every
    character (50 random bits, 5 per character)."""
    from collections import Counter

    from pingan.cases.service import _CODE_ALPHABET, new_tracking_code

    codes = [new_tracking_code() for _ in range(4000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 12 and c.startswith("PA") and set(c[2:]) <= set(_CODE_ALPHABET) for c in codes)
    for pos in (2, 11):
        seen = Counter(c[pos] for c in codes)
        assert set(seen) == set(_CODE_ALPHABET)
        assert max(seen.values()) < 3 * min(seen.values())  # 125 expected each
