"""Measuring the classifier on labelled messages: quality, speed, and how much it could dispatch on its own."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pingan.config import DATA_DIR
from pingan.dispatch import classifier, dataset
from pingan.dispatch.dataset import Message


def auto_rate_at_precision(confidences: Sequence[float], correct: Sequence[bool], target: float) -> tuple[float, float]:
    """(share of messages, threshold): the largest share that, taken by descending confidence, keeps the
    precision of the taken messages at or above target. Ties in confidence are taken or left together."""
    n = len(confidences)
    if n == 0:
        return 0.0, 1.0
    order = sorted(range(n), key=lambda i: -confidences[i])
    best_k, best_t = 0, 1.0
    ok = 0
    for rank, i in enumerate(order, start=1):
        ok += bool(correct[i])
        is_last_of_tie = rank == n or confidences[order[rank]] < confidences[i]
        if is_last_of_tie and ok / rank >= target:
            best_k, best_t = rank, confidences[i]
    return best_k / n, best_t


def per_class(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for c in labels:
        tp = sum(1 for t, p in zip(truth, pred, strict=True) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, pred, strict=True) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, pred, strict=True) if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[c] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4), "support": tp + fn}
    return out


def _shape(m: Message) -> str:
    if m.subject and m.detail:
        return "both"
    return "subject_only" if m.subject else "detail_only"


def by_input(messages: Sequence[Message], truth: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Macro-F1 and accuracy per input shape: subject only, full text only, both (labels present in that shape)."""
    out: dict[str, dict[str, Any]] = {}
    for shape in ("subject_only", "detail_only", "both"):
        idx = [i for i, m in enumerate(messages) if _shape(m) == shape]
        if not idx:
            continue
        t = [truth[i] for i in idx]
        p = [pred[i] for i in idx]
        labels = sorted(set(t))
        classes = per_class(t, p, labels)
        out[shape] = {
            "n": len(idx),
            "macro_f1": round(sum(c["f1"] for c in classes.values()) / len(classes), 4),
            "accuracy": round(sum(a == b for a, b in zip(t, p, strict=True)) / len(idx), 4),
        }
    return out


def seen_in_training(
    meta: dict[str, Any], messages: Sequence[Message], shipped: Path = DATA_DIR / "messages"
) -> dict[str, Any] | None:
    """How many of `messages` the model was trained on, when its training data is recognised (by `data_sha256`)
    as the shipped messages or their training side; None when it is something else (dispatcher corrections,
    another directory). The shipped model learnt every shipped message: scored on them it looks perfect."""
    everything = dataset.load_all(shipped) if shipped.is_dir() else []
    for trained, name in ((everything, "all shipped messages"), (dataset.split(everything)[0], "training side")):
        if trained and classifier.fingerprint(trained) == meta.get("data_sha256"):
            known = {(m.subject, m.detail) for m in trained}
            n = sum((m.subject, m.detail) in known for m in messages)
            return {"trained_on": name, "n": n, "share": round(n / len(messages), 4) if messages else 0.0}
    return None


def evaluate(
    messages: Sequence[Message],
    model_path: Path | None = None,
    policy_threshold: float | None = None,
) -> dict[str, Any]:
    classifier.clear_cache()
    t0, c0 = time.perf_counter(), time.process_time()
    model = classifier.load(model_path)
    load_s, load_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    preds: list[str] = []
    confs: list[float] = []
    wall: list[float] = []
    cpu: list[float] = []
    for m in messages:
        w0, c0 = time.perf_counter(), time.thread_time()
        p = model.predict(m.subject, m.detail)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
        preds.append(p.category)
        confs.append(p.confidence)
    truth = [m.label for m in messages]
    labels = sorted(set(model.classes) | set(truth))
    classes = per_class(truth, preds, labels)
    present = [c for c in labels if classes[c]["support"] > 0]
    macro = sum(classes[c]["f1"] for c in present) / len(present) if present else 0.0
    correct = [t == p for t, p in zip(truth, preds, strict=True)]
    rate97, thr97 = auto_rate_at_precision(confs, correct, 0.97)
    out: dict[str, Any] = {
        "n": len(messages),
        "macro_f1": round(macro, 4),
        "accuracy": round(sum(correct) / len(correct), 4) if correct else 0.0,
        "per_class": classes,
        "ms_per_message_p50": round(statistics.median(wall) * 1000, 3) if wall else 0.0,
        "ms_per_message_p95": round(sorted(wall)[int(0.95 * (len(wall) - 1))] * 1000, 3) if wall else 0.0,
        "cpu_ms_per_message_p50": round(statistics.median(cpu) * 1000, 3) if cpu else 0.0,
        "auto_dispatch_rate_at_p97": round(rate97, 4),
        "threshold_at_p97": round(thr97, 4),
        "model_load_s": round(load_s, 3),
        "model_load_cpu_s": round(load_cpu_s, 3),
        "model": {k: model.meta.get(k) for k in ("data_sha256", "n_train", "sklearn", "corrections", "train_s")},
        "inputs": {
            "subject_only": sum(1 for m in messages if m.subject and not m.detail),
            "detail_only": sum(1 for m in messages if m.detail and not m.subject),
            "both": sum(1 for m in messages if m.subject and m.detail),
        },
    }
    out["by_input"] = by_input(messages, truth, preds)
    out["seen_in_training"] = seen_in_training(model.meta, messages)
    if policy_threshold is not None:
        taken = [i for i, c in enumerate(confs) if c >= policy_threshold]
        out["policy_threshold"] = policy_threshold
        out["auto_dispatch_rate_at_policy"] = round(len(taken) / len(confs), 4) if confs else 0.0
        out["precision_at_policy"] = round(sum(correct[i] for i in taken) / len(taken), 4) if taken else None
    return out
