"""A caller's ID number: checked (GB 11643), encrypted at rest, shown masked (first 6 + last 4)."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import hotline_body


def test_id_number_is_checked_encrypted_and_masked(api, session) -> None:  # type: ignore[no-untyped-def]
    bad = api.post(
        "zuoxi", "/api/v1/intake/hotline_12345", json=hotline_body("ID-0", caller_id_number="110105194912310021")
    )
    assert bad.status_code == 422
    r = api.post(
        "zuoxi", "/api/v1/intake/hotline_12345", json=hotline_body("ID-1", caller_id_number="11010519491231002x")
    )
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    shown = api.get("paiqian", f"/api/v1/cases/{cid}").json()["caller_id_number"]
    assert shown == "110105********002X"
    raw = session.execute(text("SELECT caller_id_number FROM cases WHERE id = :i"), {"i": cid}).scalar_one()
    assert raw and "11010519491231002X" not in str(raw)
