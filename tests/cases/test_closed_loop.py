"""The closed loop through the HTTP API: every action's fields, refusals, counters and side paths."""

from __future__ import annotations

from sqlalchemy import func, select

from pingan.cases.models import CaseEvent
from pingan.notify.models import OutboxMessage
from tests.helpers import act, dep_id, new_case


def test_full_loop_and_timeline(api, session) -> None:  # type: ignore[no-untyped-def]
    cg = dep_id(session, "cg")
    c = new_case(api, "LOOP-1")
    assert c["status"] == "received"
    cid = c["case_id"]
    act(api, "zuoxi", cid, "register")
    case = act(api, "paiqian", cid, "assign", department_id=cg)
    assert case["status"] == "assigned" and case["deadline_at"] and case["sign_deadline_at"]
    act(api, "chengguan", cid, "sign")
    act(api, "chengguan", cid, "start")
    act(api, "chengguan", cid, "feedback", result="已清运完毕")
    act(api, "paiqian", cid, "verify_pass")
    case = act(api, "paiqian", cid, "close")
    assert case["status"] == "closed" and case["closed_at"]
    case = act(api, "zuoxi", cid, "revisit", satisfaction="满意", solved=True)
    assert case["status"] == "revisited" and case["satisfaction"] == "满意"
    tl = api.get("paiqian", f"/api/v1/cases/{cid}/timeline").json()
    assert [e["action"] for e in tl] == [
        "intake",
        "register",
        "assign",
        "sign",
        "start",
        "feedback",
        "verify_pass",
        "close",
        "revisit",
    ]
    assert tl[0]["action_label"] == "受理"
    assert all(e["hash"] for e in tl)
    kinds = set(session.scalars(select(OutboxMessage.kind).where(OutboxMessage.case_id == cid)))
    assert {"assigned", "closed"} <= kinds


def test_refused_actions_are_409_with_reasons(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "REF-1")["case_id"]
    r = api.post("chengguan", f"/api/v1/cases/{cid}/actions/sign", json={})
    # A handler cannot even see a case not handed to their department.
    assert r.status_code == 404
    r = api.post("zuoxi", f"/api/v1/cases/{cid}/actions/close", json={})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "role_not_allowed" and "结案" in err["message"] and err["message_en"]
    r = api.post("paiqian", f"/api/v1/cases/{cid}/actions/close", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert "待立案" in r.json()["error"]["message"]
    r = api.post("paiqian", f"/api/v1/cases/{cid}/actions/fly", json={})
    assert r.status_code == 404


def test_required_fields(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "REQ-1")["case_id"]
    r = api.post("zuoxi", f"/api/v1/cases/{cid}/actions/reject", json={})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "reason"
    act(api, "zuoxi", cid, "register")
    r = api.post("paiqian", f"/api/v1/cases/{cid}/actions/assign", json={})
    assert r.status_code == 422
    r = api.post("paiqian", f"/api/v1/cases/{cid}/actions/assign", json={"department_id": 999999})
    assert r.status_code == 422 and r.json()["error"]["code"] == "department_unknown"
    r = api.post("paiqian", f"/api/v1/cases/{cid}/actions/assign", json={"department_id": 1, "colour": "red"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_return_is_counted_and_goes_back_to_dispatcher(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "RET-1")["case_id"]
    act(api, "zuoxi", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
    act(api, "chengguan", cid, "return", expect=422)
    case = act(api, "chengguan", cid, "return", reason="不属于本部门职责，应由住建部门办理")
    assert case["status"] == "registered" and case["return_count"] == 1 and case["department_id"] is None
    # After the return the old department no longer sees the case's actions.
    assert api.post("chengguan", f"/api/v1/cases/{cid}/actions/sign", json={}).status_code == 409
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "zj"))
    act(api, "zhujian", cid, "sign")


def test_rework_and_reopen_on_dissatisfaction(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "RW-1")["case_id"]
    act(api, "zuoxi", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
    act(api, "chengguan", cid, "sign")
    act(api, "chengguan", cid, "feedback", result="已处理")
    case = act(api, "wangge", cid, "verify_fail", reason="网格员现场核查：垃圾仍未清运")
    assert case["status"] == "in_progress" and case["rework_count"] == 1
    act(api, "chengguan", cid, "feedback", result="已全部清运")
    act(api, "paiqian", cid, "verify_pass")
    act(api, "paiqian", cid, "close")
    r = api.post("zuoxi", f"/api/v1/cases/{cid}/actions/revisit", json={"satisfaction": "一般"})
    assert r.status_code == 422
    case = act(api, "zuoxi", cid, "revisit", satisfaction="非常不满意", solved=False)
    assert case["status"] == "in_progress" and case["rework_count"] == 2 and case["closed_at"] is None


def test_extension_and_suspension_need_approval(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "EXT-1")["case_id"]
    act(api, "zuoxi", cid, "register")
    before = act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
    act(api, "chengguan", cid, "sign")
    act(api, "chengguan", cid, "request_extension", amount=30, unit="work_days", reason="需协调", expect=422)
    case = act(api, "chengguan", cid, "request_extension", amount=3, unit="work_days", reason="需要协调产权单位")
    assert case["pending_request"]["type"] == "extension"
    act(api, "chengguan", cid, "request_suspension", reason="x", expect=409)
    act(api, "chengguan", cid, "approve_extension", expect=409)
    case = act(api, "duban", cid, "approve_extension")
    assert case["pending_request"] is None and case["deadline_at"] > before["deadline_at"]
    act(api, "chengguan", cid, "request_suspension", reason="等待法院判决")
    case = act(api, "paiqian", cid, "approve_suspension")
    assert case["status"] == "suspended"
    case = act(api, "paiqian", cid, "resume")
    assert case["status"] == "in_progress"


def test_merge_informs_every_reporter_when_main_closes(api, session) -> None:  # type: ignore[no-untyped-def]
    main = new_case(api, "M-1")["case_id"]
    dup = new_case(api, "M-2", caller_phone="13900001111")["case_id"]
    act(api, "zuoxi", dup, "merge", expect=422)
    act(api, "zuoxi", dup, "merge", target_case_id=dup, expect=422)
    case = act(api, "zuoxi", dup, "merge", target_case_id=main)
    assert case["status"] == "merged" and case["merged_into_id"] == main
    act(api, "zuoxi", main, "register")
    act(api, "paiqian", main, "assign", department_id=dep_id(session, "cg"))
    act(api, "chengguan", main, "sign")
    act(api, "chengguan", main, "feedback", result="已清运")
    act(api, "paiqian", main, "verify_pass")
    act(api, "paiqian", main, "close")
    informed = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == "closed")).all()
    assert {p["tracking_code"] for p in informed} == {
        api.get("paiqian", f"/api/v1/cases/{i}").json()["tracking_code"] for i in (main, dup)
    }


def test_coordination_case_with_co_handlers(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "CO-1")["case_id"]
    act(api, "zuoxi", cid, "register")
    case = act(
        api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"), co_department_ids=[dep_id(session, "zj")]
    )
    assert case["kind"] == "协调件"
    assert {d["role"] for d in case["departments"]} == {"lead", "co"}
    act(api, "zhujian", cid, "sign", expect=409)  # only the lead signs
    act(api, "zhujian", cid, "co_feedback", result="住建部门已配合")
    act(api, "chengguan", cid, "co_feedback", result="x", expect=409)
    act(api, "chengguan", cid, "sign")
    case = act(api, "chengguan", cid, "feedback", result="联合处置完毕")
    assert [d["feedback"] for d in case["departments"] if d["role"] == "co"] == ["住建部门已配合"]


def test_transfer_to_110_and_first_owner_keeps_it(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "T-1", title="有人持刀在小区门口打架", content="有人持刀打架，情况危急")["case_id"]
    act(api, "zuoxi", cid, "transfer_110", expect=422)
    case = act(api, "zuoxi", cid, "transfer_110", reason="治安警情，属110职责", three_way_call="三方通话确认转110")
    assert case["status"] == "transfer_pending" and case["owner_platform"] == "12345"
    case = act(api, "api110", cid, "refuse_transfer", reason="经三方通话，属民事纠纷", expect=404)  # other channel
    case = act(api, "zuoxi", cid, "refuse_transfer", reason="110 不予接收：属民事纠纷")
    assert case["status"] == "received" and case["owner_platform"] == "12345"
    act(api, "zuoxi", cid, "transfer_110", reason="再次确认为治安警情")
    case = act(api, "paiqian", cid, "confirm_transfer", incident_no="110-2026-0001")
    assert case["status"] == "transferred" and case["owner_platform"] == "110"


def test_optimistic_lock_on_stale_version(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "V-1")["case_id"]
    v = api.get("zuoxi", f"/api/v1/cases/{cid}").json()["version"]
    act(api, "zuoxi", cid, "register", version=v)
    r = api.post("paiqian", f"/api/v1/cases/{cid}/actions/comment", json={"version": v, "note": "旧版本"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "version_conflict"
    n = session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == cid))
    assert n == 2


def test_actions_endpoint_lists_what_the_role_may_do(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "A-1")["case_id"]
    names = {a["action"] for a in api.get("zuoxi", f"/api/v1/cases/{cid}/actions").json()}
    assert {"register", "reject", "merge", "transfer_110"} <= names and "assign" not in names
    names = {a["action"] for a in api.get("lingdao", f"/api/v1/cases/{cid}/actions").json()}
    assert names == set()


def test_dispatcher_correction_is_recorded(api, session) -> None:  # type: ignore[no-untyped-def]
    from pingan.dispatch.models import RoutingCorrection

    cid = new_case(api, "COR-1", title="小学开学后校门口交通拥堵", content="学校门口接送学生车辆太多，交通拥堵")[
        "case_id"
    ]
    act(api, "zuoxi", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "zj"), category="不存在的类别", expect=422)
    case = act(api, "paiqian", cid, "assign", department_id=dep_id(session, "zj"), category="城乡建设")
    assert case["category"] == "城乡建设"
    rows = session.scalars(select(RoutingCorrection).where(RoutingCorrection.case_id == cid)).all()
    assert len(rows) == 1 and rows[0].department_id == dep_id(session, "zj") and rows[0].category == "城乡建设"
