"""The demo city: seeded cases cover the whole closed loop with valid timelines; the live stream moves them."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import timedelta

from shapely.geometry import Point
from sqlalchemy import func, select

from pingan.audit.chain import verify_all
from pingan.cases import lifecycle
from pingan.cases.lifecycle import Status
from pingan.cases.models import Case, CaseDepartment, CaseEvent
from pingan.config import Settings
from pingan.db import make_engine, make_session_factory
from pingan.geo.synth import county_polygons
from pingan.intake.adapters import CHANNELS
from pingan.orgs.models import User
from pingan.sim import demo
from pingan.sim.cases import make_specs, seed_cases
from pingan.sim.messages import counties, load_messages, unmask
from pingan.sim.places import county_shapes
from pingan.sim.stream import Stream
from pingan.timeutil import utcnow

ALL_STATES = {s.value for s in Status}


def test_unmask_maps_masked_places_to_yueyang(data_dir):  # type: ignore[no-untyped-def]
    with (data_dir / "messages" / "masked_place_codes_yueyang.csv").open(encoding="utf-8") as fh:
        rows = {r["taidi_code"]: r for r in csv.DictReader(fh)}
    for n in range(1, 10):
        text, county = unmask(f"F市F{n}县某小区")
        assert text == f"岳阳市{rows[f'F{n}']['inferred_name']}某小区"
        assert county == rows[f"F{n}"]["adcode"]
    # Other masked cities and counties land in Yueyang too, deterministically.
    text, county = unmask("A市A7县泉塘街道，西地省K12区")
    assert text == f"岳阳市{rows['F7']['inferred_name']}泉塘街道，湖南省{rows['F3']['inferred_name']}"
    assert county == rows["F7"]["adcode"]
    assert unmask("ABC市")[0] == "ABC市"  # not a masked code


def test_messages_are_unmasked_and_unique() -> None:
    msgs = load_messages()
    assert len(msgs) > 8000
    assert len({m.key for m in msgs}) == len(msgs)
    masked = re.compile(r"(?<![A-Za-z0-9])[A-M]\d{0,2}[市县区]")
    assert not [m.key for m in msgs if masked.search(m.title) or masked.search(m.content)]
    labels = {"城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输"}
    assert {m.label for m in msgs} == labels
    assert {c.code for c in counties()} == set(county_shapes())


def test_specs_are_deterministic_and_spread() -> None:
    now = utcnow()
    a, b = make_specs(300, now, seed=5), make_specs(300, now, seed=5)
    assert [(s.message.key, s.channel, s.received_at, s.plan) for s in a] == [
        (s.message.key, s.channel, s.received_at, s.plan) for s in b
    ]
    assert make_specs(300, now, seed=6)[0].message.key != a[0].message.key or a[0].received_at != (
        make_specs(300, now, seed=6)[0].received_at
    )
    channels = Counter(s.channel for s in a)
    assert set(channels) == set(CHANNELS)
    assert channels.most_common(1)[0][0] == "hotline_12345"
    ages = [(now - s.received_at).days for s in a]
    # Spread up to today: ~3 a day, so none in the last 24 hours happens (about 1 time in 30, by the clock);
    # none in the last 3 days would not.
    assert min(ages) <= 2 and 80 <= max(ages) < 90
    assert all(s.received_at < now for s in a)


def test_seeded_cases_cover_the_loop_and_the_chain_verifies(db) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    report = seed_cases(db.factory, 200, now=now, seed=11)
    assert 200 <= report.cases <= 210  # a few more when the router dispatched matters the desk had to see
    with db.session() as s:
        cases = list(s.scalars(select(Case)))
        statuses = Counter(c.status for c in cases)
        assert set(statuses) == ALL_STATES, ALL_STATES - set(statuses)
        assert {c.channel for c in cases} == set(CHANNELS)
        # Pending extension requests, 退单, 返工, overdue, 即办, 协调件, a satisfaction mix.
        assert any((c.pending_request or {}).get("type") == "extension" for c in cases)
        assert any(c.return_count > 0 and c.status == Status.REVISITED for c in cases)
        assert any(c.rework_count > 0 for c in cases)
        assert any(
            c.status in lifecycle.WITH_DEPARTMENT and c.deadline_at is not None and c.deadline_at < now for c in cases
        )
        assert any(c.kind == "即办件" and c.channel == "grid" for c in cases)
        co = s.scalars(select(CaseDepartment).where(CaseDepartment.role == "co")).all()
        assert co and any(link.feedback for link in co)
        assert len({c.satisfaction for c in cases if c.satisfaction}) >= 3
        # The sweeper's urges were replayed at their instants.
        assert s.scalar(select(func.count()).where(CaseEvent.action == "urge")) > 0
        # The timeline: valid chain, in time order, nothing in the future.
        n_cases, n_events, problems = verify_all(s)
        assert (n_cases, problems) == (report.cases, [])
        assert n_events == report.events
        last: dict[int, object] = {}
        for ev in s.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)):
            assert ev.at <= now
            prev = last.get(ev.case_id)
            assert prev is None or ev.at >= prev, (ev.case_id, ev.seq, ev.action)
            last[ev.case_id] = ev.at
        # Synthetic callers; positions inside the county polygon of the case.
        phones = [c.caller_phone for c in cases if c.caller_phone]
        assert phones and all(re.fullmatch(r"\+861\d{2}0000\d{4}", p) for p in phones)
        # Inside the polygon of the county the case is filed under: a shipped one, or for 屈原管理区 (430671, no
        # shipped polygon) the synthetic cut-out of 汨罗市/湘阴县 the demo layer adds (pingan.geo.synth).
        shipped, synthetic = county_shapes(), county_polygons()
        placed = [c for c in cases if c.lon is not None and c.lat is not None]
        assert placed
        for c in placed:
            assert c.lat is not None and c.lon is not None
            point = Point(c.lon, c.lat)
            inside = c.county_code in shipped and shipped[c.county_code].geom.contains(point)
            assert inside or synthetic[c.county_code].contains(point), (c.id, c.county_code)
        # Handlers acted only for their own departments (the service enforces it; check the accounts exist).
        handled = {c.department_id for c in cases if c.department_id}
        handlers = set(s.scalars(select(User.department_id).where(User.role == "handler")))
        assert handled <= handlers


def test_stream_takes_in_and_advances(db) -> None:  # type: ignore[no-untyped-def]
    seed_cases(db.factory, 40, now=utcnow() - timedelta(minutes=5), seed=3)
    with db.session() as s:
        before_cases = s.scalar(select(func.count()).select_from(Case)) or 0
        before_events = s.scalar(select(func.count()).select_from(CaseEvent)) or 0
        used = {c.extra.get("message") for c in s.scalars(select(Case))}
    stream = Stream(factory=db.factory, seed=1, max_actions=4)
    start = utcnow()
    totals = Counter[str]()
    for _ in range(6):
        totals.update(stream(new=1))
    assert totals["new"] == 6
    assert totals["actions"] >= 6
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == before_cases + 6
        new_cases = s.scalars(select(Case).where(Case.created_at >= start)).all()
        assert len(new_cases) == 6
        assert not {c.extra.get("message") for c in new_cases} & used
        moved = s.scalars(select(CaseEvent).where(CaseEvent.at >= start, CaseEvent.action != "intake")).all()
        assert len(moved) >= 6
        assert {e.action for e in moved} - {"handle_on_spot"}
        assert (s.scalar(select(func.count()).select_from(CaseEvent)) or 0) > before_events + 6
        assert verify_all(s)[2] == []


def test_prepare_seeds_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings()
    settings.db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    jobs = demo.prepare(settings, cases=30, grid_layer=False, mediation=False)
    assert len(jobs) == 1
    engine = make_engine(settings.db_url)
    try:
        with make_session_factory(engine)() as s:
            first = s.scalar(select(func.count()).select_from(Case)) or 0
            assert 30 <= first <= 40
        demo.prepare(settings, cases=30, grid_layer=False, mediation=False)  # a restart: nothing seeded twice
        with make_session_factory(engine)() as s:
            assert s.scalar(select(func.count()).select_from(Case)) == first
            assert verify_all(s)[2] == []
    finally:
        engine.dispose()


def test_prepare_in_background_serves_while_seeding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    settings = Settings()
    settings.db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    [job] = demo.prepare(settings, cases=20, grid_layer=False, mediation=False, background=True)
    engine = make_engine(settings.db_url)
    try:
        deadline = time.time() + 120
        result = job()
        while result is None and time.time() < deadline:  # the stream waits until seeding is done
            time.sleep(0.5)
            result = job()
        assert isinstance(result, dict)
        with make_session_factory(engine)() as s:
            assert (s.scalar(select(func.count()).select_from(Case)) or 0) >= 20
    finally:
        engine.dispose()
