"""Ids drawn before the flush (pingan.db._prefetch_ids): a batch's timeline events go out as one short
pipelined INSERT on PostgreSQL, not as one INSERT … RETURNING with a parameter per value."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, select

from pingan.cases.models import CaseEvent
from tests.helpers import hotline_body


def test_a_batch_writes_its_events_with_ids_drawn_in_order(api: Any, db: Any) -> None:
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO case_events"):
            seen.append((statement, many))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        body = [
            hotline_body(f"ids-{i}", title=f"路灯损坏第{i}处", content=f"第{i}处路灯损坏，夜间出行不便。")
            for i in range(24)
        ]
        r = api.post("zuoxi", "/api/v1/intake/hotline_12345/batch", json=body)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 24
    assert seen, "the batch wrote no events"
    if db.kind == "postgresql":
        assert all(many and "RETURNING" not in stmt and len(stmt) < 1000 for stmt, many in seen), seen
    with db.session() as s:
        rows = s.execute(select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.id).order_by(CaseEvent.id)).all()
    assert len(rows) >= 24
    # Ids follow the order the events were made in: within a case, by seq.
    by_case: dict[int, list[int]] = {}
    for case_id, seq, _ in rows:
        by_case.setdefault(case_id, []).append(seq)
    assert all(seqs == sorted(seqs) for seqs in by_case.values())
    assert len({i for _, _, i in rows}) == len(rows)
