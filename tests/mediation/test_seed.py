"""The demo seed: deterministic, made through the service (timelines verify), pages have something to show."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from pingan.mediation import service, stats
from pingan.mediation.models import Dispute, DutySlot
from pingan.mediation.seed import MARRIAGE_CENTER, seed_demo

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_seed_demo(session) -> None:  # type: ignore[no-untyped-def]
    out = seed_demo(session, n=40, now=NOW)
    session.commit()
    assert out["disputes"] == 40 and out["rota_fair"]
    assert session.scalar(select(func.count()).select_from(Dispute)) == 40
    statuses = set(session.scalars(select(Dispute.status)))
    assert len(statuses) >= 4  # alive: several stages at once
    assert service.verify_chains(session) == []
    figs = {f["key"]: f for f in stats.center(session, MARRIAGE_CENTER)}
    assert figs["received"]["value"] == 10
    assert session.scalar(select(func.count()).select_from(DutySlot)) > 0
    assert seed_demo(session, n=40, now=NOW) == {"skipped": "disputes exist"}
