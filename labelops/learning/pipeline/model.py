"""Steps 4-7: `cluster`, `train`, `propose`, `rank`. The ML is `ssl_engine`'s;
these functions only feed it the round's arrays and store what it returns.

- `cluster`: a FAISS index over all embeddings (`index.faiss`, exact or IVF by
  size; database ids are item ids) and spherical k-means (`clusters.npz`:
  centroids and each item's cluster), `n_clusters` from the round's config or
  about sqrt(n/2).
- `train`: the round's proposer, chosen among zero-shot from the taxonomy,
  the logistic-regression head, label spreading and their ensemble by
  cross-validation on the approved labels of pool and gold items
  (`pipeline.proposer`), and its calibrated probabilities for every item
  (`model.npz`). With neither labels of two classes nor a text taxonomy to
  score against there is nothing to learn: the round is a cold-start round
  without a model, recorded as such, and the later steps work without one.
- `propose`: those probabilities for every pool item that is not yet
  approved (`proposals.npz`). Gold items get none (a model trained on their
  answers would give them away) and holdout items get none (labelled blind).
- `rank`: the next batch by the round's strategy (`ranking.npy`, item ids,
  most wanted first) over the pool items nobody has labelled yet. Without a
  model, strategies that need probabilities cannot run; the round then ranks
  by TypiClust (typical items of uncovered clusters, the cold-start choice)
  and records which strategy it used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelops.items.models import ItemState, Split
from labelops.learning import artifacts
from labelops.learning.pipeline.encoder import load_embeddings
from labelops.learning.pipeline.snapshot import Snapshot
from labelops.projects.models import TaskType
from ssl_engine.files import atomic_write_path

# The serving model's calibrated probabilities for every snapshot item, and its classes.
MODEL = "model.npz"
# Labelled neighbours stored with each proposal, shown to annotators.
NEIGHBOURS = 3
# Items that already have (or are getting) their labels are not asked for again.
TAKEN_STATES = (ItemState.LABELLED, ItemState.IN_REVIEW, ItemState.APPROVED)


def multilabel(ctx) -> bool:
    return ctx.config["task"] == TaskType.MULTI_LABEL


def cluster(ctx) -> None:
    from ssl_engine.index import VectorIndex, kmeans

    snapshot = Snapshot.load(ctx)
    X = load_embeddings(ctx)
    seed = ctx.config["seed"]
    index = VectorIndex(metric="cosine", random_state=seed).fit(X, ids=snapshot.ids)
    ctx.report(0.3, "index built")
    with atomic_write_path(ctx.path("index.faiss")) as tmp:
        index.save(tmp)
    ctx.add_artifact("index", ctx.path("index.faiss"))

    requested = ctx.config["n_clusters"]
    k = None if requested is None else min(int(requested), len(X))
    centroids, assignments, inertia = kmeans(X, k, random_state=seed)
    path = artifacts.save_arrays(ctx.path("clusters.npz"), centroids=centroids, assignments=assignments)
    ctx.add_artifact("clusters", path)
    ctx.add_metrics(clusters={"k": int(len(centroids)), "inertia": float(inertia), "index": index.kind_})


def training_set(snapshot: Snapshot, multi: bool) -> tuple[np.ndarray, list]:
    ids = np.asarray(sorted(snapshot.train_labels), dtype=np.int64)
    labels = [snapshot.train_labels[int(i)] for i in ids]
    return ids, (labels if multi else [label[0] for label in labels])


def train(ctx) -> None:
    """Choose and fit the round's proposer (`pipeline.proposer`), and keep its
    calibrated probabilities for every item of the snapshot (`model.npz`):
    proposals, ranking and evaluation all read them, so all of them use the
    model that serves."""
    from labelops.learning.pipeline.proposer import fit_proposer

    snapshot = Snapshot.load(ctx)
    fitted = fit_proposer(ctx, snapshot, load_embeddings(ctx))
    ctx.add_metrics(proposer=fitted.summary)
    if fitted.probs is None:
        ctx.add_metrics(model={"trained": False, "reason": fitted.summary["reason"], "labels": fitted.labels})
        return
    out_of_fold = fitted.out_of_fold if fitted.out_of_fold is not None else np.zeros((0, len(fitted.classes)))
    path = artifacts.save_arrays(ctx.path(MODEL), classes=np.asarray(fitted.classes, dtype=str),
                                 probs=fitted.probs.astype(np.float32),
                                 out_of_fold_ids=snapshot.ids[fitted.held_out_positions],
                                 out_of_fold=out_of_fold.astype(np.float32))
    ctx.add_artifact("model", path)
    ctx.add_metrics(model={"trained": True, "proposer": fitted.summary["chosen"], "labels": fitted.labels,
                           "classes": len(fitted.classes)})


def has_model(ctx) -> bool:
    return ctx.path(MODEL).exists() and "model" in ctx.round.artifacts


@dataclass(frozen=True)
class ServingModel:
    """What `train` kept of the serving model (`model.npz`)."""
    classes: list[str]
    probs: np.ndarray  # (N, C), aligned with the snapshot's ids
    out_of_fold_ids: np.ndarray  # (M,) labelled items its cross-validation held out
    out_of_fold: np.ndarray  # (M, C) its out-of-fold distributions for them


def load_model(ctx) -> ServingModel:
    data = artifacts.load_arrays(ctx.path(MODEL))
    return ServingModel(classes=data["classes"].tolist(), probs=data["probs"],
                        out_of_fold_ids=data["out_of_fold_ids"], out_of_fold=data["out_of_fold"])


def proposal_candidates(snapshot: Snapshot) -> np.ndarray:
    """Positions of pool items without approved labels."""
    labelled = np.isin(snapshot.ids, np.asarray(list(snapshot.train_labels), dtype=np.int64))
    return np.flatnonzero(snapshot.pool_mask() & ~labelled)


def propose(ctx) -> None:
    if not has_model(ctx):
        ctx.add_metrics(proposals={"count": 0, "reason": "no model in a cold-start round"})
        return
    snapshot = Snapshot.load(ctx)
    model = load_model(ctx)
    classes = model.classes
    X = load_embeddings(ctx)
    rows = proposal_candidates(snapshot)
    probs = model.probs[rows]
    ctx.report(0.3)
    neighbour_ids, similarities = labelled_neighbours(snapshot, X, rows)
    path = artifacts.save_arrays(ctx.path("proposals.npz"), item_ids=snapshot.ids[rows], probs=probs,
                                 classes=np.asarray(classes, dtype=str),
                                 neighbour_ids=neighbour_ids, neighbour_similarities=similarities)
    ctx.add_artifact("proposals", path)
    ctx.add_metrics(proposals={"count": int(len(rows))})


def labelled_neighbours(snapshot: Snapshot, X: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the ids of its `NEIGHBOURS` nearest pool items with
    approved labels and their cosine similarities (-1 pads when fewer exist),
    from an exact FAISS index over those items only. Gold items are left out:
    showing one with its answer would give the gold check away."""
    from ssl_engine.index import VectorIndex

    labelled_ids = np.asarray(sorted(snapshot.train_labels), dtype=np.int64)
    labelled_ids = labelled_ids[snapshot.splits[snapshot.positions(labelled_ids)] == Split.POOL]
    k = min(NEIGHBOURS, len(labelled_ids))
    if k == 0 or len(rows) == 0:
        return np.full((len(rows), NEIGHBOURS), -1, dtype=np.int64), np.zeros((len(rows), NEIGHBOURS), np.float32)
    index = VectorIndex(metric="cosine", ivf_threshold=len(labelled_ids) + 1).fit(
        X[snapshot.positions(labelled_ids)], ids=labelled_ids)
    similarities, ids = index.search(X[rows], k)  # (M, k) each
    pad = NEIGHBOURS - k
    return (np.pad(ids, ((0, 0), (0, pad)), constant_values=-1).astype(np.int64),
            np.pad(similarities, ((0, 0), (0, pad))).astype(np.float32))


def rank(ctx) -> None:
    from ssl_engine.active import get_strategy, strategy_info

    snapshot = Snapshot.load(ctx)
    X = load_embeddings(ctx)
    pool = np.flatnonzero(snapshot.pool_mask())
    labelled = np.isin(snapshot.ids[pool], np.asarray(list(snapshot.train_labels), dtype=np.int64))
    labelled |= np.isin(snapshot.states[pool], TAKEN_STATES)
    probs = None
    if has_model(ctx):
        proposals = artifacts.load_arrays(ctx.path("proposals.npz"))
        n_classes = proposals["probs"].shape[1]
        # Strategies read probabilities for the whole pool; labelled rows are never picked.
        probs = np.full((len(pool), n_classes), 1.0 / n_classes, dtype=np.float32)
        where = np.searchsorted(snapshot.ids[pool], proposals["item_ids"])
        probs[where] = proposals["probs"]
    else:
        n_classes = max(2, len(snapshot.classes))
    strategy = ctx.config["strategy"]
    # With no head yet, a strategy that needs its probabilities gives way to TypiClust.
    used = strategy if probs is not None or not strategy_info(strategy).needs_probs else "typiclust"
    clusters = artifacts.load_arrays(ctx.path("clusters.npz"))["assignments"][pool]
    picks = get_strategy(used)(
        probs=probs, embeddings=X[pool], labelled_mask=labelled, batch_size=ctx.config["batch_size"],
        random_state=ctx.config["seed"], multilabel=multilabel(ctx), clusters=clusters, n_classes=n_classes,
        n_labelled=int(labelled.sum()),
    )
    ranking = snapshot.ids[pool][picks]
    path = artifacts.save_array(ctx.path("ranking.npy"), ranking.astype(np.int64))
    ctx.add_artifact("ranking", path)
    if used == "auto":
        from ssl_engine.active import auto

        used = f"auto ({auto.choose(n_labelled=int(labelled.sum()), n_classes=n_classes, has_probs=probs is not None)})"
    ctx.add_metrics(ranking={"strategy": strategy, "used": used, "batch": int(len(ranking)),
                             "unlabelled_pool": int((~labelled).sum())})
