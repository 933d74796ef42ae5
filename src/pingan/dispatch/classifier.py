"""The category classifier: which first-level category (一级标签) a citizen message belongs to.

Features: TF-IDF of character 1–4-grams of subject + start of the full text, plus TF-IDF of jieba word
uni/bi-grams; a linear SVM, calibrated by Platt scaling on 3-fold out-of-fold decisions (sigmoid per class,
normalised; folds by duplicate group), so that `confidence` can be compared with the policy's auto-dispatch
threshold. CPU-only, offline, deterministic (fixed seeds, sorted inputs).

Messages arrive in three shapes (subject only, full text only, both). Training adds a subject-only and a
text-only copy of every message that has both, and a message with both is scored as a whole plus, at a
smaller weight, by each field alone (`Params.field_blend`).

Prediction does not go through scikit-learn's per-call machinery: one message is analysed with the fitted
vectorizers' analyzers and scored with the weight matrix directly, which keeps a message well under a
millisecond of model time. `predict_reference` runs the same model through scikit-learn for the tests.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import pickle
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from pingan.config import DATA_DIR
from pingan.dispatch.dataset import Message, clean
from pingan.dispatch.dataset import group_index as dataset_groups
from pingan.dispatch.ngrams import CharGrams, Rows, WordGrams

MODEL_PATH = DATA_DIR / "models" / "routing.joblib"
# 2: decisions of two-field messages blend in the fields alone, calibrated for it (format-1 files were not).
FORMAT = 2

# Up to this many characters of the full text are read: the first lines say what the matter is, the rest
# is story; longer reads cost time and did not help on the held-out split.
DETAIL_CHARS = 400

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Params:
    char_ngrams: tuple[int, int] = (1, 4)
    char_max_features: int = 300_000
    word_ngrams: tuple[int, int] = (1, 2)
    word_max_features: int = 150_000
    min_df: int = 2
    C: float = 1.0
    # Classes weighted inversely to their frequency: the rarer categories (交通运输, 卫生计生) get recall back
    # (chosen by 3-fold grouped cross-validation on the training side: macro-F1 0.907 → 0.911).
    class_weight: str | None = "balanced"
    calibration_folds: int = 3
    # Every message with both fields also trains as subject only and as text only, so that the model sees each
    # field in the shape it will meet alone, and the blend below scores fields it was trained on.
    augment_fields: bool = True
    # A two-field message's decision = (whole + field_blend × (subject alone + text alone)) / (1 + 2 ×
    # field_blend), the division keeping one decision scale for the per-class sigmoids; 0 turns it off.
    # Both chosen by grouped CV on the training side (macro-F1 0.9111 → 0.9138, two-field messages
    # 0.917 → 0.922); the held-out split did not move (0.9190 → 0.9187): docs/routing.md.
    field_blend: float = 0.5
    detail_chars: int = DETAIL_CHARS
    seed: int = 12345


@dataclass
class Suggestion:
    category: str
    score: float
    reasons: list[str]


@dataclass
class Prediction:
    category: str
    confidence: float
    top: list[Suggestion]


def model_text(subject: str, detail: str, detail_chars: int = DETAIL_CHARS) -> str:
    subject, detail = clean(subject), clean(detail)[:detail_chars]
    if subject and detail:
        return subject + "。" + detail
    return subject or detail


def words(text: str) -> list[str]:
    """jieba words (jieba-rs, through rjieba: the same dictionary and HMM, 18× faster than the Python jieba)
    without whitespace tokens. A "。" always stands alone, so words(a + "。" + b) == words(a) + ["。"] +
    words(b): a two-field message's words are composed from its fields' (`RoutingModel.predict_many`)."""
    import rjieba

    return [w for w in rjieba.cut(text) if not w.isspace()]


# Chinese words of two or more characters; masked place codes (A市, F7县 …) and punctuation are not reasons.
_REASON = re.compile(r"(?=[^\u4e00-\u9fff]*[\u4e00-\u9fff])[^\W_A-Za-z0-9]{2,}")


def _usable_reason(name: str) -> bool:
    return _REASON.fullmatch(name) is not None


def _identity(tokens: list[str]) -> list[str]:
    return tokens


NUMPY_FROM_CHARS = 200  # a batch's texts counted by CharGrams from this many characters in all
NUMPY_FROM_WORDS = 150  # … by WordGrams from this many words


def _count(vocab: dict[str, int], grams: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(columns ascending, counts, rank of first occurrence) of the grams the vocabulary has."""
    counts = Counter(map(vocab.get, grams))  # both loops run in C; keys in the order the grams come
    counts.pop(None, None)
    cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    order = np.argsort(cols)
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    return cols[order], tf[order], order


def _analyzed_rows(vocab: dict[str, int], analyzer: Any, docs: Sequence[Any]) -> Rows:
    """`CharGrams.count_rows` (or `WordGrams`') through scikit-learn's analyzer, one text at a time: for small
    inputs, and for vocabularies too wide to pack."""
    counted = [_count(vocab, analyzer(d)) for d in docs]
    rows = np.repeat(np.arange(len(counted), dtype=np.int64), [len(c[0]) for c in counted])
    if not counted:
        return rows, rows, np.zeros(0), rows
    return rows, *(np.concatenate([c[i] for c in counted]) for i in range(3))  # type: ignore[return-value]


@dataclass
class RoutingModel:
    classes: list[str]
    char_vec: Any  # fitted TfidfVectorizer (analyzer="char")
    word_vec: Any  # fitted TfidfVectorizer over pre-tokenised words
    coef: np.ndarray  # (n_classes, n_char + n_word) float32
    intercept: np.ndarray  # (n_classes,)
    sig_a: np.ndarray  # Platt sigmoid per class: p = 1 / (1 + exp(a * d + b))
    sig_b: np.ndarray
    params: Params
    meta: dict[str, Any] = field(default_factory=dict)
    _names: list[str] | None = field(default=None, repr=False, compare=False)
    # Which columns may be shown as reasons (`_usable_reason`), saved with the model: 0.4 s to compute at load.
    usable: np.ndarray | None = field(default=None, repr=False, compare=False)

    # -- prediction -----------------------------------------------------------------------------------
    def _count_rows(self, texts: Sequence[str], tokens: Sequence[list[str]]) -> tuple[Rows, Rows]:
        """Character and word n-gram counts of many texts (`tokens`: their words) as flat rows. numpy's fixed
        cost per call pays off from about 200 characters or 150 words in all (a lone short message is counted
        through the analyzers: 30 µs against 55)."""
        if self._chars is not None and sum(map(len, texts)) >= NUMPY_FROM_CHARS:
            chars = self._chars.count_rows(texts)
        else:
            chars = _analyzed_rows(self.char_vec.vocabulary_, self._char_analyzer, texts)
        if sum(map(len, tokens)) >= NUMPY_FROM_WORDS:
            return chars, self._words.count_rows(tokens)
        return chars, _analyzed_rows(self.word_vec.vocabulary_, self._word_analyzer, tokens)

    def __post_init__(self) -> None:
        self._char_analyzer = self.char_vec.build_analyzer()
        try:
            self._chars: CharGrams | None = CharGrams(self.char_vec.vocabulary_, self.char_vec.ngram_range)
        except ValueError:  # a vocabulary of more than 32,767 distinct characters: scikit-learn's analyzer
            self._chars = None
        self._words = WordGrams(self.word_vec.vocabulary_, self.word_vec.ngram_range)
        self._word_analyzer = self.word_vec.build_analyzer()
        self._idf = np.concatenate([self.char_vec.idf_, self.word_vec.idf_])
        # Rows are scored as a sparse product: one pass over the entries, no (classes × entries) temporary
        # (a real-text batch of 250: 0.06 → 0.014 ms per message). float64 so that scipy does not convert
        # the whole matrix on every call.
        self._coef_t = np.ascontiguousarray(self.coef.T, dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        # joblib unpickles with the pure-Python unpickler, which needs seconds for the 450,000-entry
        # vocabularies; they travel as one blob for the C unpickler instead (load time ÷ 6).
        state = dict(self.__dict__)
        for k in ("_names", "_char_analyzer", "_word_analyzer", "_words", "_idf", "_chars", "_coef_t"):
            state.pop(k, None)
        vocabs = []
        for name in ("char_vec", "word_vec"):
            vec = copy.copy(state[name])
            vocabs.append(vec.__dict__.pop("vocabulary_"))
            state[name] = vec
        state["_vocab_blob"] = pickle.dumps(vocabs, protocol=pickle.HIGHEST_PROTOCOL)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        blob = state.pop("_vocab_blob", None)
        self.__dict__.update(state)
        if blob is not None:
            char_vocab, word_vocab = pickle.loads(blob)
            self.char_vec.vocabulary_ = char_vocab
            self.word_vec.vocabulary_ = word_vocab
        self._names = None
        self.__post_init__()

    def _proba(self, decision: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(self.sig_a * decision + self.sig_b))
        total = p.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / len(self.classes))
        return out

    def predict(self, subject: str, detail: str = "", k: int = 3, reasons: int = 5) -> Prediction:
        return self.predict_many([(subject, detail)], k, reasons)[0]

    def predict_many(self, messages: Sequence[tuple[str, str]], k: int = 3, reasons: int = 5) -> list[Prediction]:
        """Predictions for (subject, detail) pairs. Each text is counted on its own; the tf-idf weighting and
        the scoring run once for the whole batch (an intake batch routes hundreds of matters in one call)."""
        texts: list[str] = []
        tokens: list[list[str]] = []
        first: list[int] = []  # each message's first row: the whole message, then its fields when blended
        for subject, detail in messages:
            first.append(len(texts))
            parts = field_parts(subject, detail, self.params)
            if parts:
                # Each field is tokenised once; the whole message's words are the fields' around the "。".
                ts, td = words(parts[0]), words(parts[1])
                texts += (parts[0] + "。" + parts[1], *parts)
                tokens += ([*ts, "。", *td], ts, td)
            else:
                texts.append(text := model_text(subject, detail, self.params.detail_chars))
                tokens.append(words(text))
        first.append(len(texts))
        idx, val, seen, bounds = self._tfidf_rows(*self._count_rows(texts, tokens), len(texts))
        x = sparse.csr_matrix((val, idx, bounds), shape=(len(texts), len(self._idf)))
        decisions = np.asarray(x @ self._coef_t) + self.intercept  # (rows, n_classes)
        starts = np.asarray(first[:-1], dtype=np.int64)
        decision = decisions[starts]
        two = np.flatnonzero(np.diff(first) == 3)
        blend = self.params.field_blend
        decision[two] = (decision[two] + blend * (decisions[starts[two] + 1] + decisions[starts[two] + 2])) / (
            1.0 + 2.0 * blend
        )
        proba = self._proba(decision)
        ranked = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        why = self._reasons(idx, val, seen, bounds[starts], bounds[starts + 1], ranked, reasons)
        out: list[Prediction] = []
        for m, classes in enumerate(ranked.tolist()):
            top = [Suggestion(self.classes[c], float(proba[m, c]), why[m][j]) for j, c in enumerate(classes)]
            out.append(Prediction(top[0].category, top[0].score, top))
        return out

    def _tfidf_rows(
        self, chars: Rows, word: Rows, n_rows: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All rows' (column, tf-idf, first occurrence) entries end to end, and each row's start (plus the end)
        in them; within a row the character n-grams come first, then the words, each by column."""
        n_char = len(self.char_vec.idf_)
        # (row, part) keys: a row's characters, then its words; each part of a row is normalised alone
        part = np.concatenate([2 * chars[0], 2 * word[0] + 1])
        order = np.argsort(part, kind="stable")
        part = part[order]
        idx = np.concatenate([chars[1], word[1] + n_char])[order]
        tf = np.concatenate([chars[2], word[2]])[order]
        seen = np.concatenate([chars[3], word[3]])[order]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(part // 2, minlength=n_rows))])
        if not len(idx):
            return idx, tf, seen, bounds
        v = (1.0 + np.log(tf)) * self._idf[idx]
        v /= np.sqrt(np.bincount(part, weights=v * v, minlength=2 * n_rows))[part]
        return idx, v, seen, bounds

    def _reasons(
        self,
        idx: np.ndarray,
        val: np.ndarray,
        seen: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        ranked: np.ndarray,
        n: int,
    ) -> list[list[list[str]]]:
        """For each message (its entries idx/val[starts[m]:ends[m]]) and each of its ranked classes: the words
        that pushed most towards the class. jieba words and word pairs first, then character n-grams, each by
        push (ties keep the text's order); overlapping ones collapse to the longest; masked place codes (A市,
        F7县 …) are skipped. The batch's entries are ordered in one go; only the collapsing runs per message."""
        m_count, k = ranked.shape
        out: list[list[list[str]]] = [[[] for _ in range(k)] for _ in range(m_count)]
        if n <= 0 or not m_count:
            return out
        names = self.feature_names()
        assert self.usable is not None
        lengths = ends - starts
        msg = np.repeat(np.arange(m_count), lengths)
        pos = np.arange(len(msg)) - np.repeat(np.cumsum(lengths) - lengths - starts, lengths)
        usable = np.flatnonzero(self.usable[idx[pos]])
        msg, cols, vals, seen = msg[usable], idx[pos[usable]], val[pos[usable]], seen[pos[usable]]
        n_char = len(self.char_vec.idf_)
        # Words first, then character n-grams: the second phase reads only the (message, class) pairs still short
        # of n reasons (rare for real texts), so the batch sorts mostly its words, all classes in one sort.
        short = np.ones((m_count, k), dtype=bool)
        for phase in (np.flatnonzero(cols >= n_char), np.flatnonzero(cols < n_char)):
            entries = np.repeat(phase, k)
            cls = np.tile(np.arange(k), len(phase))
            wanted = np.flatnonzero(short[msg[entries], cls])
            if not len(wanted):
                continue
            entries, cls = entries[wanted], cls[wanted]
            push = self.coef[ranked[msg[entries], cls], cols[entries]] * vals[entries]
            sel = np.flatnonzero(push > 0)
            entries, group, push = entries[sel], msg[entries[sel]] * k + cls[sel], push[sel]
            order = np.lexsort((seen[entries], -push, group))
            group = group[order]
            bounds = np.searchsorted(group, np.arange(m_count * k + 1)).tolist()
            ordered = cols[entries[order]].tolist()
            for g in np.unique(group).tolist():
                m, j = divmod(g, k)
                found = out[m][j]
                for col in ordered[bounds[g] : bounds[g + 1]]:
                    if len(found) >= n:
                        break
                    name = names[col]
                    if any(name in o for o in found):
                        continue
                    found = [o for o in found if o not in name]
                    found.append(name)
                out[m][j] = found
                short[m, j] = len(found) < n
        return out

    def feature_names(self) -> list[str]:
        """Column index → n-gram (word pairs without their separating space)."""
        if self._names is None:
            names = [""] * (len(self.char_vec.idf_) + len(self.word_vec.idf_))
            for term, j in self.char_vec.vocabulary_.items():
                names[j] = term
            offset = len(self.char_vec.idf_)
            for term, j in self.word_vec.vocabulary_.items():
                names[offset + j] = term.replace(" ", "")
            self._names = names
            if self.usable is None or len(self.usable) != len(names):
                self.usable = np.fromiter(map(_usable_reason, names), dtype=bool, count=len(names))
        return self._names

    def predict_reference(self, messages: Sequence[Message]) -> np.ndarray:
        """Probabilities through scikit-learn's sparse pipeline (to check the fast path against)."""
        from scipy.sparse import hstack

        def decide(texts: list[str]) -> np.ndarray:
            x = hstack([self.char_vec.transform(texts), self.word_vec.transform([words(t) for t in texts])]).tocsr()
            return np.asarray(x @ self.coef.T.astype(np.float64)) + self.intercept

        texts = [model_text(m.subject, m.detail, self.params.detail_chars) for m in messages]
        decision = decide(texts)
        for i, m in enumerate(messages):
            parts = field_parts(m.subject, m.detail, self.params)
            if parts:
                decision[i] += self.params.field_blend * decide(list(parts)).sum(axis=0)
                decision[i] /= 1.0 + 2.0 * self.params.field_blend
        return self._proba(decision)


def two_fields(subject: str, detail: str, detail_chars: int = DETAIL_CHARS) -> tuple[str, str] | None:
    """(subject alone, text alone) as the model reads them, for a message that has both; else None."""
    s, d = model_text(subject, "", detail_chars), model_text("", detail, detail_chars)
    return (s, d) if s and d else None


def field_parts(subject: str, detail: str, params: Params) -> tuple[str, str] | None:
    """The fields a message's decision blends in (`Params.field_blend`), or None."""
    return two_fields(subject, detail, params.detail_chars) if params.field_blend > 0 else None


# -- training -----------------------------------------------------------------------------------------
def fingerprint(messages: Sequence[Message]) -> str:
    """The training data's identity, stored in a model's meta as `data_sha256`."""
    h = hashlib.sha256()
    for m in messages:
        h.update(f"{m.subject}\x1f{m.detail}\x1f{m.label}\x1e".encode())
    return h.hexdigest()


def _columns(est: Any, x: Any, classes: list[str]) -> np.ndarray:
    """est's decisions with one column per class of `classes` (a class missing from est's training rows scores
    below every other; two classes give (−d, d))."""
    d = est.decision_function(x)
    if d.ndim == 1:
        d = np.column_stack([-d, d])
    if list(est.classes_) == classes:
        return np.asarray(d, dtype=np.float64)
    out = np.full((x.shape[0], len(classes)), float(d.min()) - 1.0 if d.size else -1.0)
    for j, c in enumerate(est.classes_):
        out[:, classes.index(c)] = d[:, j]
    return out


def train(
    messages: Sequence[Message],
    params: Params | None = None,
    extra: dict[str, Any] | None = None,
    n_jobs: int = 2,
) -> RoutingModel:
    """Fit a model; the same messages and params always give the same model."""
    import sklearn
    from joblib import Parallel, delayed
    from scipy.sparse import hstack, vstack
    from sklearn.calibration import _SigmoidCalibration
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.svm import LinearSVC

    from pingan.dispatch.vectorizer import StableTfidfVectorizer as TfidfVectorizer

    params = params or Params()
    t0 = time.perf_counter()
    texts = [model_text(m.subject, m.detail, params.detail_chars) for m in messages]
    labels = [m.label for m in messages]
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("training needs at least two categories")
    char_vec = TfidfVectorizer(
        analyzer="char",
        ngram_range=params.char_ngrams,
        sublinear_tf=True,
        min_df=params.min_df,
        max_features=params.char_max_features,
        lowercase=True,
        dtype=np.float64,
    )
    # Words are tokenised once by jieba; the vectorizer only forms the n-grams.
    word_vec = TfidfVectorizer(
        tokenizer=_identity,
        preprocessor=_identity,
        token_pattern=None,
        lowercase=False,
        ngram_range=params.word_ngrams,
        sublinear_tf=True,
        min_df=params.min_df,
        max_features=params.word_max_features,
        dtype=np.float64,
    )
    tokenised = [words(t) for t in texts]
    x = hstack([char_vec.fit_transform(texts), word_vec.fit_transform(tokenised)]).tocsr()

    # The vectorizers are fitted on the messages as they came; the field copies only add training rows.
    two = [(i, two_fields(m.subject, m.detail, params.detail_chars)) for i, m in enumerate(messages)]
    two_idx = np.array([i for i, p in two if p], dtype=np.int64)
    two_parts = [p for _, p in two if p]

    def featurize(ts: list[str]) -> Any:
        return hstack([char_vec.transform(ts), word_vec.transform([words(t) for t in ts])]).tocsr()

    x_subj = featurize([p[0] for p in two_parts]) if two_parts else None
    x_text = featurize([p[1] for p in two_parts]) if two_parts else None
    y = np.array(labels)
    t_feat = time.perf_counter() - t0

    def fit(rows: np.ndarray) -> Any:
        """LinearSVC on these messages, plus the field copies of those among them that have both fields."""
        parts, ys = [x[rows]], [y[rows]]
        if params.augment_fields and x_subj is not None and x_text is not None:
            sel = np.flatnonzero(np.isin(two_idx, rows))
            parts += [x_subj[sel], x_text[sel]]
            ys += [y[two_idx[sel]], y[two_idx[sel]]]
        svc = LinearSVC(C=params.C, class_weight=params.class_weight, random_state=params.seed, max_iter=5000)
        return svc.fit(vstack(parts).tocsr(), np.concatenate(ys))

    def decide(est: Any, rows: np.ndarray) -> np.ndarray:
        """Decisions (n_rows, n_classes) as `RoutingModel.predict` computes them, columns in `classes` order."""
        d = _columns(est, x[rows], classes)
        if params.field_blend > 0 and x_subj is not None and x_text is not None:
            pos = np.flatnonzero(np.isin(two_idx, rows))
            if len(pos) == 0:
                return d
            at = np.searchsorted(rows, two_idx[pos])  # rows are sorted (fold indices, arange)
            d[at] += params.field_blend * (_columns(est, x_subj[pos], classes) + _columns(est, x_text[pos], classes))
            d[at] /= 1.0 + 2.0 * params.field_blend
        return d

    # Platt scaling on out-of-fold decisions; folds keep a duplicate group (and the field copies of a
    # message) on one side, so the calibration does not learn from near-copies of what it scores.
    folds = list(StratifiedGroupKFold(n_splits=params.calibration_folds).split(x, y, dataset_groups(messages)))
    all_rows = np.arange(len(messages))
    # Processes, not threads: liblinear seeds and draws from the C library's global random state.
    fitted = Parallel(n_jobs=n_jobs)(delayed(fit)(r) for r in [tr for tr, _ in folds] + [all_rows])
    oof = np.zeros((len(messages), len(classes)))
    for (_, te), est in zip(folds, fitted[:-1], strict=True):
        oof[te] = decide(est, te)
    est = fitted[-1]
    assert list(est.classes_) == classes
    sig_a = np.empty(len(classes))
    sig_b = np.empty(len(classes))
    for c, name in enumerate(classes):
        sig = _SigmoidCalibration().fit(oof[:, c], (y == name).astype(np.float64))
        sig_a[c], sig_b[c] = sig.a_, sig.b_
    coef, intercept = est.coef_, est.intercept_
    if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, scored as (−d, d)
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    model = RoutingModel(
        classes=classes,
        char_vec=char_vec,
        word_vec=word_vec,
        coef=np.ascontiguousarray(coef, dtype=np.float32),
        intercept=np.asarray(intercept, dtype=np.float64),
        sig_a=sig_a,
        sig_b=sig_b,
        params=params,
        meta={
            "format": FORMAT,
            "sklearn": sklearn.__version__,
            "n_train": len(messages),
            "class_counts": {c: labels.count(c) for c in classes},
            "data_sha256": fingerprint(messages),
            "n_features": int(x.shape[1]),
            "n_field_copies": 2 * len(two_parts) if params.augment_fields else 0,
            "features_s": round(t_feat, 2),
            "train_s": round(time.perf_counter() - t0, 2),
            **(extra or {}),
        },
    )
    model.feature_names()  # and which of them may be shown as reasons, saved with the model
    return model


# -- persistence: lazy and cached per process ---------------------------------------------------------
def save(model: RoutingModel, path: Path = MODEL_PATH) -> int:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump(model, tmp, compress=("zlib", 3))
    tmp.replace(path)
    return path.stat().st_size


class ModelMissing(RuntimeError):
    pass


_cache: dict[str, RoutingModel] = {}
_DEFAULT_KEY = str(MODEL_PATH.resolve())
_cache_lock = threading.Lock()


def load(path: Path | None = None) -> RoutingModel:
    """The model at path (default data/models/routing.joblib), loaded once per process."""
    import joblib

    if path is None:  # the hot path: every intake routes with the default model
        model = _cache.get(_DEFAULT_KEY)
        if model is not None:
            return model
    path = path or MODEL_PATH
    key = str(path.resolve())
    model = _cache.get(key)
    if model is not None:
        return model
    with _cache_lock:
        model = _cache.get(key)
        if model is None:
            if not path.exists():
                raise ModelMissing(f"no routing model at {path}; run `pingan routing train`")
            model = joblib.load(path)
            if not isinstance(model, RoutingModel) or model.meta.get("format") != FORMAT:
                raise ModelMissing(f"{path} is not a routing model of format {FORMAT}; run `pingan routing train`")
            import sklearn

            if model.meta.get("sklearn") != sklearn.__version__:
                log.warning(
                    "routing model was trained with scikit-learn %s, running %s",
                    model.meta.get("sklearn"),
                    sklearn.__version__,
                )
            words("加载")  # the tokenizer's dictionary
            model.feature_names()  # built now, so that the first message is not slower than the others
            _cache[key] = model
    return model


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
