from __future__ import annotations


def test_login_and_hotline_intake(api):  # type: ignore[no-untyped-def]
    body = {
        "work_order_no": "WO-1",
        "case_type": "投诉",
        "title": "路灯不亮",
        "content": "岳阳楼区五里牌街道路灯不亮",
        "caller_name": "张三",
        "caller_phone": "13812341234",
    }
    r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["created"] is True
    r2 = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=body)
    assert r2.status_code == 200
    assert r2.json()["case_id"] == r.json()["case_id"]
