"""The round's proposer: which model serves, and its probabilities for every item.

Called by the `train` step. The choice is the engine's
(`ssl_engine.proposals.selection`: zero-shot from the taxonomy, the
logistic-regression head, label spreading and their ensemble, compared by
cross-validation on the approved labels); this module feeds it the round's
arrays:

- the approved labels of pool and gold items; holdout labels are never
  passed (they only evaluate), and holdout items are unlabelled nodes of
  the graph like any other unlabelled item;
- the embeddings of every snapshot item, and label spreading's kNN graph
  over all of them;
- for text projects, the taxonomy's label descriptions embedded by the
  round's encoder (`taxonomy.npz`, written by `embed`) as the zero-shot
  prior, which also keeps informing the other candidates once labels
  arrive. Image projects have no text tower to score a label name
  against: their candidates learn from labels only.

What it returns (`FittedProposer`): the classes, the chosen model's
calibrated (N, C) probabilities for every snapshot item (None when there
is nothing to propose from: neither labels of two classes nor a taxonomy
to score against), and the summary the round's metrics keep: the
candidates' cross-validated scores, the choice and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labelops.learning import artifacts
from labelops.learning.pipeline.snapshot import Snapshot

# The taxonomy's label texts embedded by the round's encoder (written by `embed`).
TAXONOMY = "taxonomy.npz"

# Label spreading's graph: each item joined to its 10 most similar items
# (what ssl_engine's benchmarks use; see ssl_engine.proposals.propagation).
GRAPH_NEIGHBOURS = 10

REASONS = {
    "cross-validation": "best cross-validated accuracy on the approved labels",
    "few labels: default": "too few approved labels to compare candidates reliably: the default for few labels",
    "no labels: zero-shot": "no approved labels yet: zero-shot from the taxonomy",
    "multi-label: head": "multi-label projects: the head is the only candidate with independent labels",
}


@dataclass
class FittedProposer:
    classes: list[str]
    probs: np.ndarray | None  # (N, C) for every snapshot item, or None: no model
    labels: int  # approved training labels it learnt from
    summary: dict = field(default_factory=dict)
    # The labelled items scored out of fold and the chosen model's
    # distributions for them (what suspected label errors are found in).
    held_out_positions: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    out_of_fold: np.ndarray | None = None


def load_taxonomy(ctx) -> tuple[np.ndarray, np.ndarray] | None:
    """(embeddings (M, d), class key of each row) of the taxonomy's texts, or
    None (an image project, or a round from before they were embedded)."""
    if "taxonomy" not in ctx.round.artifacts or not ctx.path(TAXONOMY).exists():
        return None
    data = artifacts.load_arrays(ctx.path(TAXONOMY))
    return data["embeddings"], data["classes"]


def round_labels(ctx, snapshot: Snapshot) -> dict[int, object]:
    """The approved training labels by snapshot position: a key (single-label)
    or a list of keys (multi-label)."""
    from labelops.learning.pipeline.model import multilabel, training_set

    ids, y = training_set(snapshot, multilabel(ctx))
    return dict(zip(snapshot.positions(ids).tolist(), y))


def fit_proposer(ctx, snapshot: Snapshot, X: np.ndarray) -> FittedProposer:
    from labelops.learning.pipeline.model import multilabel

    multi = multilabel(ctx)
    return choose_proposer(X, round_labels(ctx, snapshot), None if multi else load_taxonomy(ctx),
                           multi=multi, seed=ctx.config["seed"], report=ctx.report)


def choose_proposer(X: np.ndarray, labels: dict[int, object], taxonomy, *, multi: bool, seed: int,
                    report=lambda fraction, message="": None) -> FittedProposer:
    """Select and fit the proposer on `labels` (row of X -> label, or label
    list) with `taxonomy` (embeddings, class keys) as the zero-shot prior
    (None: no prior); its probabilities for every row of X. The round's
    `train` step runs it; `labelops.bench loop` replays it on other label sets."""
    from ssl_engine.proposals.selection import select_proposer

    reason = nothing_to_learn(labels, multi=multi, has_taxonomy=taxonomy is not None)
    if reason is not None:
        return FittedProposer(classes=[], probs=None, labels=len(labels),
                              summary={"chosen": None, "reason": reason, "labels": len(labels), "candidates": {}})
    inputs = _inputs(X, labels, taxonomy, multi=multi)
    report(0.2, "graph built")
    selection = select_proposer(X, inputs.labelled, inputs.answers, prior=inputs.prior, graph=inputs.graph,
                                random_state=seed)
    report(0.7, f"chose {selection.chosen}")
    probs = selection.fit_predict(X, inputs.labelled, inputs.answers, prior=inputs.prior, graph=inputs.graph)
    classes = selection.classes.tolist() if len(selection.classes) else _multilabel_classes(labels)
    summary = {
        "chosen": selection.chosen, "rule": selection.rule, "reason": REASONS.get(selection.rule, selection.rule),
        "labels": len(labels), "zero_shot_prior": inputs.prior is not None,
        "candidates": {name: {"accuracy": _round(score.get("accuracy")), "log_loss": _round(score.get("log_loss")),
                              "rows": int(score.get("rows_scored") or 0)}
                       for name, score in selection.scores.items()},
        "temperatures": {name: round(float(t), 4) for name, t in selection.temperatures.items()},
    }
    return FittedProposer(classes=[str(c) for c in classes], probs=np.asarray(probs, dtype=np.float32),
                          labels=len(labels), summary=summary, held_out_positions=selection.held_out_rows,
                          out_of_fold=selection.out_of_fold.get(selection.chosen))


def nothing_to_learn(labels: dict[int, object], *, multi: bool, has_taxonomy: bool) -> str | None:
    """Why no model can be made (neither a taxonomy to score against nor
    labels of two classes), or None when one can."""
    n_classes = len({key for label in labels.values() for key in (label if multi else [label])})
    if (has_taxonomy and not multi) or (len(labels) >= 2 and (multi or n_classes >= 2)):
        return None
    return (f"{len(labels)} approved label(s) in {n_classes} class(es) and no taxonomy texts to score against; "
            "a model needs labels of two classes")


@dataclass
class _Inputs:
    """What the engine's selection takes, for one set of embeddings."""
    labelled: np.ndarray  # (N,) bool
    answers: np.ndarray  # (N,) object: the label (or label list) where labelled
    prior: object | None  # a fitted TaxonomyZeroShot, or None
    graph: object | None  # label spreading's graph of all N rows (single-label only)


def _inputs(X: np.ndarray, labels: dict[int, object], taxonomy, *, multi: bool) -> _Inputs:
    from ssl_engine.proposals.zero_shot import TaxonomyZeroShot

    labelled = np.zeros(len(X), dtype=bool)
    answers = np.empty(len(X), dtype=object)
    for position, label in labels.items():
        labelled[position] = True
        answers[position] = label
    prior = None if multi or taxonomy is None else TaxonomyZeroShot().fit(*taxonomy)
    return _Inputs(labelled, answers, prior, None if multi else knn_graph(X))


def compare_encoders(ctx, snapshot: Snapshot, *, before, after):
    """The adoption guard's decision (`ssl_engine.ssl.adoption.decide`) between
    the encoder a round started from and the one it adapted. `before` and
    `after` are each (embeddings (N, d), taxonomy or None). Both go through
    the same proposer selection on the same approved labels (same folds);
    each labelled item scored out of fold is right or wrong under each."""
    from labelops.learning.pipeline.model import multilabel
    from ssl_engine.proposals.selection import select_proposer
    from ssl_engine.ssl.adoption import Adoption, decide

    if multilabel(ctx):
        return Adoption(False, "multi-label projects are not judged by the guard: the starting encoder stays",
                        rows=0)
    labels = round_labels(ctx, snapshot)
    if not labels:
        return Adoption(False, "no approved labels to judge the adapted encoder by: the starting encoder stays",
                        rows=0)
    outcomes = []
    for X, taxonomy in (before, after):
        inputs = _inputs(X, labels, taxonomy, multi=False)
        selection = select_proposer(X, inputs.labelled, inputs.answers, prior=inputs.prior, graph=inputs.graph,
                                    random_state=ctx.config["seed"])
        outcomes.append(selection.right_out_of_fold())
    return decide(*outcomes)


def knn_graph(X: np.ndarray):
    """Label spreading's normalised cosine kNN graph over every item (exact
    search below the index's IVF threshold, IVF above)."""
    from ssl_engine.proposals.propagation import cosine_knn_graph

    return cosine_knn_graph(X, GRAPH_NEIGHBOURS)


def _multilabel_classes(labels: dict[int, object]) -> list[str]:
    # The multi-label head orders its classes as MultiLabelBinarizer does: sorted.
    return sorted({key for label in labels.values() for key in label})


def _round(value) -> float | None:
    return None if value is None else round(float(value), 4)
