"""`pingan routing …`: train the category classifier, evaluate it, make the held-out split, try a message."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pingan.config import DATA_DIR

app = typer.Typer(
    help="Smart dispatch 智能分拨: classifier, responsibility list, 12345⇄110 triage", no_args_is_help=True
)
err = Console(stderr=True, soft_wrap=True)

MessagesOpt = Annotated[Path, typer.Option("--messages", help="directory with the labelled message CSVs")]
ModelOpt = Annotated[Path | None, typer.Option("--model", help="model file (default data/models/routing.joblib)")]


@app.command()
def train(
    messages: MessagesOpt = DATA_DIR / "messages",
    out: Annotated[Path | None, typer.Option("--out", help="where to write the model")] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="database URL whose dispatcher corrections join the training")
    ] = None,
    holdout: Annotated[
        bool, typer.Option("--holdout/--all", help="leave out the held-out split (for benchmarking)")
    ] = False,
) -> None:
    """Train the classifier (deterministic: same data, same model) and write it to data/models/."""
    from pingan.dispatch import classifier, dataset

    t0 = time.perf_counter()
    msgs = dataset.load_all(messages)
    if holdout:
        msgs, _ = dataset.split(msgs)
    corrections: list[dataset.Message] = []
    if db:
        from pingan.config import Settings
        from pingan.db import make_engine, make_session_factory
        from pingan.dispatch.corrections import training_examples

        settings = Settings()
        settings.db_url = db
        engine = make_engine(settings.db_url)
        with make_session_factory(engine)() as session:
            corrections = training_examples(session)
        engine.dispose()
    err.print(f"training on {len(msgs)} messages + {len(corrections)} dispatcher corrections …")
    model = classifier.train(
        msgs + corrections,
        extra={"corrections": len(corrections), "holdout_excluded": holdout},
    )
    path = out or classifier.MODEL_PATH
    size = classifier.save(model, path)
    summary = {
        "model": str(path),
        "bytes": size,
        "n_train": len(msgs) + len(corrections),
        "corrections": len(corrections),
        "holdout_excluded": holdout,
        "data_sha256": model.meta["data_sha256"],
        "train_s": round(time.perf_counter() - t0, 2),
    }
    print(json.dumps(summary, ensure_ascii=False))


@app.command("eval")
def eval_(
    input: Annotated[Path, typer.Option("--input", help="CSV with 留言主题, 留言详情, 一级标签")],
    model: ModelOpt = None,
) -> None:
    """Evaluate on a labelled CSV; prints one JSON object (macro_f1, accuracy, per_class, timings, auto rate)."""
    from pingan.dispatch import classifier, dataset, evaluate, responsibility
    from pingan.errors import PinganError

    if not input.exists():
        err.print(f"[red]no such file: {input}[/]")
        raise typer.Exit(2)
    msgs = [m for m in dataset.read_csv(input) if m.label]
    if not msgs:
        err.print(f"[red]{input}: no labelled rows (columns 留言主题, 留言详情, 一级标签)[/]")
        raise typer.Exit(2)
    try:
        threshold: float | None = responsibility.policy().auto_dispatch_threshold
    except PinganError:
        threshold = None
    try:
        result = evaluate.evaluate(msgs, model, threshold)
    except classifier.ModelMissing as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    seen = result["seen_in_training"]
    if seen and seen["n"]:
        err.print(
            f"[yellow]注意：其中 {seen['n']} 条（{seen['share']:.0%}）在该模型的训练数据中，指标偏高；"
            "请用 `pingan routing train --holdout --out FILE` 训练的模型评估。"
            f" {seen['n']} of these messages ({seen['share']:.0%}) were in this model's training data, so the"
            " figures are optimistic: evaluate a model trained with --holdout.[/]"
        )
    print(json.dumps(result, ensure_ascii=False))


@app.command()
def split(
    out: Annotated[Path, typer.Option("--out", help="directory for train.csv and test.csv")],
    messages: MessagesOpt = DATA_DIR / "messages",
) -> None:
    """Write the de-duplicated, leak-free train/held-out split the benchmark uses."""
    from pingan.dispatch import dataset

    msgs = dataset.load_all(messages)
    tr, te = dataset.split(msgs)
    out.mkdir(parents=True, exist_ok=True)
    n_tr = dataset.write_csv(out / "train.csv", tr)
    n_te = dataset.write_csv(out / "test.csv", te)
    print(json.dumps({"train": n_tr, "test": n_te, "dir": str(out)}, ensure_ascii=False))


@app.command()
def classify(
    title: Annotated[str, typer.Argument(help="留言主题")],
    content: Annotated[str, typer.Argument(help="留言详情")] = "",
    model: ModelOpt = None,
) -> None:
    """Classify one message: top categories with their confidence and the words that drove them."""
    from pingan.dispatch import classifier

    m = classifier.load(model)
    p = m.predict(title, content)
    print(
        json.dumps(
            {
                "category": p.category,
                "confidence": round(p.confidence, 4),
                "top": [{"category": s.category, "score": round(s.score, 4), "reasons": s.reasons} for s in p.top],
            },
            ensure_ascii=False,
        )
    )
