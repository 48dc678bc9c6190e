"""Step 8, `evaluate`: how good is the round's model, and has the data moved?

- Holdout metrics: the serving model's predictions (`model.npz`, whichever
  proposer the round chose) for the holdout items whose labels were approved
  (never trained on): accuracy and macro-F1, each with a 95% bootstrap
  interval and the number of items it stands on (`meaningful` is false below
  `MIN_HOLDOUT_ITEMS`), the per-class report and the expected calibration
  error; plus the number of training labels, so
  successive rounds draw a real learning curve (`learning_curve.png`:
  holdout accuracy against approved labels, every finished round and this one).
- Suspected label errors among the approved pool labels, by confident
  learning (`ssl_engine.evaluation.label_errors`, cleanlab) on the serving
  model's out-of-fold probabilities from the round's proposer selection
  (`model.npz`): at most `MAX_SUSPECTS`, most suspect first, stored in
  `label_errors.json`; `publish` sends them to review once the round is live.
  Single-label projects only (the module's limit); gold items are not
  checked (their answers are known, and reviewed through gold failures).
- Drift: items added since the previous finished round against the items
  that round had, both embedded by this round's encoder (a change of encoder
  alone is not drift): domain-classifier AUC (0.5 = indistinguishable) and
  RBF MMD^2 (`ssl_engine.evaluation.drift`).

Everything lands in `metrics.json` and the round's `metrics`.
"""

from __future__ import annotations

import numpy as np

from labelops.items.models import Split
from labelops.learning import artifacts
from labelops.learning.models import RoundState, TrainingRound
from labelops.learning.pipeline.encoder import load_embeddings
from labelops.learning.pipeline.model import ServingModel, has_model, load_model, multilabel
from labelops.learning.pipeline.snapshot import Snapshot
from ssl_engine.files import atomic_write_path

# Drift needs a handful of items on each side to say anything.
MIN_DRIFT_ITEMS = 20
# Below this many approved holdout labels a holdout figure is shown as not
# yet meaningful: at 30 items a 95% interval around 80% spans about 30
# points, and at 5 (where a first round often stands) it spans 60 or more.
MIN_HOLDOUT_ITEMS = 30
CONFIDENCE = 0.95
# Suspected label errors sent to review per round, most suspect first: enough
# to catch systematic mistakes without burying the reviewers.
MAX_SUSPECTS = 50


def run(ctx) -> None:
    snapshot = Snapshot.load(ctx)
    X = load_embeddings(ctx)
    model = load_model(ctx) if has_model(ctx) else None
    holdout = holdout_metrics(ctx, snapshot, model)
    ctx.report(0.4, "holdout evaluated")
    drift = drift_metrics(ctx, snapshot, X)
    ctx.report(0.6, "drift measured")
    label_errors = suspected_label_errors(ctx, snapshot, model)
    ctx.report(0.9, "label errors checked")
    ctx.add_metrics(holdout=holdout, drift=drift, label_errors=label_errors)
    path = artifacts.save_json(ctx.path("metrics.json"), ctx.round.metrics)
    ctx.add_artifact("metrics", path)
    curve = learning_curve(ctx)
    if curve is not None:
        ctx.add_artifact("learning_curve", curve)


def holdout_metrics(ctx, snapshot: Snapshot, model: ServingModel | None) -> dict:
    """The serving model's scores on the approved holdout labels, each with
    a bootstrap interval and the count it stands on; below
    `MIN_HOLDOUT_ITEMS` the figures are kept but marked not yet meaningful."""
    from ssl_engine.evaluation.metrics import (
        accuracy,
        bootstrap_interval,
        expected_calibration_error,
        macro_f1,
        per_class_report,
    )

    if not snapshot.holdout_labels:
        return {"evaluated": False, "reason": "no approved holdout labels yet", "items": 0}
    if model is None:
        return {"evaluated": False, "reason": "no model in a cold-start round",
                "items": len(snapshot.holdout_labels)}
    classes = model.classes
    ids = np.asarray(sorted(snapshot.holdout_labels), dtype=np.int64)
    probs = model.probs[snapshot.positions(ids)]
    seed = ctx.config["seed"]
    trust = {"items": int(len(ids)), "train_labels": len(snapshot.train_labels), "min_items": MIN_HOLDOUT_ITEMS,
             "meaningful": bool(len(ids) >= MIN_HOLDOUT_ITEMS), "confidence": CONFIDENCE}
    if multilabel(ctx):
        from sklearn.preprocessing import MultiLabelBinarizer

        binarizer = MultiLabelBinarizer(classes=classes)
        truth = binarizer.fit_transform([[k for k in snapshot.holdout_labels[int(i)] if k in classes] for i in ids])
        predicted = (probs >= 0.5).astype(int)
        return {"evaluated": True, **trust, "subset_accuracy": accuracy(truth, predicted),
                "subset_accuracy_ci": _rounded(bootstrap_interval(accuracy, truth, predicted, random_state=seed)),
                "macro_f1": macro_f1(truth, predicted),
                "ece": expected_calibration_error(probs, truth, multilabel=True)}
    truth = np.asarray([snapshot.holdout_labels[int(i)][0] for i in ids])
    predicted = np.asarray([classes[j] for j in probs.argmax(axis=1)])
    labels = sorted(set(classes) | set(truth.tolist()))
    # A holdout label the model never saw can only be wrong; it still counts.
    codes = np.array([classes.index(t) if t in classes else -1 for t in truth])
    return {
        "evaluated": True, **trust,
        "accuracy": accuracy(truth, predicted),
        "accuracy_ci": _rounded(bootstrap_interval(accuracy, truth, predicted, random_state=seed)),
        "macro_f1": macro_f1(truth, predicted, labels=labels),
        "macro_f1_ci": _rounded(bootstrap_interval(lambda t, p: macro_f1(t, p, labels=labels), truth, predicted,
                                                   random_state=seed)),
        "ece": expected_calibration_error(probs, codes),
        "per_class": per_class_report(truth, predicted),
    }


def _rounded(interval: tuple[float, float]) -> list[float]:
    return [round(interval[0], 4), round(interval[1], 4)]


def suspected_label_errors(ctx, snapshot: Snapshot, model: ServingModel | None) -> dict:
    """Confident learning on the serving model's out-of-fold predictions for
    the approved pool labels (the rows its cross-validation held out; a
    class with a single label is never held out, so never assessed)."""
    from ssl_engine.evaluation.label_errors import OutOfFold, suspects_from_probabilities

    if multilabel(ctx):
        return {"checked": 0, "reason": "multi-label projects are not checked"}
    if model is None:
        return {"checked": 0, "reason": "no model in a cold-start round"}
    classes = model.classes
    ids, probs = model.out_of_fold_ids, model.out_of_fold
    pool = snapshot.splits[snapshot.positions(ids)] == Split.POOL
    ids, probs = ids[pool], probs[pool]
    given = [snapshot.train_labels[int(i)][0] for i in ids]
    present = sorted(set(given))
    if len(present) < 2:
        return {"checked": 0, "reason": "fewer than two classes among the approved pool labels that "
                                        "cross-validation held out (gold answers are not checked)"}
    # Confident learning counts per given class: the columns of classes no
    # label was given for (taxonomy labels still unused) are left out.
    columns = [classes.index(c) for c in present]
    p = probs[:, columns]
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    codes = np.searchsorted(present, given)
    out_of_fold = OutOfFold(probabilities=p, classes=np.asarray(present, dtype=object), codes=codes,
                            unassessed=np.array([], dtype=np.int64), n_splits=0)
    suspects = suspects_from_probabilities(out_of_fold)
    listed = [{"item": int(ids[s.index]), "given": s.given_label, "suggested": s.suggested_label,
               "label_quality": round(float(s.label_quality), 4),
               "suggested_probability": round(float(s.suggested_probability), 4)} for s in suspects[:MAX_SUSPECTS]]
    path = artifacts.save_json(ctx.path("label_errors.json"), listed)
    ctx.add_artifact("label_errors", path)
    return {"checked": int(len(ids)), "suspects": len(suspects), "listed": len(listed)}


def previous_round(ctx) -> TrainingRound | None:
    return (
        TrainingRound.objects.filter(project=ctx.project, state=RoundState.DONE, number__lt=ctx.round.number)
        .order_by("-number").first()
    )


def drift_metrics(ctx, snapshot: Snapshot, X: np.ndarray) -> dict:
    from ssl_engine.evaluation.drift import domain_classifier_auc, mmd_rbf

    previous = previous_round(ctx)
    if previous is None or "snapshot" not in previous.artifacts:
        return {"measured": False, "reason": "no earlier finished round"}
    before = artifacts.load_arrays(artifacts.resolve(previous.artifacts["snapshot"]))["ids"]
    seen = np.isin(snapshot.ids, before)
    if seen.sum() < MIN_DRIFT_ITEMS or (~seen).sum() < MIN_DRIFT_ITEMS:
        return {"measured": False, "reason": f"{int((~seen).sum())} new and {int(seen.sum())} earlier item(s); "
                                             f"need {MIN_DRIFT_ITEMS} of each", "new_items": int((~seen).sum())}
    seed = ctx.config["seed"]
    return {
        "measured": True, "against_round": previous.number, "new_items": int((~seen).sum()),
        "domain_auc": domain_classifier_auc(X[seen], X[~seen], random_state=seed),
        "mmd2": mmd_rbf(X[seen], X[~seen], random_state=seed),
    }


def learning_curve(ctx):
    """Plot holdout accuracy against training labels for every finished round and this one."""
    import matplotlib

    matplotlib.use("Agg")  # no display in a worker
    import matplotlib.pyplot as plt

    points = []
    rounds = TrainingRound.objects.filter(project=ctx.project, state=RoundState.DONE, number__lt=ctx.round.number)
    for earlier in rounds.order_by("number"):
        holdout = earlier.metrics.get("holdout", {})
        if holdout.get("evaluated") and "accuracy" in holdout:
            points.append((holdout["train_labels"], holdout["accuracy"], earlier.number))
    holdout = ctx.round.metrics.get("holdout", {})
    if holdout.get("evaluated") and "accuracy" in holdout:
        points.append((holdout["train_labels"], holdout["accuracy"], ctx.round.number))
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    xs, ys, numbers = zip(*points)
    ax.plot(xs, ys, marker="o")
    for x, y, n in points:
        ax.annotate(f"round {n}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("approved training labels")
    ax.set_ylabel("holdout accuracy")
    # parse_math off: a "$" in a project name is text, not TeX that could fail the round.
    ax.set_title(f"{ctx.project.name}: learning curve", parse_math=False)
    ax.grid(alpha=0.3)
    path = ctx.path("learning_curve.png")
    with atomic_write_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path

