"""并案候选: every rule of the duplicate finder, on SQLite and PostgreSQL, through the service and the API."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.cases.schemas import ActionInput
from pingan.config import Settings
from pingan.dispatch import duplicates
from pingan.dispatch.dup_policies import DuplicatesPolicy
from pingan.errors import Invalid
from pingan.notify.models import OutboxMessage
from pingan.orgs.models import Department
from pingan.orgs.roles import Role
from pingan.policy import registry

T0 = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
LON, LAT = 113.1290, 29.3570  # 岳阳楼区
DESK = Actor(id=None, name="测试坐席", role=Role.DISPATCHER)

TRASH = ("小区门口垃圾堆放多日无人清运", "五里牌街道某小区门口垃圾堆放多日，气味很大，苍蝇很多，请尽快清运。")
TRASH2 = ("小区门口垃圾好几天没人清运", "某小区大门口的垃圾堆了好几天没有清运，气味难闻，苍蝇乱飞，请环卫处理。")
LAMP = ("学校路口路灯不亮", "学校旁边路口的路灯坏了一个星期，晚上很黑，孩子放学不安全。")


def east(metres: float) -> float:
    """Longitude metres east of LON at LAT."""
    import math

    return LON + metres / (111_320.0 * math.cos(math.radians(LAT)))


def make(
    session: Session,
    text: tuple[str, str],
    *,
    lon: float | None = LON,
    lat: float | None = LAT,
    at: datetime = T0,
    town: str | None = "430602001",
    county: str = "430602",
    commit: bool = True,
) -> Case:
    case = Case(
        channel="hotline_12345",
        external_id=uuid.uuid4().hex[:16],
        case_type="投诉",
        title=text[0],
        content=text[1],
        lon=lon,
        lat=lat,
        region_code=town or county,
        county_code=county,
        town_code=town,
        received_at=at,
        extra={},
        departments=[],
    )
    case, _ = service.open_case(session, case, DESK, at, {})
    if commit:
        session.commit()
    return case


def find(session: Session, text: tuple[str, str], **kw: Any) -> list[dict[str, Any]]:
    args: dict[str, Any] = {"lon": LON, "lat": LAT, "at": T0 + timedelta(hours=3), "town_code": "430602001"}
    args.update(kw)
    got = duplicates.candidates(session, title=text[0], content=text[1], **args)
    session.commit()  # end the read (SQLite: release the lock for the next writer)
    return got


@pytest.fixture(autouse=True)
def _fresh_indexes() -> None:
    duplicates.forget_indexes()


@pytest.fixture
def tx(db: Any) -> Iterator[Session]:
    """A transactional session (the shared `session` fixture is autocommit, for reads)."""
    with db.session() as s:
        yield s


def test_text_model_prefers_the_same_matter() -> None:
    m = duplicates.text_model()
    a, b, c = (m.vector(*t) for t in (TRASH, TRASH2, LAMP))
    assert m.cosine(a, b) > 0.3 > m.cosine(a, c)
    assert m.cosine(a, a) == pytest.approx(1.0, abs=1e-4)
    assert len(a[0]) <= duplicates.policy().text.top_terms


def _vector_by_hand(model: duplicates.TextModel, title: str, content: str) -> tuple[list[int], list[float]]:
    from collections import Counter

    tf: Counter[int] = Counter()
    for run in duplicates._runs(model.text_of(title, content), model.stop_terms):
        tf.update(model.col(run[i : i + 2]) for i in range(len(run) - 1))
    w = {c: (1.0 + np.log(np.float32(n))) * model.idf[c] for c, n in tf.items()}
    top = sorted(sorted(w, key=lambda c: (-w[c], c))[: model.top_terms])
    norm = float(np.sqrt(sum(float(w[c]) ** 2 for c in top))) or 1.0
    return top, [float(w[c]) / norm for c in top]


def test_text_vectors_of_a_batch_are_each_texts_own() -> None:
    """Vectors are computed for a whole batch at once: each must be its text's alone (top terms, weights),
    whatever its neighbours, empty and repeated texts included."""
    model = duplicates.text_model()
    texts = duplicates.message_corpus()[:300] + [("", ""), TRASH, ("，。！", "123"), TRASH, LAMP]
    batch = model.vectors(texts)
    assert len(batch) == len(texts)
    assert sum(len(c) for c, _ in batch) > 5_000
    assert len(batch[300][0]) == 0 and batch[301] is batch[303]
    assert any(len(c) == model.top_terms for c, _ in batch)  # the top-terms cut was exercised
    for (title, content), (cols, w) in zip(texts, batch, strict=True):
        want_cols, want_w = _vector_by_hand(model, title, content)
        assert cols.dtype == np.int32 and w.dtype == np.float32 and not cols.flags.writeable
        assert cols.tolist() == want_cols, title
        assert np.allclose(w, want_w, atol=1e-6)
    alone = model.vector(*LAMP)
    assert alone[0].tolist() == batch[-1][0].tolist()


def test_shared_phrases_read_an_index_row_as_it_is_stored() -> None:
    """The why's shared words: an index row (ascending columns, padding last) gives the phrases a plain set of
    the other matter's columns gives; the phrases are runs of the query's text, longest and rarest first."""
    m = duplicates.text_model()
    query = m.bigrams(*TRASH)
    row, _ = m.padded(*TRASH2)
    assert np.all(np.diff(row.astype(np.int64)) >= 0)
    plain = m.shared_phrases(*TRASH, {int(c) for c in row if c != m.pad})
    fast = m.shared_phrases(*TRASH, row, query=query, presorted=True)
    assert fast == plain and fast
    assert all(p in query.text for p in fast)
    assert any("垃圾" in p for p in fast)
    assert m.shared_phrases(*TRASH, np.full(4, m.pad, dtype=np.int32), presorted=True) == []


def test_near_similar_open_case_is_a_candidate_with_reasons(tx: Session) -> None:
    main = make(tx, TRASH, lon=east(60))
    make(tx, LAMP, lon=east(30))  # near but another matter
    got = find(tx, TRASH2)
    assert [g["case_id"] for g in got] == [main.id]
    g = got[0]
    assert g["tracking_code"] == main.tracking_code and g["status"] == "received"
    assert 50 < g["distance_m"] < 70 and g["hours_apart"] == pytest.approx(3.0)
    assert 0 < g["score"] <= 1 and g["text_similarity"] >= duplicates.policy().min_text
    why = " ".join(g["why"])
    assert "米" in why and "小时" in why and "共同词语" in why and "垃圾" in why


def test_radius_and_time_window_bound_the_search(tx: Session) -> None:
    make(tx, TRASH, lon=east(350))
    make(tx, TRASH, at=T0 - timedelta(days=9))
    assert find(tx, TRASH2) == []
    # both are found when the caller widens the policy's radius and window
    assert len(find(tx, TRASH2, radius_m=500, days=10)) == 2


def test_more_similar_and_nearer_ranks_first_and_limit_applies(tx: Session) -> None:
    far = make(tx, TRASH, lon=east(150))
    near = make(tx, TRASH, lon=east(10))
    got = find(tx, TRASH)
    assert [g["case_id"] for g in got] == [near.id, far.id]
    assert got[0]["score"] > got[1]["score"]
    assert [g["case_id"] for g in find(tx, TRASH, limit=1)] == [near.id]


def test_excluded_merged_and_closed_cases_are_not_candidates(tx: Session) -> None:
    a = make(tx, TRASH, lon=east(20))
    b = make(tx, TRASH, lon=east(40))
    assert {g["case_id"] for g in find(tx, TRASH2)} == {a.id, b.id}
    assert {g["case_id"] for g in find(tx, TRASH2, exclude_case_id=a.id)} == {b.id}
    # merged a moment ago, after the index was built: never shown again
    service.act(tx, b.id, "merge", DESK, ActionInput(target_case_id=a.id))
    tx.commit()
    assert [g["case_id"] for g in find(tx, TRASH2)] == [a.id]
    tx.execute(update(Case).where(Case.id == a.id).values(status="closed"))
    tx.commit()
    assert find(tx, TRASH2) == []


def test_cases_written_by_another_session_are_seen_at_once(db: Any, tx: Session) -> None:
    assert find(tx, TRASH2) == []  # the index exists now
    with db.session() as other:
        c = make(other, TRASH, lon=east(25))
    assert [g["case_id"] for g in find(tx, TRASH2)] == [c.id]
    assert duplicates.index_for(tx).stats["incremental"] >= 1


def _more_than_the_look_back(db: Any) -> None:
    """Cases committed meanwhile by another session, more than the index re-reads below its highest id."""
    with db.session() as other:
        for i in range(duplicates.LOOKBACK_IDS + 4):
            make(other, LAMP, lon=east(3000 + 10 * i))


def test_a_case_committed_after_higher_ids_joins_the_index(db: Any, tx: Session) -> None:
    """Another process's transaction took its id first and commits last, after the index has read past it."""
    if db.kind != "postgresql":
        pytest.skip("SQLite has one writer at a time: its ids commit in order")
    assert find(tx, TRASH2) == []  # the index exists now
    with db.session() as slow:
        early = make(slow, TRASH, lon=east(25), commit=False)
        _more_than_the_look_back(db)
        assert find(tx, TRASH2) == []
        slow.commit()
    assert [g["case_id"] for g in find(tx, TRASH2)] == [early.id]


def test_a_reopening_committed_after_higher_events_brings_the_case_back(db: Any, tx: Session) -> None:
    if db.kind != "postgresql":
        pytest.skip("SQLite has one writer at a time: its events commit in order")
    a = make(tx, TRASH)
    dep = tx.scalars(select(Department.id).where(Department.code == "cg")).one()
    tx.execute(update(Case).where(Case.id == a.id).values(status="closed", department_id=dep))
    tx.commit()
    assert find(tx, TRASH2) == []
    with db.session() as slow:
        boss = Actor(id=None, name="督办员", role=Role.SUPERVISOR)
        service.act(slow, a.id, "reopen", boss, ActionInput(reason="回访不满意"))  # its event is written, not committed
        _more_than_the_look_back(db)
        assert find(tx, TRASH2) == []
        slow.commit()
    assert [g["case_id"] for g in find(tx, TRASH2)] == [a.id]


def test_reopened_case_returns_at_once(tx: Session) -> None:
    a = make(tx, TRASH)
    dep = tx.scalars(select(Department.id).where(Department.code == "cg")).one()
    tx.execute(update(Case).where(Case.id == a.id).values(status="closed", department_id=dep))
    tx.commit()
    assert find(tx, TRASH2) == []
    boss = Actor(id=None, name="督办员", role=Role.SUPERVISOR)
    tx.expire_all()
    service.act(tx, a.id, "reopen", boss, ActionInput(reason="回访不满意"))
    tx.commit()
    assert [g["case_id"] for g in find(tx, TRASH2)] == [a.id]


def test_status_changes_leave_the_index_without_a_resync(tx: Session) -> None:
    a = make(tx, TRASH)
    b = make(tx, LAMP, lon=east(3000))
    assert [g["case_id"] for g in find(tx, TRASH2)] == [a.id]  # index built; b is far away, never a candidate
    idx = duplicates.index_for(tx)
    assert b.id in idx.by_id
    service.act(tx, b.id, "reject", DESK, ActionInput(reason="重复"))
    tx.commit()
    find(tx, TRASH2)
    assert b.id not in idx.by_id and a.id in idx.by_id
    assert idx.stats["resyncs"] == 0 and idx.stats["status_changes"] >= 1


def test_a_rebuilt_database_rebuilds_the_index(db: Any, tx: Session) -> None:
    old = make(tx, TRASH)
    assert [g["case_id"] for g in find(tx, TRASH2)] == [old.id]
    db.clean()  # ids may start again from 1
    with db.session() as fresh:
        new = make(fresh, LAMP)
    assert find(tx, TRASH2) == []
    assert [g["case_id"] for g in find(tx, LAMP)] == [new.id]
    assert duplicates.index_for(tx).stats["rebuilds"] >= 2


def test_without_coordinates_same_town_and_stricter_text(tx: Session) -> None:
    same = make(tx, TRASH, lon=None, lat=None, town="430602001")
    make(tx, TRASH, lon=None, lat=None, town="430602002")
    located_other_town = make(tx, TRASH, lon=east(30), town="430602003")
    got = find(tx, TRASH2, lon=None, lat=None, town_code="430602001")
    assert [g["case_id"] for g in got] == [same.id]
    assert got[0]["distance_m"] is None and "同一乡镇" in got[0]["why"][0]
    # a located new matter also sees unlocated cases of its own town (text only) and located ones by distance
    got = find(tx, TRASH2)
    assert {g["case_id"] for g in got} == {same.id, located_other_town.id}
    # the no-coordinates threshold is stricter than the located one
    pol = duplicates.policy()
    assert pol.min_text_no_coords > pol.min_text
    # county only: every case of the county
    got = find(tx, TRASH2, lon=None, lat=None, town_code=None, county_code="430602")
    assert len(got) == 3 and all("同一区县" in g["why"][0] for g in got)
    assert find(tx, TRASH2, lon=None, lat=None, town_code=None, county_code=None) == []


def test_a_batch_scores_a_shared_area_once_and_answers_as_one_by_one(tx: Session) -> None:
    """An intake batch's matters of one town are scored against the town's cases in one pass
    (`similarity_many`); each gets the candidates it gets alone, with the same scores and reasons."""
    texts = [TRASH, TRASH2, LAMP, (TRASH[0], ""), ("", LAMP[1])]
    for i, text in enumerate(texts * 2):
        make(tx, text, lon=None, lat=None, town="430602001" if i % 3 else "430602002", at=T0 + timedelta(minutes=i))
    make(tx, TRASH, lon=east(40))
    at = T0 + timedelta(hours=2)
    queries = [
        duplicates.Query(title, content, lon, lat, at, town, "430602")
        for (title, content) in [*texts, ("社保卡补办咨询", "请问社保卡丢失后如何补办，需要带什么材料。")]
        for lon, lat, town in ((None, None, "430602001"), (LON, LAT, "430602001"), (None, None, None))
    ]
    many = duplicates.candidates_many(tx, queries)
    tx.commit()
    alone = [duplicates.candidates_many(tx, [q])[0] for q in queries]
    tx.commit()
    assert any(len(got) >= 2 for got in many) and any(got == [] for got in many)
    assert many == alone
    # an intake batch's later matters see only cases stored before them, and a case never finds itself
    ids = sorted(tx.scalars(select(Case.id)))
    bounded = [dataclasses.replace(q, before_id=ids[6], exclude_case_id=ids[1]) for q in queries]
    many = duplicates.candidates_many(tx, bounded)
    tx.commit()
    assert many == [duplicates.candidates_many(tx, [q])[0] for q in bounded]
    found = {c["case_id"] for got in many for c in got}
    assert found and max(found) < ids[6] and ids[1] not in found
    idx = duplicates.index_for(tx)
    assert idx is not None
    slots = idx.slots_in(idx.by_town, "430602001")
    vectors = [idx.model.vector(*t) for t in texts]
    with idx.lock:
        together = idx.similarity_many(vectors, slots)
        apart = np.stack([idx.similarity(v, slots) for v in vectors])
    assert together.shape == (len(texts), len(slots)) and np.allclose(together, apart, atol=1e-6)
    assert idx.similarity_many([], slots).shape == (0, len(slots))


def test_actor_sees_only_candidates_in_scope(tx: Session) -> None:
    mine = make(tx, TRASH, county="430602", town="430602001")
    make(tx, TRASH, county="430611", town="430611001", lon=east(5))
    district = Actor(id=None, name="区派遣员", role=Role.DISPATCHER, region_code="430602")
    assert [g["case_id"] for g in find(tx, TRASH2, actor=district)] == [mine.id]
    assert len(find(tx, TRASH2)) == 2


def test_sql_fallback_answers_like_the_index(tx: Session) -> None:
    near = make(tx, TRASH, lon=east(10))
    far = make(tx, TRASH, lon=east(150))
    make(tx, TRASH, lon=east(400))
    make(tx, LAMP, lon=east(20))
    nolo = make(tx, TRASH, lon=None, lat=None)
    by_index = find(tx, TRASH2)
    by_sql = find(tx, TRASH2, fallback=True)
    assert [g["case_id"] for g in by_sql] == [g["case_id"] for g in by_index] == [near.id, nolo.id, far.id]
    assert [g["score"] for g in by_sql] == [g["score"] for g in by_index]
    town_sql = find(tx, TRASH2, lon=None, lat=None, fallback=True)
    assert town_sql == find(tx, TRASH2, lon=None, lat=None) and nolo.id in {g["case_id"] for g in town_sql}


def test_large_database_builds_its_index_in_the_background(tx: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(duplicates, "BACKGROUND_BUILD_ABOVE", 0)
    a = make(tx, TRASH, lon=east(30))
    # the first call answers at once from SQL while the index is built in a thread …
    assert [g["case_id"] for g in find(tx, TRASH2)] == [a.id]
    for _ in range(600):
        if duplicates._key(tx) in duplicates._INDEXES:
            break
        time.sleep(0.05)
    # … and later calls use the index
    idx = duplicates.index_for(tx, wait=False)
    assert idx is not None and a.id in idx.by_id
    assert [g["case_id"] for g in find(tx, TRASH2)] == [a.id]


def test_policy_file_validates_and_refuses_bad_weights() -> None:
    pol = duplicates.policy()
    assert isinstance(pol, DuplicatesPolicy)
    assert (pol.radius_m, pol.days, pol.limit) == (200, 7, 5)
    text = (Settings().policy_dir / "duplicates.yaml").read_text("utf-8")
    bad = text.replace("{text: 0.6, distance: 0.25, time: 0.15}", "{text: 0.6, distance: 0.5, time: 0.15}")
    assert bad != text
    with pytest.raises(Invalid) as exc:
        registry.parse(bad)
    assert exc.value.code == "policy_invalid"


def test_cells_cover_the_radius_everywhere() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    cell = 250.0
    for _ in range(200):
        lat0, lon0 = rng.uniform(28.4, 29.8), rng.uniform(112.9, 114.1)
        r = float(rng.uniform(50, 800))
        cover = set(duplicates.cells_covering(lat0, lon0, r, cell))
        for ang in np.linspace(0, 2 * np.pi, 24):
            d = r * 0.999
            lat = lat0 + d * np.sin(ang) / 111_320.0
            lon = lon0 + d * np.cos(ang) / (111_320.0 * np.cos(np.radians(lat0)))
            row = duplicates._row(lat, cell)
            assert (row, duplicates._col(lon, row, cell)) in cover


# ----------------------------------------------------------------------------------------------------- HTTP


def test_api_duplicates_then_merge_and_every_reporter_is_informed(api: Any, session: Session, tx: Session) -> None:
    # stored through the case service (the intake's automatic dispatch is not what this test is about)
    first = make(tx, TRASH, lon=east(0))
    second = make(tx, TRASH2, lon=east(40))
    main, dup = first.id, second.id
    r = api.get("paiqian", f"/api/v1/cases/{dup}/duplicates")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["radius_m"] == 200 and [i["case_id"] for i in body["items"]] == [main]
    assert api.get("paiqian", f"/api/v1/cases/{dup}/duplicates?radius_m=20").json()["items"] == []
    assert api.get("chengguan", f"/api/v1/cases/{dup}/duplicates").status_code == 403
    assert api.get("paiqian", "/api/v1/cases/999999/duplicates").status_code == 404
    assert api.get("paiqian", f"/api/v1/cases/{dup}/duplicates?radius_m=-1").status_code == 422
    # one action merges; the main case's closing informs both reporters
    r = api.post("paiqian", f"/api/v1/cases/{dup}/actions/merge", json={"target_case_id": main})
    assert r.status_code == 200 and r.json()["status"] == "merged"
    assert api.get("paiqian", f"/api/v1/cases/{main}/duplicates").json()["items"] == []
    cg = session.scalars(select(Case.id).where(Case.id == main)).one()
    from tests.helpers import act, dep_id

    act(api, "paiqian", cg, "register")
    act(api, "paiqian", cg, "assign", department_id=dep_id(session, "cg"))
    act(api, "chengguan", cg, "sign")
    act(api, "chengguan", cg, "feedback", result="已清运")
    act(api, "paiqian", cg, "verify_pass")
    act(api, "paiqian", cg, "close")
    session.expire_all()
    informed = session.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.kind == "closed", OutboxMessage.case_id == main)
    ).all()
    codes = {p["tracking_code"] for p in informed}
    assert codes == {first.tracking_code, second.tracking_code}


def test_intake_stores_each_text_vector_and_a_new_index_reads_it(db: Any, tx: Session) -> None:
    """The process that takes a matter in stores the vector it computed; another process's index reads it
    instead of computing it again, and computes the vectors of cases that have none or another model's."""
    from pingan.cases.actors import Actor
    from pingan.intake import adapters, pipeline
    from pingan.intake.schemas import Hotline12345In
    from tests.helpers import hotline_body

    actor = Actor(id=None, name="t", role=Role.OPERATOR)
    bodies = [hotline_body(f"VEC-{i}", title=t, content=c) for i, (t, c) in enumerate((TRASH, TRASH2, LAMP))]
    records = [(adapters.from_hotline(Hotline12345In(**b), actor), actor) for b in bodies]
    with db.factory() as s:
        pipeline.submit_many(s, records, own_transaction=True)
        s.commit()
    bare = make(tx, LAMP)  # opened without the pipeline: no vector stored
    model = duplicates.text_model()
    foreign = make(tx, TRASH)
    other_model = b"\x00" * 8 + model.pack(model.vector(*TRASH))[8:]  # a sound vector under another tag
    tx.execute(update(Case).where(Case.id == foreign.id).values(dup_vector=other_model))
    tx.commit()
    rows = tx.execute(select(Case.id, Case.title, Case.content, Case.dup_vector).order_by(Case.id)).all()
    stored = {r.id: r.dup_vector for r in rows if r.dup_vector is not None and r.id != foreign.id}
    assert len(stored) == 3
    for r in rows:
        if r.id in stored:
            cols, w = model.unpack(stored[r.id])  # type: ignore[misc]
            want = model.vector(r.title, r.content)
            assert np.array_equal(cols, want[0]) and np.array_equal(w, want[1])
    assert model.unpack(b"\x00" * 8) is None and model.unpack(model.tag + b"\x01\x02\x03") is None

    fresh = duplicates.DupIndex(model, duplicates.policy().cell_m)
    fresh.rebuild(tx)
    assert fresh.stats["vectors_stored"] == 3
    assert fresh.stats["vectors_computed"] == 2  # `bare` and `foreign`
    assert {bare.id, foreign.id} <= set(fresh.by_id)
    for r in rows:
        i = fresh.by_id[r.id]
        want_cols, want_w = model.padded(r.title, r.content)
        assert np.array_equal(fresh.cols[i], want_cols) and np.array_equal(fresh.wts[i], want_w)
