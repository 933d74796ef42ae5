"""Routing: the leak-free split, the classifier (deterministic, fast path = scikit-learn), the eval and train
commands on small fixtures, dispatcher corrections, route() in the intake pipeline and the classify API."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from pingan.cases.models import Case
from pingan.cli import app
from pingan.config import DATA_DIR
from pingan.dispatch import api as dispatch_api
from pingan.dispatch import classifier, corrections, dataset, evaluate
from pingan.dispatch.dataset import Message
from pingan.dispatch.models import RoutingCorrection
from pingan.orgs.models import Department

DATA = Path(__file__).resolve().parents[2] / "data" / "messages"
SMALL = classifier.Params(char_max_features=20_000, word_max_features=10_000, calibration_folds=2, detail_chars=120)


def _sample(n_per_class: int, offset: int = 0) -> list[Message]:
    train, _ = dataset.split(dataset.load_all(DATA))
    out: list[Message] = []
    for label in dataset.LABELS:
        rows = [m for m in train if m.label == label]
        out += rows[offset : offset + n_per_class]
    return out


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[classifier.RoutingModel, Path]:
    model = classifier.train(_sample(40), SMALL)
    path = tmp_path_factory.mktemp("model") / "routing.joblib"
    classifier.save(model, path)
    return model, path


# -- the data and its split ---------------------------------------------------------------------------
def test_split_is_deterministic_and_leak_free() -> None:
    msgs = dataset.load_all(DATA)
    train, test = dataset.split(msgs)
    again_train, again_test = dataset.split(list(reversed(msgs)))
    assert {(m.subject, m.detail) for m in test} == {(m.subject, m.detail) for m in again_test}
    assert len(train) + len(test) == len(msgs)
    assert 0.10 < len(test) / len(msgs) < 0.20
    # No subject and no start of a full text on both sides.
    keys_train = {k for m in train for k in dataset._keys(m)}
    keys_test = {k for m in test for k in dataset._keys(m)}
    assert keys_train.isdisjoint(keys_test)
    assert {m.label for m in test} == set(dataset.LABELS)


def test_groups_join_messages_by_subject_or_text_start() -> None:
    a = Message("小区门口垃圾无人清运", "", "城乡建设")
    text = "五里牌街道某小区门口垃圾堆放多日，气味很大，蚊蝇滋生，居民出入都要绕行，请有关部门尽快清运。"
    b = Message("小区门口垃圾无人清运", text, "城乡建设")
    c = Message("", text + "谢谢！", "城乡建设")  # the same text start, another ending: the same message
    d = Message("学校乱收费", "", "教育文体")
    groups = sorted(dataset.groups([a, b, c, d]), key=len)
    assert [len(g) for g in groups] == [1, 3]
    assert groups[0] == [d]


# -- the classifier -----------------------------------------------------------------------------------
def test_training_is_deterministic(small_model: tuple[classifier.RoutingModel, Path]) -> None:
    model, _ = small_model
    again = classifier.train(_sample(40), SMALL)
    assert again.meta["data_sha256"] == model.meta["data_sha256"]
    assert np.array_equal(again.coef, model.coef)
    assert np.allclose(again.sig_a, model.sig_a) and np.allclose(again.sig_b, model.sig_b)


def test_fast_path_equals_scikit_learn(small_model: tuple[classifier.RoutingModel, Path]) -> None:
    model, _ = small_model
    msgs = _sample(3, offset=200)
    ref = model.predict_reference(msgs)
    for row, m in zip(ref, msgs, strict=True):
        p = model.predict(m.subject, m.detail, k=len(model.classes))
        fast = {s.category: s.score for s in p.top}
        assert np.allclose([fast[c] for c in model.classes], row, atol=1e-5)
        assert abs(sum(fast.values()) - 1.0) < 1e-6


def test_a_batch_is_scored_as_its_messages_one_by_one(small_model: tuple[classifier.RoutingModel, Path]) -> None:
    """An intake batch routes its matters in one model call: mixed shapes (both fields, subject only, text only,
    empty) score, rank and explain exactly as each alone, and match scikit-learn."""
    model, _ = small_model
    train, _ = dataset.split(dataset.load_all(DATA))
    both = [m for m in train if m.subject and m.detail][:6]
    items = [(m.subject, m.detail) for m in both]
    items += [(both[0].subject, ""), ("", both[1].detail), ("", ""), (both[2].subject, both[2].detail)]
    many = model.predict_many(items, k=len(model.classes))
    assert len(many) == len(items)
    ref = model.predict_reference([dataset.Message(s, d, "") for s, d in items])
    for (subject, detail), p, row in zip(items, many, ref, strict=True):
        one = model.predict(subject, detail, k=len(model.classes))
        assert [s.category for s in p.top] == [s.category for s in one.top]
        assert np.allclose([s.score for s in p.top], [s.score for s in one.top], atol=1e-12)
        assert [s.reasons for s in p.top] == [s.reasons for s in one.top]
        fast = {s.category: s.score for s in p.top}
        assert np.allclose([fast[c] for c in model.classes], row, atol=1e-5)
    assert model.predict_many([]) == []


def test_fast_path_equals_scikit_learn_on_two_field_messages(
    small_model: tuple[classifier.RoutingModel, Path],
) -> None:
    # Two-field messages blend in each field alone (Params.field_blend); both paths must do it alike.
    model, _ = small_model
    train, _ = dataset.split(dataset.load_all(DATA))
    msgs = [m for m in train if m.subject and m.detail][:10]
    assert len(msgs) == 10 and model.params.field_blend > 0
    assert model.meta["n_field_copies"] > 0
    ref = model.predict_reference(msgs)
    for row, m in zip(ref, msgs, strict=True):
        p = model.predict(m.subject, m.detail, k=len(model.classes))
        fast = {s.category: s.score for s in p.top}
        assert np.allclose([fast[c] for c in model.classes], row, atol=1e-5)
    # The blend changes the scores of a two-field message, and only of those.
    plain = copy.copy(model)
    plain.params = dataclasses.replace(model.params, field_blend=0.0)
    m = msgs[0]
    assert not np.allclose(plain.predict_reference([m]), model.predict_reference([m]))
    one = Message(m.subject, "", m.label)
    assert np.allclose(plain.predict_reference([one]), model.predict_reference([one]))


@pytest.mark.parametrize(
    ("subject", "detail"),
    [
        ("小区门口垃圾堆放多日无人清运", "岳阳楼区五里牌街道，垃圾堆放，请尽快处理。"),
        ("路", "灯坏了"),  # fields shorter than the n-grams that cross the "。"
        ("Wi-Fi 0731-8888 噪音  ", "  ABC 夜间施工，电话 0000-00000000"),  # ASCII, hyphens, runs of spaces
        ("油价。", "。加油站"),  # a "。" of their own next to the joining one
    ],
)
def test_a_two_field_message_is_tokenised_from_its_fields(
    small_model: tuple[classifier.RoutingModel, Path], subject: str, detail: str
) -> None:
    """The whole message's words are taken as its fields' around the "。" (each field is cut once): that must be
    what cutting the whole text gives, and the scores must still be scikit-learn's."""
    model, _ = small_model
    parts = classifier.field_parts(subject, detail, model.params)
    assert parts is not None
    ts, td = classifier.words(parts[0]), classifier.words(parts[1])
    assert classifier.words(parts[0] + "。" + parts[1]) == [*ts, "。", *td]
    p = model.predict(subject, detail, k=len(model.classes))
    fast = {s.category: s.score for s in p.top}
    ref = model.predict_reference([Message(subject, detail, "")])[0]
    assert np.allclose([fast[c] for c in model.classes], ref, atol=1e-5)


def test_the_reason_columns_travel_with_the_model(small_model: tuple[classifier.RoutingModel, Path]) -> None:
    model, path = small_model
    classifier.clear_cache()
    loaded = classifier.load(path)
    assert loaded is not model and loaded.usable is not None
    names = loaded.feature_names()
    assert loaded.usable.tolist() == [classifier._usable_reason(n) for n in names]
    assert np.array_equal(loaded.usable, model.usable)
    assert 0 < loaded.usable.sum() < len(names)
    for bad in ("A市", "F7县", "ab", "。，", "垃", "垃圾。"):
        assert not classifier._usable_reason(bad)
    for good in ("垃圾", "噪音扰民", "路灯"):
        assert classifier._usable_reason(good)


def test_suggestions_are_ranked_with_reasons_from_the_text(small_model: tuple[classifier.RoutingModel, Path]) -> None:
    model, _ = small_model
    subject, detail = "孩子学校乱收费，要求家长购买教辅资料", "开学时班主任要求每个学生交两百元资料费"
    p = model.predict(subject, detail)
    assert len(p.top) == 3
    assert [s.score for s in p.top] == sorted((s.score for s in p.top), reverse=True)
    assert p.category == p.top[0].category and p.confidence == p.top[0].score
    assert p.top[0].reasons, "the top suggestion must say which words drove it"
    for word in p.top[0].reasons:
        assert word in classifier.model_text(subject, detail)


def test_empty_message_gives_a_prior_not_an_error(small_model: tuple[classifier.RoutingModel, Path]) -> None:
    model, _ = small_model
    p = model.predict("", "")
    assert p.category in model.classes and 0 < p.confidence < 1 and p.top[0].reasons == []


def test_auto_rate_at_precision_by_hand() -> None:
    conf = [0.99, 0.95, 0.90, 0.90, 0.50]
    ok = [True, True, True, False, True]
    # top-2: 2/2 ≥ 0.97; top-4 (the tie at 0.90 is taken whole): 3/4 < 0.97; all: 4/5 < 0.97.
    assert evaluate.auto_rate_at_precision(conf, ok, 0.97) == (0.4, 0.95)
    assert evaluate.auto_rate_at_precision(conf, ok, 0.75) == (1.0, 0.5)
    assert evaluate.auto_rate_at_precision([0.8], [False], 0.97) == (0.0, 1.0)


# -- the commands -------------------------------------------------------------------------------------
def _write_eval_csv(path: Path, msgs: list[Message]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["留言主题", "留言详情", "一级标签"])
        for i, m in enumerate(msgs):
            # Mix the three shapes the held-out set may have: subject only, text only, both.
            subject, detail = (m.subject, "") if i % 3 == 0 else ("", m.detail) if i % 3 == 1 else (m.subject, m.detail)
            if not subject and not detail:
                subject, detail = m.subject, m.detail
            w.writerow([subject, detail, m.label])


def test_eval_command_prints_the_figures(small_model: tuple[classifier.RoutingModel, Path], tmp_path: Path) -> None:
    model, path = small_model
    fixture = tmp_path / "eval.csv"
    _write_eval_csv(fixture, _sample(4, offset=300))
    r = CliRunner().invoke(app, ["routing", "eval", "--input", str(fixture), "--model", str(path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    rows = dataset.read_csv(fixture)
    assert out["n"] == len(rows) == 28
    assert sum(out["inputs"].values()) == 28 and min(out["inputs"].values()) > 0
    # Recompute the quality figures independently from the model's own predictions.
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    truth = [m.label for m in rows]
    pred = [model.predict(m.subject, m.detail).category for m in rows]
    assert out["accuracy"] == round(accuracy_score(truth, pred), 4)
    assert out["macro_f1"] == pytest.approx(f1_score(truth, pred, average="macro", labels=sorted(set(truth))), abs=1e-3)
    p, rc, f, s = precision_recall_fscore_support(truth, pred, labels=list(dataset.LABELS), zero_division=0)
    for i, label in enumerate(dataset.LABELS):
        got = out["per_class"][label]
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx(
            (p[i], rc[i], f[i], s[i]), abs=1e-4
        )
    for shape, fig in out["by_input"].items():
        idx = [i for i, m in enumerate(rows) if evaluate._shape(m) == shape]
        t, pr = [truth[i] for i in idx], [pred[i] for i in idx]
        assert fig["n"] == len(idx) == out["inputs"][shape]
        assert fig["macro_f1"] == pytest.approx(f1_score(t, pr, average="macro", labels=sorted(set(t))), abs=1e-3)
        assert fig["accuracy"] == round(accuracy_score(t, pr), 4)
    for key in ("ms_per_message_p50", "auto_dispatch_rate_at_p97", "model_load_s", "threshold_at_p97"):
        assert isinstance(out[key], float) and out[key] >= 0
    assert 0 <= out["auto_dispatch_rate_at_p97"] <= 1


def test_eval_says_when_the_model_was_trained_on_the_messages_it_scores(
    small_model: tuple[classifier.RoutingModel, Path], tmp_path: Path
) -> None:
    shipped = dataset.load_all(DATA_DIR / "messages")
    train_side, held_out = dataset.split(shipped)
    fixture = tmp_path / "eval.csv"
    seen_rows, unseen_rows = train_side[:12], held_out[:8]
    _write_eval_csv(fixture, seen_rows + unseen_rows)
    rows = dataset.read_csv(fixture)
    everything = {(m.subject, m.detail) for m in shipped}
    # The shipped model learnt every shipped message, whatever shape a row takes in the file.
    r = CliRunner().invoke(app, ["routing", "eval", "--input", str(fixture)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    expected = sum((m.subject, m.detail) in everything for m in rows)
    assert out["seen_in_training"]["trained_on"] == "all shipped messages"
    assert out["seen_in_training"]["n"] == expected > 0
    assert "training data" in r.output
    # A model trained on other messages: its training data is not recognised, so nothing is claimed.
    r = CliRunner().invoke(app, ["routing", "eval", "--input", str(fixture), "--model", str(small_model[1])])
    assert json.loads(r.output.strip().splitlines()[-1])["seen_in_training"] is None
    # Recognised as the training side of the split: the held-out rows were not seen.
    meta = {"data_sha256": classifier.fingerprint(train_side)}
    known = {(m.subject, m.detail) for m in train_side}
    seen = evaluate.seen_in_training(meta, rows)
    assert seen is not None and seen["trained_on"] == "training side"
    assert seen["n"] == sum((m.subject, m.detail) in known for m in rows) < len(rows)


def test_eval_command_refuses_a_file_without_labels(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("留言主题,留言详情\n小区停水,\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["routing", "eval", "--input", str(bad)])
    assert r.exit_code == 2
    assert "no labelled rows" in r.output


def test_split_command_writes_the_benchmark_split(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["routing", "split", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    test_rows = dataset.read_csv(tmp_path / "test.csv")
    assert out["test"] == len(test_rows) and out["train"] == len(dataset.read_csv(tmp_path / "train.csv"))


# -- dispatcher corrections ---------------------------------------------------------------------------
def _case(session, **kw) -> Case:  # type: ignore[no-untyped-def]
    from pingan.cases.actors import Actor
    from pingan.intake.adapters import IntakeRecord
    from pingan.intake.pipeline import submit
    from pingan.timeutil import utcnow

    rec = IntakeRecord(
        channel="hotline_12345",
        external_id=kw.pop("external_id"),
        case_type="投诉",
        title=kw.pop("title"),
        content=kw.pop("content"),
        received_at=utcnow(),
        **kw,
    )
    res = submit(session, rec, Actor.system("测试"))
    return session.get(Case, res.case_id)


def test_corrections_are_recorded_and_trained_on(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        session.execute(delete(RoutingCorrection))
        case = _case(
            session, external_id="RC-1", title="小区门口垃圾堆放多日无人清运", content="气味很大，请尽快清运。"
        )
        suggested = case.routing or {}
        # Same department and category as suggested: not a correction.
        assert corrections.record_if_corrected(session, case, suggested.get("department_id"), None) is None
        other = session.scalars(select(Department).where(Department.code == "sthj")).one()
        cat = next(c for c in dataset.LABELS if c != suggested.get("category"))
        row = corrections.record_if_corrected(session, case, other.id, cat)
        assert row is not None
        assert (row.category, row.department_id, row.suggested_category) == (cat, other.id, suggested.get("category"))
        session.commit()
        examples = corrections.training_examples(session)
        assert examples == [Message(case.title, case.content, cat)]
    # `pingan routing train --db` adds them to the training data.
    msgs_dir = tmp_path / "messages"
    msgs_dir.mkdir()
    with (msgs_dir / "messages_subject_label.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["留言主题", "一级标签"])
        rows = sorted({(m.subject or m.detail[:40], m.label) for m in _sample(12)})
        w.writerows(rows)
    out = tmp_path / "m.joblib"
    r = CliRunner().invoke(app, ["routing", "train", "--messages", str(msgs_dir), "--db", db.url, "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert summary["corrections"] == 1 and summary["n_train"] == len(rows) + 1
    assert classifier.load(out).meta["corrections"] == 1
    with db.session() as session:
        session.execute(delete(RoutingCorrection))
        session.commit()


# -- route(): the intake pipeline and the API ---------------------------------------------------------
def test_route_dispatches_when_sure_and_explains_when_not(session, shipped_policy) -> None:  # type: ignore[no-untyped-def]
    d = dispatch_api.route(
        session,
        title="孩子学校乱收费，强制购买教辅资料",
        content="平江县某中学开学要求每个学生交两百元资料费，请教育局查处。",
        channel="hotline_12345",
        county_code="430626",
        region_code="430626",
    )
    assert d.category == "教育文体" and d.model
    jy = session.scalars(select(Department).where(Department.code == "jy_430626")).one()
    assert d.department_id == jy.id and d.responsibility["rule_id"] == "jy-default"  # type: ignore[index]
    assert len(d.suggestions) == 3 and d.suggestions[0]["reasons"]
    assert d.threshold == 0.85 and d.auto == (d.confidence >= 0.85) and d.triage is None
    # A police matter at 12345 is flagged and never dispatched automatically, however sure the category is.
    p = dispatch_api.route(
        session,
        title="小区楼下有人持刀抢劫",
        content="刚刚在小区门口，有人持刀抢劫路人",
        channel="hotline_12345",
        county_code="430602",
        region_code="430602",
    )
    assert p.triage is not None and p.triage["rule_id"] == "P110-01" and p.auto is False
    # Vague: below the threshold, it waits with suggestions.
    v = dispatch_api.route(
        session, title="反映问题", content="", channel="hotline_12345", county_code="430602", region_code="430602"
    )
    assert v.auto is False and v.confidence < v.threshold  # type: ignore[operator]
    assert len({s["category"] for s in v.suggestions}) == 3


def test_intake_pipeline_stores_the_routing(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        case = _case(
            session,
            external_id="RT-2",
            title="孩子学校乱收费，强制购买教辅资料",
            content="开学要求每个学生交两百元资料费，请教育局查处。",
        )
        assert case.routing and case.routing["category"] == case.category == "教育文体"
        assert case.routing["suggestions"][0]["reasons"]
        if case.routing["auto"]:
            assert case.status == "assigned" and case.department_id == case.routing["department_id"]
        else:
            assert case.status == "received"
        session.commit()


def test_classify_endpoint(api) -> None:  # type: ignore[no-untyped-def]
    body = {"title": "出租车拒载还绕路", "content": "在火车站打车，司机拒载", "county_code": "430602"}
    r = api.post("paiqian", "/api/v1/routing/classify", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["category"] == "交通运输" and out["suggestions"][0]["category"] == "交通运输"
    assert out["duplicates"] == []
    assert api.post("paiqian", "/api/v1/routing/classify", json={"title": " "}).status_code == 422
    assert api.post("paiqian", "/api/v1/routing/classify", json={**body, "extra": 1}).status_code == 422
    assert api.post("chengguan", "/api/v1/routing/classify", json=body).status_code == 403


@pytest.fixture
def shipped_policy(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The shipped policies (the test run's copy has automatic dispatch off)."""
    from pingan.policy import registry
    from tests.conftest import SHIPPED_POLICY_DIR

    monkeypatch.setenv("PINGAN_POLICY_DIR", str(SHIPPED_POLICY_DIR))
    registry.reload()
    yield
    monkeypatch.undo()
    registry.reload()


def test_auto_dispatch_can_be_switched_off(session, shipped_policy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    kw = dict(title="出租车拒载还绕路", content="在火车站打车，司机拒载", channel="hotline_12345")
    on = dispatch_api.route(session, county_code="430602", region_code="430602", **kw)  # type: ignore[arg-type]
    assert on.auto is True, "a plain, confident message should be dispatched automatically"
    monkeypatch.setenv("PINGAN_AUTO_DISPATCH", "0")
    off = dispatch_api.route(session, county_code="430602", region_code="430602", **kw)  # type: ignore[arg-type]
    assert off.auto is False and off.category == on.category and off.department_id == on.department_id


def test_the_vocabulary_cut_breaks_ties_by_term() -> None:
    """max_features keeps the most frequent terms; among terms tied at the cut the first in term order, on every
    machine (scikit-learn's own cut depends on how numpy sorts on the CPU at hand)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pingan.dispatch.vectorizer import StableTfidfVectorizer

    docs = ["甲 乙 丙 丁", "甲 乙 丙 戊", "甲 乙 己 庚", "甲 辛 壬 癸"]  # 甲 ×4, 乙 ×3, 丙 ×2, the rest ×1
    kw: dict[str, Any] = {"token_pattern": r"\S+", "max_features": 5}
    stable = StableTfidfVectorizer(**kw).fit(docs)
    ones = sorted(t for t in "丁戊己庚辛壬癸")
    assert set(stable.vocabulary_) == {"甲", "乙", "丙", *ones[:2]}
    assert sorted(stable.vocabulary_, key=stable.vocabulary_.__getitem__) == sorted(stable.vocabulary_)
    assert StableTfidfVectorizer(**kw).fit(docs[::-1]).vocabulary_ == stable.vocabulary_
    # Without ties at the cut it keeps what scikit-learn keeps, with the same weights.
    kw["max_features"] = 3
    plain, ours = TfidfVectorizer(**kw).fit(docs), StableTfidfVectorizer(**kw).fit(docs)
    assert plain.vocabulary_ == ours.vocabulary_ and np.allclose(plain.idf_, ours.idf_)
    assert StableTfidfVectorizer(token_pattern=r"\S+", min_df=2).fit(docs).vocabulary_.keys() == {"甲", "乙", "丙"}
