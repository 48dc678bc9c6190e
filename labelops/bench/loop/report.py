"""What the loop benchmark reports: the baseline's curve, the comparison,
`loop.json` and `loop.png`.

The baseline runs no round while it labels, so its curve comes from its one
round at the end: `replay` fits, for each checkpoint's approved labels, the
model that round's `train` step would serve on them (`choose_proposer`: the
same selection and taxonomy prior, the round's seed) on that round's own
embeddings, and scores it on its holdout as `evaluate` does (accuracy, macro-F1 over the taxonomy's classes and the truth's). The
last checkpoint holds the round's own labels, so its replayed accuracy must
equal the round's: `replay_check` records both.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np


def replay(final_round, checkpoints: list[dict]) -> tuple[list[dict], dict]:
    """Baseline rows from its checkpoints, each scored with the proposer the
    product would serve on those labels (`choose_proposer`: the same
    selection, the same taxonomy prior) on the final round's embeddings."""
    from labelops.learning import artifacts
    from labelops.learning.pipeline.proposer import choose_proposer
    from labelops.learning.pipeline.snapshot import Snapshot
    from ssl_engine.evaluation.metrics import accuracy, macro_f1

    snapshot = Snapshot(artifacts.load_arrays(artifacts.resolve(final_round.artifacts["snapshot"])))
    X = artifacts.load_array(artifacts.resolve(final_round.artifacts["embeddings"]))
    taxonomy = None
    if "taxonomy" in final_round.artifacts:
        data = artifacts.load_arrays(artifacts.resolve(final_round.artifacts["taxonomy"]))
        taxonomy = data["embeddings"], data["classes"]
    seed = final_round.config["seed"]
    holdout = np.asarray(sorted(snapshot.holdout_labels), dtype=np.int64)
    truth = [snapshot.holdout_labels[int(i)][0] for i in holdout]
    known = set(snapshot.ids.tolist())

    def score(labels: dict[int, str]) -> tuple[float | None, float | None]:
        ids = np.asarray(sorted(i for i in labels if i in known), dtype=np.int64)
        by_position = dict(zip(snapshot.positions(ids).tolist(), (labels[int(i)] for i in ids)))
        fitted = choose_proposer(X, by_position, taxonomy, multi=False, seed=seed)
        if fitted.probs is None or not len(holdout):
            return None, None
        classes = fitted.classes
        predicted = [classes[j] for j in fitted.probs[snapshot.positions(holdout)].argmax(axis=1)]
        return accuracy(truth, predicted), macro_f1(truth, predicted, labels=sorted(set(classes) | set(truth)))

    rows = []
    for number, checkpoint in enumerate(checkpoints, start=1):
        acc, f1 = score(checkpoint["labels"])
        rows.append({"checkpoint": number, "human_labels": checkpoint["human_labels"],
                     "train_labels": checkpoint["train_labels"], "evaluated": acc is not None,
                     "holdout_accuracy": acc, "macro_f1": f1, "holdout_items": len(holdout),
                     "source": "replay of the product's proposer choice",
                     **{k: v for k, v in checkpoint.items() if k not in ("labels", "human_labels", "train_labels")}})
    own = {int(i): labels[0] for i, labels in snapshot.train_labels.items()}
    replayed, _ = score(own)
    check = {"round_accuracy": (final_round.metrics.get("holdout") or {}).get("accuracy"),
             "replayed_accuracy": replayed}
    return rows, check


def curve(result: dict) -> list[tuple[int, float]]:
    """(human labels, holdout accuracy) points of a project, in order."""
    rows = result["rows"] if result["kind"] == "main" else result["curve"]
    return [(r["human_labels"], r["holdout_accuracy"]) for r in rows if r.get("holdout_accuracy") is not None]


def compare(main: dict, baseline: dict) -> dict:
    """Labels the main project needed to reach the baseline's final accuracy."""
    target = baseline["final"]["holdout_accuracy"]
    spent = baseline["final"]["human_labels"]
    reached = next((labels for labels, acc in curve(main) if target is not None and acc >= target), None)
    main_points = curve(main)
    return {
        "baseline_final_accuracy": target, "baseline_human_labels": spent,
        "main_final_accuracy": main_points[-1][1] if main_points else None,
        "main_human_labels": main_points[-1][0] if main_points else None,
        "labels_to_reach_baseline": reached,
        "ratio": reached / spent if reached is not None and spent else None,
    }


def summarise(seeds: list[dict]) -> dict:
    """Medians over seeds, and the worst seed (the highest ratio; not reaching the baseline is worst)."""
    comparisons = [s["comparison"] for s in seeds]

    def median(key):
        values = [c[key] for c in comparisons if c[key] is not None]
        return statistics.median(values) if values else None

    worst = max(seeds, key=lambda s: float("inf") if s["comparison"]["ratio"] is None else s["comparison"]["ratio"])
    return {
        "seeds": len(seeds),
        "median": {key: median(key) for key in ("main_final_accuracy", "baseline_final_accuracy",
                                                "labels_to_reach_baseline", "ratio")},
        "reached_in": sum(c["labels_to_reach_baseline"] is not None for c in comparisons),
        "worst_seed": {"seed": worst["seed"], **worst["comparison"]},
    }


def write(out: Path, report: dict) -> tuple[Path, Path]:
    json_path = out / "loop.json"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    return json_path, plot(out / "loop.png", report)


def plot(path: Path, report: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"main": ("tab:blue", "-", "loop (rounds, proposals, active learning)"),
              "baseline": ("tab:gray", "--", "baseline (shuffled file order, no proposals, no rounds)")}
    for n, seed in enumerate(report["seeds"]):
        for kind in ("main", "baseline"):
            points = curve(seed[kind])
            if not points:
                continue
            color, style, label = styles[kind]
            xs, ys = zip(*points)
            ax.plot(xs, ys, linestyle=style, marker="o", markersize=3, color=color,
                    alpha=1.0 if n == 0 else 0.5, label=label if n == 0 else None)
    ax.set_xlabel("human labels spent (submitted annotations)")
    ax.set_ylabel("holdout accuracy of the serving model")
    ax.set_title(f"{report['config']['data_name']}: {len(report['seeds'])} seed(s)", parse_math=False)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
