"""Drift between two sets of embeddings (e.g. last round's pool and this one's).

Two complementary two-sample tests:

- :func:`domain_classifier_auc`: how well a classifier tells the sets apart.
  0.5 means indistinguishable; 1.0 means fully separable. Easy to explain
  to a lead.
- :func:`mmd_rbf`: kernel maximum mean discrepancy, a distance between the
  distributions that needs no training and is 0 in expectation when they
  are equal.

Example::

    >>> import numpy as np
    >>> from ssl_engine.evaluation.drift import domain_classifier_auc, mmd_rbf
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 2.0
    >>> domain_classifier_auc(a, b, random_state=0) > 0.95
    True
    >>> mmd_rbf(a, b, random_state=0) > 0.1
    True
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state


def _check_pair(reference, current) -> tuple[np.ndarray, np.ndarray]:
    # No dtype conversion yet: a 100k x 384 float32 pool would double in float64
    # before being subsampled.
    a, b = np.asarray(reference), np.asarray(current)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"reference and current must be 2-D with the same width, got {a.shape} and {b.shape}")
    if not (np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number)):
        raise TypeError("embeddings must be numeric")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("embeddings contain NaN or infinite values")
    return a, b


def _subsample(x: np.ndarray, max_samples: int, rng: np.random.RandomState) -> np.ndarray:
    """At most ``max_samples`` rows of ``x`` drawn without replacement, as float64."""
    if x.shape[0] > max_samples:
        x = x[np.sort(rng.choice(x.shape[0], max_samples, replace=False))]
    return np.asarray(x, dtype=np.float64)


def domain_classifier_auc(
    reference,
    current,
    *,
    n_splits: int = 5,
    C: float = 1.0,
    max_samples: int = 10_000,
    random_state,
) -> float:
    """Cross-validated ROC AUC of a classifier separating ``current`` from ``reference``.

    The classifier two-sample test (Lopez-Paz & Oquab, "Revisiting Classifier
    Two-Sample Tests", ICLR 2017), used for dataset shift as the "domain
    classifier" of Rabanser, Günnemann & Lipton, "Failing Loudly", NeurIPS
    2019. A standardised L2-regularised logistic regression is fit in
    ``n_splits`` stratified folds; the AUC of its out-of-fold probabilities
    is ~0.5 when the sets come from the same distribution and approaches 1
    as they drift apart. AUC does not depend on the sets' sizes being equal.
    Each set is subsampled to ``max_samples`` rows.
    """
    a, b = _check_pair(reference, current)
    if min(a.shape[0], b.shape[0]) < n_splits:
        raise ValueError(f"each set needs at least n_splits={n_splits} rows")
    rng = check_random_state(random_state)
    a, b = _subsample(a, max_samples, rng), _subsample(b, max_samples, rng)
    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(a.shape[0]), np.ones(b.shape[0])])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=rng)
    out_of_fold = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, out_of_fold))


def median_heuristic_bandwidth(x, y) -> float:
    """RBF bandwidth ``sigma``: the median pairwise Euclidean distance in the
    pooled sample (Gretton et al., JMLR 2012, section 8; Garreau, Jitkrittum &
    Kanagawa, "Large sample analysis of the median heuristic", 2017)."""
    pooled = np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
    sigma = float(np.median(pdist(pooled)))
    if sigma <= 0:
        raise ValueError("median pairwise distance is 0 (mostly identical rows); pass bandwidth explicitly")
    return sigma


def mmd_rbf(
    reference,
    current,
    *,
    bandwidth: float | None = None,
    max_samples: int = 2_000,
    random_state,
) -> float:
    """Unbiased estimate of the squared MMD with a Gaussian (RBF) kernel.

    Gretton, Borgwardt, Rasch, Schölkopf & Smola, "A Kernel Two-Sample Test",
    JMLR 2012, eq. 3 (MMD^2_u)::

        MMD^2_u = mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j)

    with ``k(a, b) = exp(-|a - b|^2 / (2 sigma^2))``. ``bandwidth`` (sigma)
    defaults to :func:`median_heuristic_bandwidth`; pass a fixed one to
    compare values across rounds. Being unbiased, the estimate is ~0 for
    equal distributions and can be slightly negative; it is > 0 for shifted
    ones. Each set is subsampled to ``max_samples`` rows, because the kernel
    matrices are quadratic in memory.
    """
    x, y = _check_pair(reference, current)
    if min(x.shape[0], y.shape[0]) < 2:
        raise ValueError("each set needs at least 2 rows for the unbiased estimate")
    rng = check_random_state(random_state)
    x, y = _subsample(x, max_samples, rng), _subsample(y, max_samples, rng)
    sigma = median_heuristic_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    if not sigma > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    gamma = 1.0 / (2.0 * sigma**2)
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = rbf_kernel(x, x, gamma=gamma), rbf_kernel(y, y, gamma=gamma), rbf_kernel(x, y, gamma=gamma)
    # Off-diagonal means: the diagonal k(x_i, x_i) = 1 is what biases the plain V-statistic.
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2.0 * k_xy.mean())
