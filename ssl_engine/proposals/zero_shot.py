"""Zero-shot proposals from the taxonomy: label descriptions as class prototypes.

Before any human label exists, the taxonomy is the only supervision: each
label's name, its path of ancestor names, its guideline and any example
strings. Embedded by the project's text encoder they sit in the same space as
the items, so an item can be scored against every label by cosine, the
"dataless classification" of Chang, Ratinov, Roth & Srikumar (AAAI 2008) and
the prototype rule of prototypical networks (Snell, Swersky & Zemel, NeurIPS
2017), with sentence embeddings for both sides (Reimers & Gurevych, EMNLP
2019). With MiniLM, label names alone give 62% on BANKING77.

Transductive smoothing. Spreading every item's zero-shot distribution over
the items' kNN graph (Zhou et al., NIPS 2004; ``propagation.spread_labels``
with the zero-shot probabilities as seeds) lets neighbours vote: on the
train splits, 10 neighbours, alpha 0.9, it lifts BANKING77 from 61.6 to
66.7% and SMS spam from 60.5 to 67.4% (alpha 0.99 over-smooths both). It
is the ``spreading`` candidate of :mod:`ssl_engine.proposals.selection`
with no label, seeded by this model.

How the scores become probabilities: ``softmax(cos / T)``, temperature
scaling (Guo et al., ICML 2017; :mod:`ssl_engine.proposals.temperature`)
applied to the cosines. Cosines of one encoder live on one scale (for MiniLM
the gap between the best and second-best label is a few hundredths), so one
``T`` is what turns them into honest confidences:

- with no labels, ``T`` is :data:`DEFAULT_TEMPERATURE`, a prior chosen on
  the *train* splits of BANKING77 (77 intents) and SMS spam (2 classes) with
  MiniLM and label-name prototypes (``python -m ssl_engine bench zero-shot``,
  ``ssl_engine/bench/results/zero_shot_*.json``): the NLL-optimal ``T`` is
  0.06 on BANKING77 and 0.19 on SMS spam, and 0.08 keeps both within 6% of
  their optimal NLL (0.06 costs SMS spam 14%, 0.1 costs BANKING77 17%). It
  is a property of the encoder's cosine scale: another encoder needs its
  own (or labels, below);
- once labels exist, :meth:`TaxonomyZeroShot.calibrate` refits ``T`` by NLL
  on them. The prototypes never see those labels, so every labelled row is a
  held-out row and no folds are needed.

Prototypes. A class's description rows (several allowed) are L2-normalised,
averaged and normalised again: the mean direction of its descriptions (the
prototypical-network prototype). Classes are those of ``y_desc``; an item is
scored against every class, and the classes' order is ``classes_``.

Which texts: :func:`taxonomy_texts` turns a taxonomy into the rows. See its
docstring for what is used and why.

Example::

    >>> texts, keys = taxonomy_texts([{"key": "card", "name": "Card"},
    ...                               {"key": "lost", "name": "Lost card", "parent": "card",
    ...                                "guideline": "The customer lost the card or it was stolen."}])
    >>> texts
    ['Card', 'Lost card', 'Card > Lost card', 'The customer lost the card or it was stolen.']
    >>> zs = TaxonomyZeroShot().fit(encoder.embed(texts), keys)     # prototypes (C, d)
    >>> probs = zs.predict_proba(x_items)                            # (N, C), rows sum to 1
    >>> zs.calibrate(x_labelled, y_labelled)                         # T refitted by NLL once labels exist
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._labels import encode_labels
from .temperature import fit_temperature, softmax

#: ``T`` used before any label exists (see the module docstring for how it was chosen).
DEFAULT_TEMPERATURE = 0.08

#: The parts of a label :func:`taxonomy_texts` may use, in the order rows are emitted.
TEXT_PARTS = ("name", "path", "guideline", "examples")


def taxonomy_texts(labels: Iterable[Mapping], *, parts: Sequence[str] = TEXT_PARTS
                   ) -> tuple[list[str], np.ndarray]:
    """``(texts, classes)``: the description rows of a taxonomy and the label key of each.

    ``labels`` are dicts with ``key`` and ``name`` and optionally ``parent``
    (the parent's key or None), ``guideline`` (str) and ``examples`` (list of
    str), as ``Label.to_dict()`` gives them. For each label, with ``parts``
    choosing which kinds are emitted:

    - ``name``: the name (the key when the name is empty), with ``_`` read as
      a space. Names alone carry most of the signal;
    - ``path``: ``"Grand > Parent > Name"``, only for a label that has
      ancestors (without one it would repeat the name and double its weight).
      A leaf called "Other" or "Limits" means little without its parent;
    - ``guideline``: the guideline text, when not blank. It describes the
      intent in sentences, closer to what items look like than a name is;
    - ``examples``: every non-blank example string, as it is: examples are
      items, the closest thing to a labelled row the taxonomy has.

    Measured on the BANKING77 train split (``bench zero-shot``): names alone
    61.6%, names and paths 62.0% (with a one-level hierarchy invented for the
    measurement, ``bench/results/banking77_parents.json``: the dataset has
    none, nor guidelines or examples). All parts are used by default: each
    is the taxonomy's own description of the label, and none needs tuning.

    Every row weighs the same in the class's prototype (a mean), so a label
    with ten examples leans towards its examples, which is the intent: they
    are the most item-like evidence. The rows of a label are consecutive, in
    the order of ``parts``. Raises ``ValueError`` on a missing or repeated
    key, an unknown parent or a parent cycle.
    """
    unknown = set(parts) - set(TEXT_PARTS)
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of {TEXT_PARTS}, got {list(parts)}")
    by_key: dict[str, Mapping] = {}
    for label in labels:
        key = label.get("key")
        if not isinstance(key, str) or not key:
            raise ValueError(f"every label needs a non-empty string key, got {label!r}")
        if key in by_key:
            raise ValueError(f"label key {key!r} appears twice")
        by_key[key] = label
    texts: list[str] = []
    classes: list[str] = []
    for key, label in by_key.items():
        name = _name(label)
        rows = []
        if "name" in parts:
            rows.append(name)
        ancestors = _ancestor_names(key, by_key)
        if "path" in parts and ancestors:
            rows.append(" > ".join([*ancestors, name]))
        guideline = (label.get("guideline") or "").strip()
        if "guideline" in parts and guideline:
            rows.append(guideline)
        if "examples" in parts:
            rows.extend(e.strip() for e in label.get("examples") or [] if isinstance(e, str) and e.strip())
        if not rows:  # e.g. parts=("guideline",) and no guideline: the name keeps the class scorable
            rows.append(name)
        texts.extend(rows)
        classes.extend([key] * len(rows))
    return texts, np.array(classes, dtype=object)


def _name(label: Mapping) -> str:
    # Underscores read as spaces: a label named after its key ("card_arrival",
    # what the platform stores when a lead gives no name) is read as the words
    # it spells, as the encoder saw such words in training: on 2,000 items of
    # the BANKING77 train split, names alone score 62.5% as "card_arrival"
    # and 64.3% as "card arrival" (capitalised: the same).
    name = (label.get("name") or "").strip() or str(label["key"])
    return " ".join(name.replace("_", " ").split())


def _ancestor_names(key: str, by_key: Mapping[str, Mapping]) -> list[str]:
    """Names from the root down to ``key``'s parent."""
    names: list[str] = []
    seen = {key}
    parent = by_key[key].get("parent")
    while parent is not None:
        if parent not in by_key:
            raise ValueError(f"label {key!r} has unknown ancestor {parent!r}")
        if parent in seen:
            raise ValueError(f"the parents of label {key!r} form a cycle")
        seen.add(parent)
        names.append(_name(by_key[parent]))
        parent = by_key[parent].get("parent")
    return names[::-1]


class TaxonomyZeroShot(ClassifierMixin, BaseEstimator):
    """Cosine to per-class description prototypes, softmax with a temperature.

    Parameters
    ----------
    temperature : float
        ``T`` of ``softmax(cos / T)`` until :meth:`calibrate` refits it.

    Attributes
    ----------
    classes_ : ndarray (C,)
        Sorted distinct labels of ``y_desc``.
    prototypes_ : ndarray (C, d)
        Unit-norm mean direction of each class's description rows.
    n_descriptions_ : ndarray (C,)
        Description rows per class.
    temperature_ : float
    calibrated_ : bool
        True once :meth:`calibrate` fitted ``temperature_`` on labels.
    n_calibration_ : int
        Labelled rows the temperature was fitted on (0 before calibrating).
    n_features_in_ : int
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE):
        self.temperature = temperature

    def fit(self, X, y) -> TaxonomyZeroShot:
        """Build prototypes from description embeddings ``X`` (M, d) and their classes ``y`` (M,)."""
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature!r}")
        with warnings.catch_warnings():
            # One description per class is the normal case here, not a regression target in disguise.
            warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=True)
            self.classes_, codes = encode_labels(y)
        unit = _unit_rows(np.asarray(X, dtype=np.float64))
        sums = np.zeros((self.classes_.size, unit.shape[1]))  # (C, d)
        np.add.at(sums, codes, unit)
        self.prototypes_ = _unit_rows(sums)
        self.n_descriptions_ = np.bincount(codes, minlength=self.classes_.size)
        self.temperature_ = float(self.temperature)
        self.calibrated_, self.n_calibration_ = False, 0
        return self

    def cosine(self, X) -> np.ndarray:
        """Cosine of each row of ``X`` to each class prototype, (N, C) in [-1, 1]."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _unit_rows(np.asarray(X, dtype=np.float64)) @ self.prototypes_.T

    def logits(self, X) -> np.ndarray:
        """Uncalibrated scores (N, C): the cosines (``softmax(logits / temperature_)`` is
        :meth:`predict_proba`), the same contract as ``CalibratedHead.logits``."""
        return self.cosine(X)

    def calibrate(self, X, y) -> TaxonomyZeroShot:
        """Refit ``temperature_`` by NLL on labelled rows ``X`` (n, d), ``y`` (n,).

        Rows whose label is not one of ``classes_`` are ignored (a label the
        taxonomy no longer has says nothing about these prototypes). With no
        usable row the temperature is left as it is. Returns self.
        """
        check_is_fitted(self)
        y = np.asarray(y)
        X = np.asarray(X)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        known = np.isin(y, self.classes_)
        if not known.any():
            return self
        z = self.cosine(X[known])  # (n', C)
        self.temperature_ = fit_temperature(z, np.searchsorted(self.classes_, y[known]))
        self.calibrated_, self.n_calibration_ = True, int(known.sum())
        return self

    def predict_proba(self, X) -> np.ndarray:
        """``softmax(cos / temperature_)``, (N, C) in ``classes_`` order."""
        return softmax(self.cosine(X) / self.temperature_)

    def predict(self, X) -> np.ndarray:
        """The most similar class of each row, (N,)."""
        cos = self.cosine(X)  # first: it raises NotFittedError before classes_ exists
        return self.classes_[cos.argmax(axis=1)]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; a zero row stays zero (it has no direction to score)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
