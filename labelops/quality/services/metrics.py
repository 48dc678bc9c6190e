"""Inter-annotator agreement metrics of a project, and their snapshot.

What is measured (`compute_metrics`): the live annotations in the active
taxonomy version on pool and holdout items that have at least two of them
(an item labelled once says nothing about agreement), at most `MAX_UNITS`
items, the newest first.

- Units and values. Single-label projects: one unit per item, its value the
  label. Multi-label projects: one unit per (item, label of the taxonomy),
  its value whether the annotator chose that label (0/1).
- Cohen's kappa for every annotator pair with at least `MIN_PAIR_UNITS`
  units in common: `(p_o - p_e) / (1 - p_e)`, `p_e` from each annotator's
  own label distribution over those units.
- Fleiss' kappa over the project, generalised to a varying number of
  annotators per unit: `P_u = (sum_j n_uj^2 - n_u) / (n_u (n_u - 1))`,
  `P = mean P_u`, `p_j = sum_u n_uj / sum_u n_u`, `P_e = sum_j p_j^2`,
  `kappa = (P - P_e) / (1 - P_e)`. Per label: the same on "this label or
  not" (one-vs-rest).
- Krippendorff's alpha (`alpha`, from its coincidence matrix; checked
  against the published reference values): nominal, and for single-label
  projects with the taxonomy distance `1 - c(a, b)`, where `c` is the label
  credit of `agreement` (siblings and parent/child 1/2 apart). Computed
  here rather than with the `krippendorff` package, which is GPL-3.0 in an
  Apache-2.0 project.
- 95% bootstrap confidence intervals of Fleiss' kappa and both alphas:
  `BOOTSTRAP_RESAMPLES` resamples of the units with replacement, drawn with
  `numpy.random.default_rng(BOOTSTRAP_SEED)`, percentile method.
- Gold accuracy of each annotator, from `AnnotatorStats`.

A metric that is undefined (no pairable units, a single category used by
everyone) is null.

Kept current incrementally: the API serves the stored `AgreementSnapshot`
with its time and the number of annotations newer than it; when there are
enough of them, or there is no snapshot yet, it queues the Celery task
`labelops.quality.tasks.refresh_agreement`, which recomputes and stores the
snapshot (when: `labelops.quality.services.schedule`). Requests never
compute metrics themselves.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from labelops.annotation.models import AgreementSnapshot, Annotation, AnnotatorStats, RecomputeKind
from labelops.items.models import Item, Split
from labelops.projects.models import Project, TaskType
from labelops.quality.services import schedule
from labelops.quality.services.agreement import label_credit, taxonomy_parents

MAX_UNITS = 20_000
MIN_PAIR_UNITS = 2
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 0


def compute_metrics(project: Project) -> tuple[dict, int]:
    """The metrics (module docstring) and the newest annotation id they include."""
    version = project.active_taxonomy()
    if version is None:
        return _empty(project), 0
    keys = list(version.labels.values_list("key", flat=True))
    multi = project.task == TaskType.MULTI_LABEL
    live = Annotation.objects.active().filter(taxonomy_version=version)
    items = list(
        Item.objects.for_project(project).filter(split__in=[Split.POOL, Split.HOLDOUT])
        .annotate(n=Count("annotations", filter=Q(annotations__in=live)))
        .filter(n__gte=2).order_by("-id").values_list("id", flat=True)[:MAX_UNITS]
    )
    rows = list(live.filter(item_id__in=items).values_list("id", "item_id", "annotator_id", "labels"))
    last_id = max((row[0] for row in rows), default=0)
    last_id = max(last_id, live.filter(item__project=project).aggregate(m=Max("id"))["m"] or 0)

    # unit -> {annotator: value index}
    units: dict = defaultdict(dict)
    for _, item_id, annotator_id, labels in rows:
        if multi:
            chosen = set(labels)
            for key in keys:
                units[(item_id, key)][annotator_id] = int(key in chosen)
        else:
            units[item_id][annotator_id] = keys.index(labels[0])
    n_values = 2 if multi else len(keys)
    unit_list = list(units.values())
    counts = np.zeros((len(unit_list), n_values), dtype=np.int64)
    for u, ratings in enumerate(unit_list):
        for value in ratings.values():
            counts[u, value] += 1

    distance = None
    if not multi:
        parents = taxonomy_parents(version)
        distance = np.array([[1.0 - label_credit(a, b, parents) for b in keys] for a in keys])

    metrics = {
        "units": len(unit_list),
        "items": len(items),
        "annotations": len(rows),
        "fleiss_kappa": fleiss_kappa(counts),
        "krippendorff_alpha": alpha(counts, None),
        "krippendorff_alpha_taxonomy": alpha(counts, distance) if distance is not None else None,
        "bootstrap": bootstrap(counts, distance),
        "per_label": per_label(units, keys, multi),
        "pairs": pair_kappas(unit_list),
        "gold_accuracy": [
            {"annotator": s.annotator_id, "username": s.annotator.username, "gold_seen": s.gold_seen,
             "gold_correct": s.gold_correct, "gold_accuracy": _round(s.gold_accuracy),
             "below_minimum": s.below_since is not None}
            for s in AnnotatorStats.objects.filter(project=project).select_related("annotator").order_by("annotator")
        ],
    }
    return metrics, last_id


def _empty(project: Project) -> dict:
    return {"units": 0, "items": 0, "annotations": 0, "fleiss_kappa": None, "krippendorff_alpha": None,
            "krippendorff_alpha_taxonomy": None, "bootstrap": None, "per_label": [], "pairs": [],
            "gold_accuracy": []}


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa of a (units, categories) count matrix; units rated fewer than twice are left out."""
    n = counts.sum(axis=1)
    counts, n = counts[n >= 2], n[n >= 2]
    if len(n) == 0:
        return None
    p_unit = ((counts ** 2).sum(axis=1) - n) / (n * (n - 1))
    p_bar = p_unit.mean()
    p_j = counts.sum(axis=0) / n.sum()
    p_e = (p_j ** 2).sum()
    if p_e >= 1:
        return None
    return _round((p_bar - p_e) / (1 - p_e))


def alpha(counts: np.ndarray, distance: np.ndarray | None) -> float | None:
    """Krippendorff's alpha from a (units, values) count matrix: nominal, or
    with a (V, V) distance matrix `delta` (0 on the diagonal).

    Units with fewer than two values are left out. With `m_u` values in unit
    u, the coincidence matrix is `o_ck = sum_u (n_uc n_uk - [c == k] n_uc) / (m_u - 1)`,
    `n_c = sum_k o_ck`, `n = sum_c n_c`, and
    `alpha = 1 - (n - 1) * sum_ck o_ck delta_ck / sum_ck n_c n_k delta_ck`
    (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011)."""
    counts = counts[counts.sum(axis=1) >= 2].astype(np.float64)
    if len(counts) == 0 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    delta = 1.0 - np.eye(counts.shape[1]) if distance is None else distance
    m = counts.sum(axis=1)
    coincidences = (np.einsum("uc,uk->ck", counts / (m - 1)[:, None], counts)
                    - np.diag((counts / (m - 1)[:, None]).sum(axis=0)))
    n_c = coincidences.sum(axis=1)
    expected = (np.outer(n_c, n_c) * delta).sum()
    if expected == 0:
        return None
    return _round(1.0 - (n_c.sum() - 1) * (coincidences * delta).sum() / expected)


def bootstrap(counts: np.ndarray, distance: np.ndarray | None) -> dict | None:
    """95% percentile intervals over `BOOTSTRAP_RESAMPLES` resamples of the units."""
    if len(counts) < 2:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws: dict[str, list[float | None]] = {"fleiss_kappa": [], "krippendorff_alpha": [],
                                            "krippendorff_alpha_taxonomy": []}
    for _ in range(BOOTSTRAP_RESAMPLES):
        sample = counts[rng.integers(0, len(counts), len(counts))]
        draws["fleiss_kappa"].append(fleiss_kappa(sample))
        draws["krippendorff_alpha"].append(alpha(sample, None))
        if distance is not None:
            draws["krippendorff_alpha_taxonomy"].append(alpha(sample, distance))
    intervals: dict[str, object] = {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "level": 0.95}
    for name, drawn in draws.items():
        values = [v for v in drawn if v is not None]
        intervals[name] = ([_round(float(np.percentile(values, 2.5))), _round(float(np.percentile(values, 97.5)))]
                           if values else None)
    return intervals


def per_label(units: dict, keys: list[str], multi: bool) -> list[dict]:
    """One-vs-rest Fleiss' kappa of each label and how often it was chosen."""
    result = []
    for index, key in enumerate(keys):
        if multi:  # units are (item, label): this label's units, value 1 = chosen
            ratings = [r for (_, unit_key), r in units.items() if unit_key == key]
            target = 1
        else:
            ratings, target = list(units.values()), index
        binary = np.array([[sum(v == target for v in r.values()), sum(v != target for v in r.values())]
                           for r in ratings], dtype=np.int64).reshape(-1, 2)
        result.append({"label": key, "chosen": int(binary[:, 0].sum()), "fleiss_kappa": fleiss_kappa(binary)})
    return result


def pair_kappas(unit_list: list[dict]) -> list[dict]:
    """Cohen's kappa of every annotator pair with `MIN_PAIR_UNITS` units in common."""
    tables: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for ratings in unit_list:
        for a, b in combinations(sorted(ratings), 2):
            tables[(a, b)][(ratings[a], ratings[b])] += 1
    result = []
    for (a, b), table in sorted(tables.items()):
        n = sum(table.values())
        if n < MIN_PAIR_UNITS:
            continue
        observed = sum(count for (x, y), count in table.items() if x == y) / n
        first: Counter[int] = Counter()
        second: Counter[int] = Counter()
        for (x, y), count in table.items():
            first[x] += count
            second[y] += count
        expected = sum(first[v] * second[v] for v in first) / (n * n)
        kappa = None if expected >= 1 else _round((observed - expected) / (1 - expected))
        result.append({"annotators": [a, b], "units": n, "observed_agreement": _round(observed),
                       "cohen_kappa": kappa})
    return result


# --- the snapshot --------------------------------------------------------------------


def refresh_snapshot(project: Project) -> AgreementSnapshot:
    """Recompute and store the project's metrics (the Celery task's work),
    and tell the schedule what they include. Safe to run twice: the second
    run stores the same numbers."""
    metrics, last_id = compute_metrics(project)
    with transaction.atomic():
        snapshot, _ = AgreementSnapshot.objects.select_for_update().get_or_create(project=project)
        snapshot.metrics, snapshot.computed_at = metrics, timezone.now()
        snapshot.save()
        schedule.finished(project.pk, RecomputeKind.AGREEMENT, last_annotation_id=last_id,
                          size=metrics["annotations"])
    return snapshot


def snapshot_for_request(project: Project) -> tuple[AgreementSnapshot, int, bool]:
    """The stored snapshot, the annotations newer than it, and whether a
    refresh was queued by this call (`schedule.for_read`: never computed,
    or enough new annotations, and none queued recently)."""
    snapshot, _ = AgreementSnapshot.objects.get_or_create(project=project)
    _, pending, queued = schedule.for_read(project, RecomputeKind.AGREEMENT)
    return snapshot, pending, queued
