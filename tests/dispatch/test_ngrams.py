"""The numpy n-gram counters against scikit-learn's analyzers, on real messages and odd texts, one text at a
time and whole batches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pingan.dispatch import classifier, dataset
from pingan.dispatch.ngrams import CharGrams, WordGrams

DATA = Path(__file__).resolve().parents[2] / "data" / "messages"
ODD = [
    "",
    "路",
    "灯坏",
    "Wi-Fi 0731-8888 噪音  \t\n 夜间施工",  # upper case, digits, a run of mixed whitespace
    "\t单个制表符\n单个换行",  # single whitespace characters stay as they are
    "😀表情符号𠀀扩展区汉字",  # outside the Basic Multilingual Plane
    "ＡＢＣ全角字母与ǅ标题大小写",
    "从未见过的字：龘靐齉",
]


def _texts() -> tuple[list[str], list[str]]:
    msgs = dataset.load_all(DATA)
    texts = [f"{m.subject}。{m.detail[:300]}" for m in msgs]
    return texts[:600], texts[600:1400]


def _reference(vec: TfidfVectorizer, text: str) -> tuple[list[int], list[float]]:
    counts = Counter(j for g in vec.build_analyzer()(text) if (j := vec.vocabulary_.get(g)) is not None)
    cols = sorted(counts)
    return cols, [float(counts[c]) for c in cols]


@pytest.mark.parametrize("ngrams", [(1, 4), (2, 3)])
def test_counts_equal_scikit_learns_analyzer(ngrams: tuple[int, int]) -> None:
    fit_on, check = _texts()
    vec = TfidfVectorizer(analyzer="char", ngram_range=ngrams, lowercase=True, max_features=30_000).fit(fit_on)
    grams = CharGrams(vec.vocabulary_, ngrams)
    matched = 0
    for text in [*check, *ODD, *fit_on[:50]]:
        _, cols, counts, _ = grams.count_rows([text])  # one text alone
        assert (cols.tolist(), counts.tolist()) == _reference(vec, text), text
        matched += len(cols)
    assert matched > 10_000  # the check ran on real n-grams, not on empty rows


def test_a_vocabulary_too_wide_to_pack_is_refused() -> None:
    # 35,001 characters of CJK extension B: ids of 16 bits, and 4 × 16 > 62
    wide = {chr(0x20000 + i) + chr(0x20000 + i + 1): i for i in range(35_000)}
    with pytest.raises(ValueError):
        CharGrams(wide, (1, 4))
    narrow = CharGrams(wide, (1, 2))  # 2 × 16 fit
    _, cols, counts, _ = narrow.count_rows(["".join(chr(0x20000 + i) for i in (0, 1, 2, 1, 2))])
    assert cols.tolist() == [0, 1] and counts.tolist() == [1.0, 2.0]


def _rows_of(flat: tuple, n: int) -> list[tuple[list[int], list[float]]]:  # type: ignore[type-arg]
    rows, cols, counts, _ = flat
    assert rows.tolist() == sorted(rows.tolist())
    return [(cols[rows == r].tolist(), counts[rows == r].tolist()) for r in range(n)]


def _met_in(flat: tuple, n: int) -> list[list[int]]:  # type: ignore[type-arg]
    """Each row's columns in the order of `first` (as the analyzer meets them)."""
    rows, cols, _, first = flat
    return [cols[rows == r][np.argsort(first[rows == r], kind="stable")].tolist() for r in range(n)]


def _met_by(vec: TfidfVectorizer, doc: object) -> list[int]:
    return list(dict.fromkeys(j for g in vec.build_analyzer()(doc) if (j := vec.vocabulary_.get(g)) is not None))


def test_a_batch_counts_each_text_as_alone() -> None:
    """Texts read end to end: no n-gram crosses from one text into the next, empty texts keep their row."""
    fit_on, check = _texts()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), lowercase=True, max_features=30_000).fit(fit_on)
    grams = CharGrams(vec.vocabulary_, (1, 4))
    batch = [*check[:200], *ODD, "路", "灯"]
    flat = grams.count_rows(batch)
    got = _rows_of(flat, len(batch))
    assert got == [_reference(vec, t) for t in batch]
    assert _met_in(flat, len(batch)) == [_met_by(vec, t) for t in batch]
    assert sum(len(c) for c, _ in got) > 5_000
    # "路" + "灯" would make "路灯": the last two rows must not share it
    assert got[-1] == _reference(vec, "灯") and got[-2] == _reference(vec, "路")


def test_word_counts_equal_scikit_learns_analyzer() -> None:
    fit_on, check = _texts()
    tokenised = [classifier.words(t) for t in fit_on]
    vec = TfidfVectorizer(
        tokenizer=classifier._identity,
        preprocessor=classifier._identity,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        max_features=20_000,
    ).fit(tokenised)
    grams = WordGrams(vec.vocabulary_, (1, 2))
    batch = [classifier.words(t) for t in [*check[:300], *ODD]] + [[], ["垃圾"], ["清运"], ["垃圾", "清运"]]
    flat = grams.count_rows(batch)
    got = _rows_of(flat, len(batch))
    assert got == [_reference(vec, t) for t in batch]  # type: ignore[arg-type]
    assert _met_in(flat, len(batch)) == [_met_by(vec, t) for t in batch]
    assert sum(len(c) for c, _ in got) > 2_000
    assert got[-4] == ([], [])


@pytest.mark.parametrize("top", [1_000, 1 << 60])  # the index fits beside the key / does not
def test_runs_are_numpys_unique_with_first_index(top: int) -> None:
    from pingan.dispatch.ngrams import _runs

    keys = np.random.default_rng(5).integers(0, top, 3_000, dtype=np.int64)
    keys = np.concatenate([keys, keys[::3]])
    got = _runs(keys)
    want = np.unique(keys, return_index=True, return_counts=True)
    assert [g.tolist() for g in got] == [want[0].tolist(), want[1].tolist(), want[2].astype(float).tolist()]
    assert [g.tolist() for g in _runs(keys[:0])] == [[], [], []]
