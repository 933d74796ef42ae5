"""Personal information (个人信息保护): encrypted at rest, masked by default, unmasking with permission and a
reason (logged), 保密 callers hidden from departments, purge by policy, key rotation, masked exports."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import timedelta

from sqlalchemy import select, text, update
from typer.testing import CliRunner

from pingan.cases.models import Case
from pingan.security import crypto, pii
from pingan.security.models import SecurityEvent
from pingan.timeutil import utcnow
from tests.helpers import act, dep_id, hotline_body, new_case

PHONE = "13812341234"


def _raw(session, case_id: int) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    row = session.execute(
        text("SELECT caller_name, caller_phone, caller_id_number, caller_phone_last4 FROM cases WHERE id = :i"),
        {"i": case_id},
    ).one()
    return dict(zip(["name", "phone", "id_number", "last4"], row, strict=True))


def test_caller_data_is_encrypted_at_rest(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "ENC-1", caller_name="王小明", caller_phone=PHONE)["case_id"]
    raw = _raw(session, cid)
    assert raw["name"].startswith("v1:") and "王小明" not in raw["name"]
    assert raw["phone"].startswith("v1:") and "1234" not in raw["phone"].split(":", 2)[2][:0] + raw["phone"][:8]
    assert PHONE not in raw["phone"] and raw["last4"] == "1234"
    # Through the application the value reads back whole …
    session.expire_all()
    assert session.get(Case, cid).caller_phone == "+86" + PHONE
    # … and a ciphertext moved to another column does not decrypt (the column is bound in).
    try:
        crypto.decrypt(raw["phone"], "cases.caller_name")
        raise AssertionError("decrypted under the wrong purpose")
    except crypto.KeyError_:
        pass


def test_masked_by_default(api) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "MASK-1", caller_name="王小明", caller_phone=PHONE)["case_id"]
    for user in ("zuoxi", "paiqian", "lingdao", "duban"):
        case = api.get(user, f"/api/v1/cases/{cid}").json()
        assert case["caller_phone"] == "138****1234" and case["caller_name"] == "王**", user
    body = json.dumps(api.get("paiqian", "/api/v1/cases").json(), ensure_ascii=False)
    assert PHONE not in body and "王小明" not in body


def test_id_numbers_are_encrypted_and_masked(api, session) -> None:  # type: ignore[no-untyped-def]
    from pingan.privacy import mask_id_number

    cid = new_case(api, "ID-1")["case_id"]
    case = session.get(Case, cid)
    case.caller_id_number = "430602199001011234"
    session.commit()
    assert _raw(session, cid)["id_number"].startswith("v1:")
    assert mask_id_number("430602199001011234") == "430602********1234"
    r = api.post("zuoxi", f"/api/v1/cases/{cid}/unmask", json={"reason": "回访核实身份"})
    assert r.json()["caller_id_number"] == "430602199001011234"


def test_unmask_needs_permission_and_reason_and_is_logged(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "UNM-1", caller_name="王小明", caller_phone=PHONE)["case_id"]
    assert api.post("zuoxi", f"/api/v1/cases/{cid}/unmask", json={}).status_code == 422
    assert api.post("zuoxi", f"/api/v1/cases/{cid}/unmask", json={"reason": "x"}).status_code == 422
    r = api.post("zuoxi", f"/api/v1/cases/{cid}/unmask", json={"reason": "回访需要联系来电人"})
    assert r.status_code == 200 and r.json()["caller_phone"] == "+86" + PHONE and r.json()["caller_name"] == "王小明"
    ev = session.scalars(
        select(SecurityEvent).where(SecurityEvent.kind == "unmask").order_by(SecurityEvent.seq.desc())
    ).first()
    assert ev.outcome == "ok" and ev.detail == "回访需要联系来电人" and ev.target == f"case:{cid}"
    assert ev.actor_name.startswith("坐席")
    # Leaders, administrators and departments may not.
    for user in ("lingdao", "admin"):
        assert api.post(user, f"/api/v1/cases/{cid}/unmask", json={"reason": "想看一下来电人"}).status_code == 403
    session.expire_all()
    denied = session.scalars(
        select(SecurityEvent).where(SecurityEvent.kind == "unmask", SecurityEvent.outcome == "denied")
    ).all()
    assert len(denied) >= 2


def test_confidential_caller_hidden_from_departments(api, session) -> None:  # type: ignore[no-untyped-def]
    cid = new_case(api, "CONF-1", caller_name="李秘密", caller_phone=PHONE, confidential=True)["case_id"]
    act(api, "paiqian", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
    seen = api.get("chengguan", f"/api/v1/cases/{cid}").json()
    assert seen["caller_name"] is None and seen["caller_phone"] is None
    tl = json.dumps(api.get("chengguan", f"/api/v1/cases/{cid}/timeline").json(), ensure_ascii=False)
    assert "李秘密" not in tl and PHONE not in tl and "138****" not in tl
    assert api.post("chengguan", f"/api/v1/cases/{cid}/unmask", json={"reason": "需要联系"}).status_code == 403
    assert api.get("paiqian", f"/api/v1/cases/{cid}").json()["caller_phone"] == "138****1234"


def test_tracking_lookup_works_on_encrypted_data(api) -> None:  # type: ignore[no-untyped-def]
    code = new_case(api, "TRK-1", caller_phone=PHONE)["tracking_code"]
    assert api.client.get("/api/v1/public/track", params={"code": code, "phone_last4": "1234"}).status_code == 200
    assert api.client.get("/api/v1/public/track", params={"code": code, "phone_last4": "4321"}).status_code == 404


def test_purge_removes_personal_data_and_keeps_statistics(api, session, db) -> None:  # type: ignore[no-untyped-def]
    from pingan.cli import app

    old = new_case(api, "PUR-1", caller_name="赵六", caller_phone=PHONE)["case_id"]
    recent = new_case(api, "PUR-2", caller_name="钱七", caller_phone=PHONE)["case_id"]
    open_ = new_case(api, "PUR-3", caller_name="孙八", caller_phone=PHONE)["case_id"]
    now = utcnow()
    session.execute(update(Case).where(Case.id == old).values(status="closed", closed_at=now - timedelta(days=400)))
    session.execute(update(Case).where(Case.id == recent).values(status="closed", closed_at=now - timedelta(days=30)))
    session.commit()
    before = {
        c.id: (c.category, c.county_code, c.status, c.received_at, c.title) for c in session.scalars(select(Case))
    }
    r = CliRunner().invoke(app, ["privacy", "purge", "--older-than", "365d", "--db", db.url])
    assert r.exit_code == 0, r.output
    assert "1 closed case" in r.output
    session.expire_all()
    assert _raw(session, old) == {"name": None, "phone": None, "id_number": None, "last4": None}
    assert _raw(session, recent)["phone"] is not None and _raw(session, open_)["phone"] is not None
    after = {c.id: (c.category, c.county_code, c.status, c.received_at, c.title) for c in session.scalars(select(Case))}
    assert after == before  # statistics inputs unchanged
    assert session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "privacy_purge")).first() is not None


def test_rotate_key_reencrypts_everything(api, session, db, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pingan.cli import app

    cid = new_case(api, "ROT-1", caller_name="周九", caller_phone=PHONE)["case_id"]
    key_file = tmp_path / "pingan.key"
    shutil.copy(crypto.key_file_path(), key_file)
    monkeypatch.setenv("PINGAN_KEY_FILE", str(key_file))
    old_ring = crypto.load_keyring(reload=True)
    old_kid = crypto.key_id_of(_raw(session, cid)["phone"])
    assert old_kid in old_ring.keys
    try:
        r = CliRunner().invoke(app, ["privacy", "rotate-key", "--db", db.url])
        assert r.exit_code == 0, r.output
        ring = crypto.load_keyring(reload=True)
        assert ring.active != old_kid and set(ring.keys) == {ring.active}  # old key gone from the file
        raw = _raw(session, cid)
        assert crypto.key_id_of(raw["phone"]) == ring.active and crypto.key_id_of(raw["name"]) == ring.active
        assert pii.key_usage(session) == {ring.active: pii.key_usage(session)[ring.active]}
        session.expire_all()
        c = session.get(Case, cid)
        assert (c.caller_name, c.caller_phone) == ("周九", "+86" + PHONE)
        assert api.get("paiqian", f"/api/v1/cases/{cid}").json()["caller_phone"] == "138****1234"
        r = CliRunner().invoke(app, ["privacy", "key-status", "--db", db.url])
        assert ring.active in r.output
    finally:
        db.clean()  # rows encrypted under the temporary key file must not outlive it


def test_export_is_scoped_masked_and_logged(api, session) -> None:  # type: ignore[no-untyped-def]
    mine = new_case(
        api,
        "EXP-1",
        caller_name="吴十",
        caller_phone=PHONE,
        address="岳阳楼区五里牌街道",
        title='=HYPERLINK("http://x")',
    )["case_id"]
    act(api, "paiqian", mine, "register")
    act(api, "paiqian", mine, "assign", department_id=dep_id(session, "cg"))
    other = new_case(api, "EXP-2", title="别的部门的事项")["case_id"]
    r = api.get("paiqian", "/api/v1/exports/cases.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    assert all(row["caller_phone"] in ("138****1234", "") for row in rows)
    assert PHONE not in r.text and "吴十" not in r.text
    assert any(row["title"].startswith("'=") for row in rows)  # no spreadsheet formula
    # A department exports only its own cases.
    r = api.get("chengguan", "/api/v1/exports/cases.csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["tracking_code"] for row in rows] == [
        api.get("paiqian", f"/api/v1/cases/{mine}").json()["tracking_code"]
    ]
    assert "别的部门的事项" not in r.content.decode("utf-8-sig")
    assert other
    ev = session.scalars(
        select(SecurityEvent).where(SecurityEvent.kind == "export").order_by(SecurityEvent.seq.desc())
    ).first()
    assert ev.data["rows"] == 1 and ev.actor_name.startswith("市城管局")
    assert api.get("api12345", "/api/v1/exports/cases.csv").status_code == 403


def test_hotline_body_helper_carries_a_phone() -> None:
    assert hotline_body("X")["caller_phone"] == PHONE
