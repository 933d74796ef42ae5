"""The mediation pages render from the records (masked parties, figures with their definitions)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from pingan.mediation.models import Dispute
from pingan.mediation.seed import seed_demo


def test_dashboard_and_dispute_page(api, db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        seed_demo(s, n=10, now=datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
        s.commit()
        first = s.scalars(select(Dispute).order_by(Dispute.id)).first()
        assert first is not None
        did, name = first.id, first.parties[0].name
    api.client.cookies.set("pingan_token", api.token("lingdao"))
    r = api.client.get("/mediation")
    assert r.status_code == 200, r.text[:500]
    assert 'data-testid="fig-success_rate"' in r.text and "和好数 / 受理数" in r.text
    assert "积案化解率" in r.text and "已办结且息访的积案数 / 积案数" in r.text
    detail = api.client.get(f"/mediation/disputes/{did}")
    assert detail.status_code == 200 and "当事人" in detail.text
    assert f"{name[0]}{'*' * (len(name) - 1)}" in detail.text and name not in detail.text
    assert "协议书 .docx" not in detail.text  # a leader does not get the unmasked documents
    missing = api.client.get("/mediation/disputes/999999")
    assert missing.status_code == 404
    api.client.cookies.clear()
    assert api.client.get("/mediation", follow_redirects=False).status_code == 303
