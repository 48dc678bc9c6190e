"""Choose the round's proposer by cross-validation on the approved labels, then calibrate it.

No proposer wins everywhere: on BANKING77 the taxonomy's zero-shot prior is
the only model with no label, label spreading leads with a few labels per
class and the logistic head (or the mean of both) with many. Which of them
wins on a new project, and where the crossover lies, depends on the data, so
each round picks by cross-validation on the labels it has (model selection
as in Stone, "Cross-validatory choice and assessment of statistical
predictions", JRSS B 1974), never on a holdout. Candidates:

``zero_shot``
    :class:`~ssl_engine.proposals.zero_shot.TaxonomyZeroShot`, the ``prior``.
    It never trains on labels, so its out-of-fold predictions are simply its
    predictions.
``head``
    ``CalibratedHead`` (logistic regression, ``C``) on the fold's labels. With
    a ``prior``, each class's prototype (the mean direction of its label
    texts) is one more training row of that class: the taxonomy keeps
    informing the head, and every class is known from the first round
    (on the BANKING77 validation split: 77 random labels 56 against 35%,
    385 labels 73 against 68%, 770 labels 82 against 81%).
``spreading``
    Label spreading (Zhou et al., NIPS 2004;
    :mod:`ssl_engine.proposals.propagation`) over ``graph``, the kNN graph of
    *all* rows of ``X``, seeded with the fold's labels. With a ``prior``,
    every row without a label is also seeded with its zero-shot distribution,
    scaled so that the prior's total seed mass is ``prior_strength`` labels
    per class: a pseudo-count, so the labels outweigh the prior as they
    accumulate (at no label it is the transductive zero-shot of
    :mod:`~ssl_engine.proposals.zero_shot`). A fixed weight per row instead
    (0.3 or 1) helped at 77 labels but cost 5 to 10 points at 770 on a
    validation split of BANKING77's train split; as a pseudo-count, 1, 3 and
    10 labels per class all beat no prior at 77, 385 and 770 labels, 3 by
    the most (77: 72 against 43%, 385: 80 against 75%, 770: 83 against
    82%), and 3 did not hurt on SMS spam's train split (20 and 50 labels).
``ensemble``
    The mean of ``head`` and ``spreading``, each first tempered by its own
    temperature (so the mean weighs evidence, not confidence).

Folds. Labelled rows are dealt to ``cv`` folds class by class (shuffled by
``random_state``, round-robin, so a class's rows spread over folds as in
stratified k-fold). A class with a single label is never held out: it stays in
every fold's training rows (as in ``CalibratedHead``), so nothing crashes on
singleton classes and a model never loses a class it has one label of. Every
candidate predicts the same held-out rows; transductive candidates see every
row of ``X`` as a graph node, with the held-out rows' labels hidden. Rows
outside ``labelled`` are never read as labels: their ``y`` may be anything.

Scores and calibration. For each candidate, one temperature is fitted by NLL
on its out-of-fold distributions (``fit_distribution_temperature``,
``P ** (1/T)`` renormalised, Guo et al. 2017). Its score is the out-of-fold
accuracy, ties broken by the log loss after that temperature, then by the
order of ``candidates``. The chosen candidate is refitted on all labels and
its distribution over every row of ``X`` is tempered by its own temperature.

Too few labels. With fewer than :data:`MIN_LABELS_PER_CLASS` labels per
class on average, or fewer than :data:`MIN_SCORED_ROWS` held-out rows, a
cross-validated accuracy is mostly noise (a 77-class project with 1 label
per class has no held-out row at all), so the choice is ``default``: the
candidate measured best at one label per class, ``spreading`` seeded by the
prior (72% on the BANKING77 validation split, against 68% for the ensemble
and 56% for the head), else the head. With no label at all it is
``spreading`` seeded by the prior alone (the transductive zero-shot, 66% on
that split) at :data:`NO_LABEL_SPREADING_TEMPERATURE`, or ``zero_shot``
without a graph. Scores are still computed and recorded when possible, and
temperatures come from whatever held-out rows exist (zero-shot's from every
label, which it never trained on; 1.0 when none exists).

Cost: one fit per candidate per fold plus the final one; label spreading
(``cv + 1`` spreads over the whole graph) dominates. Measured on the shared
2-core machine with synthetic 384-d embeddings, 77 classes, 770 labels:
10,000 rows 7 s to select; 100,000 rows 35 s to select and 5 s to
``fit_predict`` (building the kNN graph, the caller's job, 20 s more).
On BANKING77's 10,003 items with one BLAS thread, 1.5 to 2 s.

Multi-label projects (``y`` a list of label lists) are not selected over:
the head is the only candidate that models independent labels, so it is
chosen, with its own out-of-fold temperature (``CalibratedHead``).

Example::

    >>> sel = select_proposer(x, labelled, y, prior=zs, graph=graph, random_state=0)
    >>> sel.chosen, sel.scores["head"]["accuracy"], sel.temperatures
    >>> probs = sel.fit_predict(x, labelled, y, prior=zs, graph=graph)   # (N, C) in sel.classes order
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from .head import CalibratedHead
from .propagation import fit_distribution_temperature, normalise_rows, spread_labels, temper_distributions
from .zero_shot import TaxonomyZeroShot

CANDIDATES = ("zero_shot", "head", "spreading", "ensemble")
#: Spreading's prior, in labels per class (see the module docstring).
DEFAULT_PRIOR_STRENGTH = 3.0
#: Below this many labels per class on average, cross-validation does not choose.
MIN_LABELS_PER_CLASS = 2.0
#: Below this many held-out rows, cross-validation does not choose.
MIN_SCORED_ROWS = 20
#: Spreading's temperature with no label to fit one: the NLL-optimal T of the prior spread over the
#: train splits' graphs was 0.55 (BANKING77) and 0.44 (SMS spam), ``bench zero-shot``.
NO_LABEL_SPREADING_TEMPERATURE = 0.5


@dataclass
class Selection:
    """What :func:`select_proposer` found; :meth:`fit_predict` applies it.

    ``scores[name]``: ``accuracy`` and ``log_loss`` (after the candidate's
    temperature) on the out-of-fold rows, ``folds`` used and ``rows_scored``;
    ``None`` values when no row could be held out. ``temperatures[name]``:
    the candidate's ``T`` (1.0 when nothing could fit it). ``rule`` says how
    the choice was made: ``"cross-validation"``, ``"few labels: default"``,
    ``"no labels: zero-shot"`` or ``"multi-label: head"``.

    ``held_out_rows``: the rows of ``X`` that were scored out of fold (labelled
    rows whose class has two or more labels), ``held_out_labels`` their
    labels, and ``out_of_fold[name]`` each
    candidate's tempered (len(held_out_rows), C) distributions for them: what
    the adoption guard (``ssl_engine.ssl.adoption``) compares encoders by and
    confident learning (``ssl_engine.evaluation.label_errors``) looks for
    label errors in, with the model that serves. Empty without labels and for
    multi-label projects.
    """

    chosen: str
    classes: np.ndarray
    scores: dict[str, dict[str, Any]]
    temperatures: dict[str, float]
    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    held_out_rows: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    held_out_labels: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    out_of_fold: dict[str, np.ndarray] = field(default_factory=dict)

    def right_out_of_fold(self, name: str | None = None) -> np.ndarray:
        """(len(held_out_rows),) bool: whether candidate ``name`` (default: the
        chosen one) predicted each held-out row's label out of fold."""
        probs = self.out_of_fold[name or self.chosen]
        return self.classes[probs.argmax(axis=1)] == self.held_out_labels

    def fit_predict(self, X, labelled, y, *, prior: TaxonomyZeroShot | None = None,
                    graph: sparse.spmatrix | None = None) -> np.ndarray:
        """Calibrated (N, C) probabilities for every row of ``X``, in ``classes`` order,
        from the chosen candidate fitted on every labelled row. Pass the same
        ``X``, ``labelled``, ``y``, ``prior`` and ``graph`` as to :func:`select_proposer`."""
        labelled = np.asarray(labelled, dtype=bool)
        if self.rule == "multi-label: head":
            head = CalibratedHead(C=self.params["C"], multilabel=True,
                                  random_state=self.params["random_state"])
            return head.fit(np.asarray(X)[labelled], [y[i] for i in np.flatnonzero(labelled)]).predict_proba(X)
        problem = _Problem(X, labelled, y, prior, graph, self.classes, self.params)
        probs = problem.predict(self.chosen, np.flatnonzero(labelled), self.temperatures)
        return temper_distributions(probs, self.temperatures[self.chosen])


def select_proposer(X, labelled, y, *, candidates=CANDIDATES, prior: TaxonomyZeroShot | None = None,
                    graph: sparse.spmatrix | None = None, cv: int = 5, C: float = 10.0,
                    alpha: float = 0.9, prior_strength: float = DEFAULT_PRIOR_STRENGTH, default: str | None = None,
                    random_state: int = 0) -> Selection:
    """Cross-validate ``candidates`` on the labelled rows of ``X`` (N, d); see the module docstring.

    ``labelled`` is an (N,) bool mask; ``y`` has N entries, read only where
    ``labelled`` (labels, or label lists for a multi-label project).
    ``prior`` is a fitted zero-shot model (needed by ``zero_shot``; makes the
    others use the taxonomy); ``graph`` is label spreading's normalised kNN
    graph of all N rows (``propagation.normalised_knn_graph``; needed by
    ``spreading`` and ``ensemble``, which are dropped without it).
    Deterministic for a given ``random_state``.
    """
    X = np.asarray(X)
    labelled = np.asarray(labelled)
    if labelled.dtype != bool or labelled.shape != (X.shape[0],):
        raise ValueError(f"labelled must be a bool mask of shape ({X.shape[0]},)")
    if len(y) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)} entries")
    unknown = set(candidates) - set(CANDIDATES)
    if unknown or not candidates:
        raise ValueError(f"candidates must be a non-empty subset of {CANDIDATES}, got {list(candidates)}")
    if not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ValueError(f"cv must be an integer >= 2, got {cv!r}")
    params = {"C": C, "alpha": alpha, "prior_strength": prior_strength, "random_state": random_state}
    rows = np.flatnonzero(labelled)
    if any(isinstance(y[i], (list, tuple, set)) for i in rows):
        # The head's MultiLabelBinarizer sorts the labels the same way: its columns are these classes.
        label_set = sorted({label for i in rows for label in y[i]})
        return Selection("head", np.array(label_set, dtype=object), {}, {"head": 1.0}, "multi-label: head", params)

    names = [c for c in candidates if (c != "zero_shot" or prior is not None)
             and (c not in ("spreading", "ensemble") or graph is not None)]
    if not names:
        raise ValueError("no candidate can run: zero_shot needs a prior, spreading and ensemble a graph")
    y_rows = np.array([y[i] for i in rows], dtype=object)
    classes = np.unique(np.concatenate([prior.classes_ if prior is not None else np.array([], dtype=object),
                                        y_rows]).astype(object)) if rows.size or prior is not None else None
    if classes is None or classes.size < 2:
        raise ValueError("need a prior or labels of at least 2 classes")
    if default is None:
        default = _default(names, prior)
    elif default not in names:
        raise ValueError(f"default {default!r} is not among the runnable candidates {names}")
    problem = _Problem(X, labelled, y, prior, graph, classes, params)
    codes = np.searchsorted(classes, y_rows)

    if rows.size == 0:
        if prior is None:
            raise ValueError("no labels and no prior: nothing to propose")
        # Transductive zero-shot when the graph allows it (see zero_shot.py), with the prior temperatures.
        chosen = "spreading" if "spreading" in names else "zero_shot"
        no_label_t = {"zero_shot": 1.0, "spreading": NO_LABEL_SPREADING_TEMPERATURE}
        return Selection(chosen, classes, {name: _empty_score() for name in names},
                         {name: no_label_t.get(name, 1.0) for name in names}, "no labels: zero-shot", params)

    folds = assign_folds(codes, cv, random_state)
    n_folds = int(folds.max()) + 1 if (folds >= 0).any() else 0
    held_out = folds >= 0
    # The ensemble is scored from its members' out-of-fold distributions, so they are computed once.
    fitted = [n for n in names if n != "ensemble"]
    if "ensemble" in names:
        fitted += [m for m in ("head", "spreading") if m not in fitted]
    oof = {name: np.zeros((rows.size, classes.size)) for name in fitted}  # (n_labelled, C)
    for k in range(n_folds):
        train, test = rows[folds != k], np.flatnonzero(folds == k)
        for name in fitted:
            oof[name][test] = problem.predict(name, train, None)[rows[test]]
    if "ensemble" in names:
        members = {m: _temperature(oof[m][held_out], codes[held_out]) for m in ("head", "spreading")}
        oof["ensemble"] = np.zeros((rows.size, classes.size))
        oof["ensemble"][held_out] = 0.5 * (temper_distributions(oof["head"][held_out], members["head"])
                                           + temper_distributions(oof["spreading"][held_out], members["spreading"]))
    temperatures: dict[str, float] = {}
    scores: dict[str, dict[str, Any]] = {}
    for name in names:
        if name == "zero_shot":  # it never trains on labels: every label is a held-out row
            temperatures[name] = _temperature(problem.zero_shot()[rows], codes)
        else:
            temperatures[name] = _temperature(oof[name][held_out], codes[held_out])
        p, t = oof[name][held_out], codes[held_out]
        scores[name] = _score(temper_distributions(p, temperatures[name]), t, n_folds) if t.size else _empty_score()
    if "ensemble" in names:
        temperatures.update({f"ensemble.{m}": t for m, t in members.items()})
    n_scored = int(held_out.sum())
    found: dict[str, Any] = {
        "held_out_rows": rows[held_out], "held_out_labels": classes[codes[held_out]],
        "out_of_fold": {name: temper_distributions(oof[name][held_out], temperatures[name]) if n_scored
                        else oof[name][held_out] for name in names},
    }
    if rows.size < MIN_LABELS_PER_CLASS * classes.size or n_scored < MIN_SCORED_ROWS:
        return Selection(default, classes, scores, temperatures, "few labels: default", params, **found)
    best = min(names, key=lambda n: (-scores[n]["accuracy"], scores[n]["log_loss"], names.index(n)))
    return Selection(best, classes, scores, temperatures, "cross-validation", params, **found)


def assign_folds(codes: np.ndarray, cv: int, random_state: int) -> np.ndarray:
    """Fold of each labelled row (n,), ``-1`` for a row never held out (its class has one label).

    Each class's rows are shuffled and dealt round-robin from a random first
    fold, so a class with two or more labels has them in different folds and
    folds stay balanced; deterministic in ``random_state``.
    """
    rng = np.random.default_rng(random_state)
    folds = np.full(codes.size, -1, dtype=np.int64)
    counts = np.bincount(codes) if codes.size else np.zeros(0, dtype=np.int64)
    for c in np.flatnonzero(counts >= 2):
        members = rng.permutation(np.flatnonzero(codes == c))
        folds[members] = (rng.integers(cv) + np.arange(members.size)) % cv
    used = np.unique(folds[folds >= 0])
    folds[folds >= 0] = np.searchsorted(used, folds[folds >= 0])  # drop empty folds
    return folds


def _default(names: list[str], prior) -> str:
    for name in (("spreading", "head", "zero_shot") if prior is not None else ("head", "spreading")):
        if name in names:
            return name
    return names[0]


def _temperature(p: np.ndarray, codes: np.ndarray) -> float:
    if codes.size == 0 or not (p[np.arange(codes.size), codes] > 0).any():
        return 1.0
    return fit_distribution_temperature(p, codes)


def _score(p: np.ndarray, codes: np.ndarray, n_folds: int) -> dict[str, Any]:
    true = p[np.arange(codes.size), codes]
    return {"accuracy": float((p.argmax(axis=1) == codes).mean()),
            "log_loss": float(-np.log(np.maximum(true, 1e-15)).mean()),
            "folds": n_folds, "rows_scored": int(codes.size)}


def _empty_score() -> dict[str, Any]:
    return {"accuracy": None, "log_loss": None, "folds": 0, "rows_scored": 0}


class _Problem:
    """The candidates' predictions for every row of ``X`` from a given set of training rows."""

    def __init__(self, X, labelled, y, prior, graph, classes, params):
        self.X = np.asarray(X, dtype=np.float64)
        self.y = y
        self.prior, self.graph, self.classes, self.params = prior, graph, classes, params
        if graph is not None and graph.shape != (self.X.shape[0],) * 2:
            raise ValueError(f"graph is {graph.shape}, X has {self.X.shape[0]} rows")
        self._zero_shot: np.ndarray | None = None

    def codes(self, rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.classes, np.array([self.y[i] for i in rows], dtype=object))

    def zero_shot(self) -> np.ndarray:
        """The prior's (N, C) distribution, computed once (it does not depend on labels)."""
        if self._zero_shot is None:
            assert self.prior is not None
            p = np.zeros((self.X.shape[0], self.classes.size))
            p[:, np.searchsorted(self.classes, self.prior.classes_)] = self.prior.predict_proba(self.X)
            self._zero_shot = p
        return self._zero_shot

    def predict(self, name: str, train: np.ndarray, temperatures) -> np.ndarray:
        """(N, C) distribution of candidate ``name`` trained on rows ``train``."""
        if name == "zero_shot":
            return self.zero_shot()
        if name == "head":
            return self._head(train)
        if name == "spreading":
            return self._spreading(train)
        if name == "ensemble":
            t = temperatures or {}
            head = temper_distributions(self._head(train), t.get("ensemble.head", 1.0))
            spread = temper_distributions(self._spreading(train), t.get("ensemble.spreading", 1.0))
            return 0.5 * head + 0.5 * spread
        raise ValueError(f"unknown candidate {name!r}")

    def _head(self, train: np.ndarray) -> np.ndarray:
        x, codes = self.X[train], self.codes(train)
        if self.prior is not None:  # each class's label-text prototype is one more row of it
            x = np.vstack([x, self.prior.prototypes_])
            codes = np.concatenate([codes, np.searchsorted(self.classes, self.prior.classes_)])
        p = np.zeros((self.X.shape[0], self.classes.size))
        seen = np.unique(codes)
        if seen.size == 1:
            p[:, seen[0]] = 1.0
            return p
        with warnings.catch_warnings():
            # One or two labels per class is the normal case early on, not a regression target.
            warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
            head = CalibratedHead(C=self.params["C"], calibration=None).fit(x, codes)
        p[:, head.classes_] = head.predict_proba(self.X)
        return p

    def _spreading(self, train: np.ndarray) -> np.ndarray:
        seeds = np.zeros((self.X.shape[0], self.classes.size))  # Y, (N, C)
        if self.prior is not None:
            unlabelled = np.ones(self.X.shape[0], dtype=bool)
            unlabelled[train] = False
            # The prior's total seed mass is prior_strength labels per class, spread over the rows
            # without a label: a pseudo-count that the labels outweigh as they accumulate.
            weight = self.params["prior_strength"] * self.classes.size / max(int(unlabelled.sum()), 1)
            seeds[unlabelled] = weight * self.zero_shot()[unlabelled]
        seeds[train, self.codes(train)] = 1.0
        f, _ = spread_labels(self.graph, seeds, self.params["alpha"])
        return normalise_rows(f)
