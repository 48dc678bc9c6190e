"""The default policy: TypiClust at cold start, cluster-balanced margin after.

Hacohen, Dekel & Weinshall (ICML 2022) show that the best strategy flips with
the budget: with few labels, typical and diverse items (TypiClust) beat
uncertainty, because a barely trained model's uncertainty is noise; with more
labels, uncertainty sampling wins, and spreading it over clusters keeps
batches diverse (Citovsky et al., NeurIPS 2021). In their experiments the
crossover sits at a few labels per class, so:

- TypiClust while ``n_labelled < cold_start_per_class * n_classes``
  (5 per class by default), or whenever there is no model yet (``probs`` is
  ``None``);
- cluster-balanced margin from then on.

``n_classes`` is ``probs.shape[1]`` when ``probs`` is given, else the
``n_classes`` keyword. All other keywords are passed to the chosen strategy.
:func:`choose` tells which strategy a call would run, so a round can record it.

Example::

    >>> from ssl_engine.active import auto
    >>> auto.choose(n_labelled=15, n_classes=3, has_probs=True)
    'cluster_margin'
    >>> auto.choose(n_labelled=4, n_classes=3, has_probs=True)
    'typiclust'
"""

from __future__ import annotations

import numpy as np

from . import cluster_margin, typiclust

COLD_START_PER_CLASS = 5


def choose(*, n_labelled: int, n_classes: int | None, has_probs: bool,
           cold_start_per_class: int = COLD_START_PER_CLASS) -> str:
    """Name of the strategy ``select`` runs for this state of the project."""
    if not has_probs:
        return "typiclust"
    if n_classes is None or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    return "typiclust" if n_labelled < cold_start_per_class * n_classes else "cluster_margin"


def select(
    *,
    probs=None,
    embeddings,
    labelled_mask,
    batch_size,
    random_state,
    multilabel=False,
    cold_start_per_class: int = COLD_START_PER_CLASS,
    n_classes: int | None = None,
    **context,
) -> np.ndarray:
    if probs is not None:
        n_classes = np.shape(probs)[1]
    name = choose(n_labelled=int(np.count_nonzero(labelled_mask)), n_classes=n_classes,
                  has_probs=probs is not None, cold_start_per_class=cold_start_per_class)
    strategy = typiclust.select if name == "typiclust" else cluster_margin.select
    return strategy(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                    random_state=random_state, multilabel=multilabel, n_classes=n_classes, **context)
