"""Fixed paths of domain routers are not swallowed by /api/v1/cases/{case_id}."""

from __future__ import annotations


def test_export_at_the_documented_path(api) -> None:  # type: ignore[no-untyped-def]
    r = api.get("paiqian", "/api/v1/cases/export.xlsx")
    assert r.status_code == 200, r.text[:300]
    assert r.content[:2] == b"PK"  # an xlsx is a zip file
