"""The HTTP API: masking, refusals as 409/422/403, multipart upload, agreement download, statistics."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pypdf
from docx import Document

BODY = {
    "title": "网格排查：两户因排水沟堵塞争吵",
    "dispute_type": "邻里",
    "people_count": 2,
    "region_code": "430602",
    "grid_code": "430602001001001",
    "description": "网格员排查发现两户因排水沟堵塞多次争吵。",
    "source": "sweep",
    "parties": [
        {"role": "申请人", "name": "陈志强", "phone": "13812345678", "id_number": "430602198001011234"},
        {"role": "被申请人", "name": "刘桂兰", "phone": "13987654321"},
    ],
}


def test_dispute_api_roundtrip(api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("wangge", "/api/v1/disputes", json=BODY)
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["source_label"] == "网格排查" and d["status"] == "registered"
    p = d["parties"][0]
    assert p["name"] == "陈**" and p["phone"] == "138****5678" and p["id_number"] == "430602********1234"
    assert "13812345678" not in r.text and "陈志强" not in r.text.replace(BODY["title"], "")
    bad = api.post("wangge", "/api/v1/disputes", json={**BODY, "unknown": 1})
    assert bad.status_code == 422
    did = d["id"]
    refused = api.post("wangge", f"/api/v1/disputes/{did}/actions/accept", json={})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "role_not_allowed"
    acts = [a["action"] for a in api.get("tj_test_a", f"/api/v1/disputes/{did}/actions").json()]
    assert "accept" in acts and "refuse" in acts and "close" not in acts
    r = api.post("tj_test_a", f"/api/v1/disputes/{did}/actions/accept", json={"version": d["version"]})
    assert r.status_code == 200 and r.json()["deadline_at"]
    session_body = {"session": {"place": "社区调解室", "participants": ["陈志强", "刘桂兰"], "notes": "疏通排水沟方案",
                                "risk": {"threats": False}}}  # fmt: skip
    assert api.post("tj_test_a", f"/api/v1/disputes/{did}/actions/hold_session", json=session_body).status_code == 200
    due = (date.today() + timedelta(days=10)).isoformat()
    agreement = {"agreement": {"facts": "排水沟堵塞导致积水", "terms": ["刘桂兰于三日内清理排水沟", "费用双方各半"],
                               "performance_manner": "当面清理", "performance_deadline": due}}  # fmt: skip
    r = api.post("tj_test_a", f"/api/v1/disputes/{did}/actions/reach_agreement", json=agreement)
    assert r.status_code == 200 and r.json()["status"] == "agreed"
    # Only mediators and the desk may open the agreement (it names the parties in full).
    assert api.get("lingdao", f"/api/v1/disputes/{did}/agreement.docx").status_code == 403
    docx = api.get("tj_test_a", f"/api/v1/disputes/{did}/agreement.docx")
    assert docx.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "陈志强" in text and "刘桂兰于三日内清理排水沟" in text
    pdf = api.get("paiqian", f"/api/v1/disputes/{did}/agreement.pdf")
    assert "费用双方各半" in "".join(pg.extract_text() for pg in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    up = api.client.post(
        f"/api/v1/disputes/{did}/documents",
        headers=api.as_("tj_test_a"),
        files={"file": ("signed.pdf", pdf.content, "application/pdf")},
        data={"kind": "signed_agreement"},
    )
    assert up.status_code == 201, up.text
    r = api.post("tj_test_a", f"/api/v1/disputes/{did}/actions/sign", json={"document_id": up.json()["id"]})
    assert r.status_code == 200 and r.json()["status"] == "performing" and r.json()["judicial_deadline"]
    tl = api.get("lingdao", f"/api/v1/disputes/{did}/timeline").json()
    assert [e["action"] for e in tl][-3:] == ["view_personal", "upload", "sign"]
    listing = api.get("lingdao", "/api/v1/disputes?judicial_open=true").json()
    assert [x["id"] for x in listing["items"]] == [did]
    figs = {f["key"]: f for f in api.get("lingdao", "/api/v1/mediation/stats").json()}
    assert figs["agreed"]["value"] == 1 and figs["success_rate"]["definition"]


def test_petition_api_and_backlog(api) -> None:  # type: ignore[no-untyped-def]
    body = {"form": "来访", "petitioner_name": "赵德明", "petitioner_phone": "13700001111", "subject": "拖欠工资",
            "content": "要求结清工资", "region_code": "430603", "received_level": "city"}  # fmt: skip
    r = api.post("zuoxi", "/api/v1/petitions", json=body)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["skip_level"] and p["petitioner_name"] == "赵**" and p["petitioner_phone"] == "137****1111"
    assert api.post("zuoxi", f"/api/v1/petitions/{p['id']}/actions/accept", json={}).status_code == 200
    r = api.post("duban", f"/api/v1/petitions/{p['id']}/actions/mark_backlog",
                 json={"owner": "云溪区副区长", "deadline": "2027-03-01"})  # fmt: skip
    assert r.status_code == 200 and r.json()["backlog"]
    bl = api.get("lingdao", "/api/v1/petitions/backlog").json()
    assert bl["clearance"]["denominator"] == 1 and bl["clearance"]["numerator"] == 0
    assert bl["items"][0]["owner"] == "云溪区副区长"
    again = api.post("zuoxi", "/api/v1/petitions", json=body).json()
    assert again["repeat_of_id"] == p["id"] and again["petitions_by_same_person"] == 2


def test_roster_rota_api_and_petition_to_dispute(api) -> None:  # type: ignore[no-untyped-def]
    center = "marriage:430621"
    bad = api.post("paiqian", "/api/v1/mediation/mediators",
                   json={"name": "某", "kind": "lawyer", "organisation": "中心", "region_code": "430621",
                         "user_id": 999999})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "user_unknown"
    ids = []
    for i in range(4):
        r = api.post("paiqian", "/api/v1/mediation/mediators",
                     json={"name": f"志愿者{i}", "kind": "counsellor", "organisation": "岳阳县婚姻家庭纠纷调解中心",
                           "center": center, "region_code": "430621", "phone": "13600000000"})  # fmt: skip
        assert r.status_code == 201 and r.json()["phone"] == "136****0000"
        ids.append(r.json()["id"])
    assert api.post("lingdao", "/api/v1/mediation/mediators", json={}).status_code == 403
    r = api.post("paiqian", f"/api/v1/mediation/mediators/{ids[0]}/unavailable", json={"days": ["2026-03-03"]})
    assert r.json() == {"added": 1}
    r = api.post("paiqian", f"/api/v1/mediation/centers/{center}/rota",
                 json={"start": "2026-03-02", "end": "2026-03-13", "per_day": 2})  # fmt: skip
    assert r.status_code == 200 and r.json()["fair"] and r.json()["days"] == 10
    days = api.get("lingdao", f"/api/v1/mediation/centers/{center}/rota?start=2026-03-02&end=2026-03-13").json()
    mar3 = next(d for d in days if d["day"] == "2026-03-03")
    assert ids[0] not in [p["mediator_id"] for p in mar3["on_duty"]] and len(mar3["on_duty"]) == 2
    again = api.post("paiqian", f"/api/v1/mediation/centers/{center}/rota", json={"start": "2026-03-02",
                     "end": "2026-03-13"})  # fmt: skip
    assert again.status_code == 409 and again.json()["error"]["code"] == "rota_exists"
    # A petition handed to mediation: both records point at each other.
    p = api.post("zuoxi", "/api/v1/petitions", json={"form": "来访", "petitioner_name": "钱某", "subject": "山林权属",
                 "content": "与邻组山林界址争议", "region_code": "430621"}).json()  # fmt: skip
    dispute = {"title": "山林界址纠纷", "dispute_type": "土地山林", "region_code": "430621", "description": "界址争议",
               "source": "walk_in", "people_count": 12, "parties": [{"role": "申请人", "name": "钱某"}]}  # fmt: skip
    r = api.post("zuoxi", f"/api/v1/petitions/{p['id']}/actions/to_dispute", json={"dispute": dispute})
    assert r.status_code == 200 and r.json()["dispute_id"]
    d = api.get("lingdao", f"/api/v1/disputes/{r.json()['dispute_id']}").json()
    assert d["source"] == "petition" and d["source_ref"] == p["code"]
    twice = api.post("zuoxi", f"/api/v1/petitions/{p['id']}/actions/to_dispute", json={"dispute": dispute})
    assert twice.status_code == 409
