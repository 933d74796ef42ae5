"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.orgs.models import Department


def dep_id(session: Session, code: str) -> int:
    dep = session.scalars(select(Department).where(Department.code == code)).one()
    return dep.id


def hotline_body(no: str, **kw: Any) -> dict[str, Any]:
    body = {
        "work_order_no": no,
        "case_type": "投诉",
        "title": "小区门口垃圾堆放多日无人清运",
        "content": "岳阳楼区五里牌街道某小区门口垃圾堆放多日，气味很大，请尽快清运。",
        "address": "岳阳楼区五里牌街道",
        "caller_name": "张三",
        "caller_phone": "13812341234",
    }
    body.update(kw)
    return body


def new_case(api: Any, no: str, **kw: Any) -> dict[str, Any]:
    r = api.post("zuoxi", "/api/v1/intake/hotline_12345", json=hotline_body(no, **kw))
    assert r.status_code == 201, r.text
    return dict(r.json())


def act(api: Any, user: str, case_id: int, action: str, expect: int = 200, **body: Any) -> dict[str, Any]:
    r = api.post(user, f"/api/v1/cases/{case_id}/actions/{action}", json=body)
    assert r.status_code == expect, f"{action} by {user}: {r.status_code} {r.text}"
    return dict(r.json())
