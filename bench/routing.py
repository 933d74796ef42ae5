"""Routing classifier: quality and speed on the held-out split, against a plain TF-IDF + linear baseline.

The split is `pingan.dispatch.dataset.split` (duplicate groups wholly on one side; `pingan routing split`
writes it). Both models train on the training side only, in this process:
- baseline: TF-IDF of jieba words + LogisticRegression (the "plain TF-IDF + linear" of the issue);
- pingan: `pingan.dispatch.classifier.train` (char 1–4-grams + word 1–2-grams, calibrated linear SVM).
Then each classifies every held-out message one at a time (wall-clock and CPU time per message).

    uv run python bench/routing.py [--quick]

--quick trains on 2,500 messages and tests on 600 (figures are lower than the full run's). Wall-clock figures
depend on what else the machine runs; CPU times and the load average are printed too.
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pingan.dispatch import classifier, dataset, evaluate  # noqa: E402


def _thin(msgs: list[dataset.Message], n: int) -> list[dataset.Message]:
    step = max(1, len(msgs) // n)
    return msgs[::step][:n]


def _score(truth: list[str], pred: list[str], confs: list[float]) -> dict[str, Any]:
    labels = sorted(set(truth))
    classes = evaluate.per_class(truth, pred, labels)
    correct = [t == p for t, p in zip(truth, pred, strict=True)]
    rate, thr = evaluate.auto_rate_at_precision(confs, correct, 0.97)
    return {
        "macro_f1": round(sum(c["f1"] for c in classes.values()) / len(classes), 4),
        "accuracy": round(sum(correct) / len(correct), 4),
        "auto_dispatch_rate_at_p97": round(rate, 4),
        "threshold_at_p97": round(thr, 4),
    }


def _by_shape(test: list[dataset.Message], pred: list[str]) -> dict[str, float]:
    out = {}
    for name, f in (
        ("subject_only", lambda m: m.subject and not m.detail),
        ("detail_only", lambda m: m.detail and not m.subject),
        ("both", lambda m: m.subject and m.detail),
    ):
        idx = [i for i, m in enumerate(test) if f(m)]
        if idx:
            t = [test[i].label for i in idx]
            p = [pred[i] for i in idx]
            cl = evaluate.per_class(t, p, sorted(set(t)))
            out[name] = round(sum(c["f1"] for c in cl.values()) / len(cl), 4)
    return out


def baseline(train: list[dataset.Message], test: list[dataset.Message]) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    c0, w0 = time.process_time(), time.perf_counter()
    texts = [classifier.model_text(m.subject, m.detail) for m in train]
    vec = TfidfVectorizer(tokenizer=classifier.words, token_pattern=None, lowercase=False, sublinear_tf=True)
    x = vec.fit_transform(texts)
    lr = LogisticRegression(C=10, max_iter=1000).fit(x, [m.label for m in train])
    train_cpu, train_wall = time.process_time() - c0, time.perf_counter() - w0
    pred, confs, wall, cpu = [], [], [], []
    for m in test:
        w, c = time.perf_counter(), time.thread_time()
        p = lr.predict_proba(vec.transform([classifier.model_text(m.subject, m.detail)]))[0]
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
        pred.append(str(lr.classes_[p.argmax()]))
        confs.append(float(p.max()))
    return {
        **_score([m.label for m in test], pred, confs),
        "macro_f1_by_input": _by_shape(test, pred),
        "ms_per_message_p50": round(statistics.median(wall) * 1000, 3),
        "cpu_ms_per_message_p50": round(statistics.median(cpu) * 1000, 3),
        "train_wall_s": round(train_wall, 1),
        "train_cpu_s": round(train_cpu, 1),
    }


def pingan(train: list[dataset.Message], test: list[dataset.Message], tmp: Path) -> dict[str, Any]:
    c0, w0 = time.process_time(), time.perf_counter()
    model = classifier.train(train)
    train_cpu, train_wall = time.process_time() - c0, time.perf_counter() - w0
    size = classifier.save(model, tmp)
    result = evaluate.evaluate(test, tmp)
    pred = [model.predict(m.subject, m.detail).category for m in test]
    return {
        "macro_f1": result["macro_f1"],
        "accuracy": result["accuracy"],
        "auto_dispatch_rate_at_p97": result["auto_dispatch_rate_at_p97"],
        "threshold_at_p97": result["threshold_at_p97"],
        "macro_f1_by_input": _by_shape(test, pred),
        "ms_per_message_p50": result["ms_per_message_p50"],
        "ms_per_message_p95": result["ms_per_message_p95"],
        "cpu_ms_per_message_p50": result["cpu_ms_per_message_p50"],
        "model_load_s": result["model_load_s"],
        "model_bytes": size,
        "train_wall_s": round(train_wall, 1),
        "train_cpu_s": round(train_cpu, 1),
        "per_class_f1": {k: v["f1"] for k, v in result["per_class"].items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import tempfile

    train, test = dataset.split(dataset.load_all(ROOT / "data" / "messages"))
    if args.quick:
        train, test = _thin(train, 2500), _thin(test, 600)
    print(f"train {len(train)}, held-out {len(test)}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as d:
        ours = pingan(train, test, Path(d) / "m.joblib")
    base = baseline(train, test)
    out = {
        "bench": "routing",
        "quick": args.quick,
        "n_train": len(train),
        "n_test": len(test),
        "test_inputs": {
            "subject_only": sum(1 for m in test if m.subject and not m.detail),
            "detail_only": sum(1 for m in test if m.detail and not m.subject),
            "both": sum(1 for m in test if m.subject and m.detail),
        },
        "pingan": ours,
        "baseline_tfidf_words_logreg": base,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
