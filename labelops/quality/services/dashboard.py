"""The lead's dashboard of a project: how far labelling has got, who is
doing it and how well, how much the model's proposals are trusted, and how
the model has improved round after round.

The numbers live in several tables (items, annotations, gold records,
leases, rounds, the agreement snapshot); `project_dashboard` gathers them
with a fixed number of aggregate queries whatever the project's size (no
loop over items or annotations in Python):

- progress: one GROUP BY (split, state) over the project's items;
- annotators: one GROUP BY annotator over live annotations (totals, the
  last 24 hours, counts by `source`, how many were shown a proposal), one
  windowed query for the median time spent (at most two rows per
  annotator), one over `AnnotatorStats` (gold accuracy) and one over the
  annotator memberships (so an annotator with no work yet is listed);
- agreement: the stored snapshot, served as the agreement endpoint serves
  it (`metrics.snapshot_for_request`: never recomputed here);
- learning curve: one query over the finished rounds' holdout metrics,
  written by `labelops.learning.pipeline.evaluate`, each point with its
  bootstrap intervals and whether it stands on enough holdout items to
  mean anything (`meaningful`; None for rounds from before it was kept);
- serving: one query for the active model's round: which proposer serves
  and why, the candidates' cross-validated scores, and its holdout figure
  (`labelops.learning.models.holdout_summary`, `proposer_summary`).

Proposal acceptance: of an annotator's live annotations whose lease showed
a proposal, the share submitted with the proposal's labels unchanged
(`proposal_accepted`); `proposal_edited` started from it and changed it,
`manual` ignored it (or had none).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from labelops.annotation.models import Annotation, AnnotationSource, AnnotatorStats, Lease, LeaseOutcome
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import ModelVersion, RoundState, TrainingRound, holdout_summary, proposer_summary
from labelops.projects.models import Membership, Project, Role
from labelops.quality.services.metrics import snapshot_for_request

RECENT = timedelta(hours=24)
SOURCES = [choice.value for choice in AnnotationSource]


def project_dashboard(project: Project) -> dict:
    """Everything the dashboard shows (module docstring). Read-only, except
    that serving the agreement snapshot may queue its refresh, exactly as the
    agreement endpoint does."""
    snapshot, pending, queued = snapshot_for_request(project)
    return {
        "generated_at": timezone.now(),
        "progress": progress(project),
        "annotators": annotator_table(project),
        "agreement": {"computed_at": snapshot.computed_at, "pending_annotations": pending,
                      "refresh_queued": queued, "metrics": snapshot.metrics},
        "learning_curve": learning_curve(project),
        "serving": serving_model(project),
    }


def _split_progress(counts: dict[str, int]) -> dict:
    total = sum(counts.values())
    approved = counts.get(ItemState.APPROVED, 0)
    in_review = counts.get(ItemState.IN_REVIEW, 0)
    # Labelled: reached the overlap, whatever became of it since (agreed,
    # in review or approved). Remaining: still needs annotations.
    labelled = counts.get(ItemState.LABELLED, 0) + in_review + approved
    return {"total": total, "labelled": labelled, "approved": approved, "in_review": in_review,
            "in_progress": counts.get(ItemState.IN_PROGRESS, 0), "remaining": total - labelled}


def progress(project: Project) -> dict:
    """Item counts per split (`pool`, `holdout`, `gold`), and `labelling`:
    pool and holdout together, the work people do. Gold items are left out
    of it: their answer is known from the start (they are approved on
    import), so they would make the project look further along than it is."""
    by_split: dict[str, dict[str, int]] = {split: {} for split in Split.values}
    rows = Item.objects.for_project(project).values("split", "state").annotate(n=Count("id")).order_by()
    for row in rows:
        by_split.setdefault(row["split"], {})[row["state"]] = row["n"]
    everything: dict[str, int] = defaultdict(int)
    for split in (Split.POOL, Split.HOLDOUT):
        for state, n in by_split[split].items():
            everything[state] += n
    result = {split: _split_progress(counts) for split, counts in by_split.items()}
    result["labelling"] = _split_progress(everything)
    return result


def _median_times(annotations) -> dict[int, float]:
    """Median `time_spent_ms` per annotator, in the database: each
    annotator's times numbered in order, keeping the middle one or two."""
    ranked = annotations.filter(time_spent_ms__isnull=False).annotate(
        position=Window(RowNumber(), partition_by=[F("annotator_id")],
                        order_by=[F("time_spent_ms").asc(), F("id").asc()]),
        timed=Window(Count("id"), partition_by=[F("annotator_id")]),
    )
    middle = ranked.filter(position__gte=(F("timed") + 1) / 2, position__lte=(F("timed") + 2) / 2)
    values: dict[int, list[int]] = defaultdict(list)
    for annotator_id, ms in middle.values_list("annotator_id", "time_spent_ms"):
        values[annotator_id].append(ms)
    return {annotator_id: sum(ms) / len(ms) for annotator_id, ms in values.items()}


def annotator_table(project: Project) -> list[dict]:
    """One row per annotator: every annotator member, and anyone else with
    live annotations or a gold record in the project (reviewers and leads
    label too), ordered by username."""
    live = Annotation.objects.active().for_project(project)
    shown = Lease.objects.filter(item=OuterRef("item"), annotator=OuterRef("annotator"),
                                 outcome=LeaseOutcome.SUBMITTED, proposal__isnull=False)
    since = timezone.now() - RECENT
    counts = {
        row["annotator"]: row
        for row in live.values("annotator").annotate(
            total=Count("id"),
            last_24h=Count("id", filter=Q(created_at__gte=since)),
            with_proposal=Count("id", filter=Q(Exists(shown))),
            **{source: Count("id", filter=Q(source=source)) for source in SOURCES},
        ).order_by()
    }
    medians = _median_times(live)
    stats = {s.annotator_id: s for s in AnnotatorStats.objects.filter(project=project)}
    members = Membership.objects.filter(project=project, role=Role.ANNOTATOR).values_list("user_id", flat=True)
    people = set(counts) | set(stats) | set(members)
    names = dict(get_user_model().objects.filter(pk__in=people).values_list("pk", "username"))

    rows = []
    for user_id in people:
        row = counts.get(user_id, {})
        gold = stats.get(user_id)
        accepted, with_proposal = row.get(AnnotationSource.PROPOSAL_ACCEPTED, 0), row.get("with_proposal", 0)
        rows.append({
            "annotator": user_id,
            "username": names.get(user_id, ""),
            "annotations": row.get("total", 0),
            "last_24h": row.get("last_24h", 0),
            "median_time_ms": medians.get(user_id),
            "gold_seen": gold.gold_seen if gold else 0,
            "gold_correct": gold.gold_correct if gold else 0,
            "gold_accuracy": gold.gold_accuracy if gold else None,
            "below_gold_minimum": bool(gold and gold.below_since is not None),
            "by_source": {source: row.get(source, 0) for source in SOURCES},
            "shown_proposal": with_proposal,
            "acceptance_rate": accepted / with_proposal if with_proposal else None,
        })
    return sorted(rows, key=lambda r: (r["username"], r["annotator"]))


def learning_curve(project: Project) -> list[dict]:
    """One point per finished (done) round that was evaluated on the holdout
    set, oldest first: its training labels against holdout accuracy and
    macro-F1, with their intervals and whether the point is meaningful.
    Multi-label rounds report subset accuracy as `accuracy`."""
    rounds = (TrainingRound.objects.for_project(project).filter(state=RoundState.DONE)
              .order_by("number").values_list("number", "finished_at", "metrics__holdout"))
    points = []
    for number, finished_at, holdout in rounds:
        summary = holdout_summary(holdout)
        if summary is None or not summary["evaluated"] or summary["accuracy"] is None:
            continue
        points.append({"round": number, "finished_at": finished_at, "train_labels": holdout.get("train_labels"),
                       "holdout_items": summary["items"], "accuracy": summary["accuracy"],
                       "accuracy_ci": summary["accuracy_ci"], "macro_f1": summary["macro_f1"],
                       "macro_f1_ci": summary["macro_f1_ci"], "meaningful": summary["meaningful"],
                       "min_items": summary["min_items"]})
    return points


def serving_model(project: Project) -> dict | None:
    """The active model (the one whose proposals and ranking the queue
    serves), or None before the first: its round, the proposer that round
    chose and why, the candidates it weighed (best first), and its holdout
    summary. A round from before these were recorded has `proposer` None,
    an empty reason and no candidates; `holdout` is None when absent."""
    row = (ModelVersion.objects.filter(project=project, is_active=True)
           .values_list("round__number", "round__metrics__proposer", "round__metrics__holdout").first())
    if row is None:
        return None
    number, proposer, holdout = row
    chosen = proposer_summary(proposer) or {"chosen": None, "reason": "", "labels": None, "candidates": []}
    return {"round": number, "proposer": chosen["chosen"], "reason": chosen["reason"], "labels": chosen["labels"],
            "candidates": chosen["candidates"], "holdout": holdout_summary(holdout)}
