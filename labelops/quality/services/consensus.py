"""Consensus: an item's final labels, its agreement and its status.

Two methods:

- **Majority vote** (`on_overlap_reached`), computed in `submit`'s
  transaction (`answers.on_answer_submitted`) when a pool or holdout item
  gets its `rules.overlap`-th annotation: cheap, one item at a time. See `agreement.majority_vote`.
- **Dawid-Skene** (`dawid_skene.recompute_dawid_skene`), a project-level
  batch refinement run by a Celery task: weights every annotator by their
  estimated reliability (crowd-kit's `DawidSkene`) and settles items again.

Both end in `settle`, which applies the quality rules:

- agreement = mean similarity of the annotations with the final labels,
  with partial credit along the taxonomy tree (`agreement` module);
- a tie (no winner) is `disputed` and goes to review (reason `disputed`)
  when `rules.review_disputed`; agreement below `rules.agreement_threshold`
  is `disputed` and goes to review (`low_agreement`) when
  `rules.review_low_agreement`. A disputed item whose trigger is off stays
  `labelled` with a `disputed` consensus: it never trains until a Dawid-Skene
  pass or a reviewer settles it;
- otherwise the consensus is `agreed`. Then the review triggers for agreed
  items: a model proposal with `confidence >= rules.model_disagreement_confidence`
  and other labels (`model_disagreement`, when
  `rules.review_model_disagreement`), and an annotator of the item currently
  below the minimum gold accuracy (`annotator_below_gold`, see `gold`). If
  one fires the item goes to review with its consensus `agreed`;
- if none fires the consensus is **approved** and the item `approved`: with
  overlap 1, or agreement at or above the threshold, and no review trigger,
  "agreed" is approved (DESIGN: approved = agreed, accepted or fixed). Only
  `approved` consensus ever trains.
"""

from __future__ import annotations

from django.db.models import Q

from labelops.annotation.models import (
    Annotation,
    AnnotatorStats,
    Consensus,
    ConsensusMethod,
    ConsensusStatus,
    ReviewReason,
)
from labelops.audit.services import record
from labelops.items.models import Item, ItemState
from labelops.learning.models import ModelVersion, Proposal
from labelops.projects.models import Project, QualityRules, TaskType, TaxonomyVersion
from labelops.quality.services import bulk
from labelops.quality.services.agreement import item_agreement, majority_vote, taxonomy_parents
from labelops.quality.services.review import send_to_review


def on_overlap_reached(item: Item, *, project: Project, version: TaxonomyVersion, rules: QualityRules,
                       bulk_check: bool = True) -> None:
    """Called in `submit`'s transaction, with the item row locked
    (`answers.on_answer_submitted`), when a pool or holdout item gets its
    `rules.overlap`-th annotation and turns `labelled`: majority-vote
    consensus, then `settle`. The project, its active taxonomy version and
    its rules come as the submit read them. Not called for gold items (see
    `gold.check_gold`). `bulk_check`: see `settle`."""
    answers = Annotation.objects.answers(item)
    multi = project.task == TaskType.MULTI_LABEL
    order = [key for key, _ in version.label_tree]
    vote = majority_vote([labels for _, labels in answers], order, multi=multi)
    settle(item, project, version, answers, vote.labels, ConsensusMethod.MAJORITY, tie=vote.tie, rules=rules,
           bulk_check=bulk_check)


def settle(item: Item, project: Project, version: TaxonomyVersion, answers: list[tuple[int, list[str]]],
           labels: list[str], method: str, *, tie: bool = False, actor=None,
           rules: QualityRules | None = None, bulk_check: bool = True) -> Consensus:
    """Write the item's consensus (`labels` by `method`) and its final
    labels, and move the item on by the quality rules (module docstring;
    the project's, read here unless given). The caller holds the item row
    lock, so no one else writes the item's consensus meanwhile. Without
    `bulk_check` the caller knows no verifying bulk batch holds the item
    (`bulk.may_hold`), and `bulk.on_settled` is not asked."""
    rules = rules or QualityRules.objects.get(project=project)
    parents = taxonomy_parents(version)
    multi = project.task == TaskType.MULTI_LABEL
    label_lists = [answer for _, answer in answers]
    if labels:
        agreement = item_agreement(label_lists, labels, parents, multi=multi)
    else:  # nothing won: how far the best candidate got
        candidates = {label for answer in label_lists for label in answer}
        agreement = max((item_agreement(label_lists, [key], parents, multi=multi) for key in candidates),
                        default=0.0)
    agreement = round(agreement, 6)

    review_reason: str | None = None
    if tie or not labels:
        status = ConsensusStatus.DISPUTED
        review_reason = ReviewReason.DISPUTED if rules.review_disputed else None
    elif agreement < rules.agreement_threshold:
        status = ConsensusStatus.DISPUTED
        review_reason = ReviewReason.LOW_AGREEMENT if rules.review_low_agreement else None
    else:
        status = ConsensusStatus.AGREED
        review_reason = _agreed_trigger(item, rules, labels, [annotator for annotator, _ in answers])
        if review_reason is None:
            status = ConsensusStatus.APPROVED

    consensus, before = Consensus.objects.put(item.pk, labels=labels, method=method, agreement=agreement,
                                              status=status, taxonomy_version=version, review=None)
    record(actor=actor, verb="consensus.settle", obj=consensus, project=project, before=before,
           after={**consensus.to_dict(), "annotations": len(answers), "review_reason": review_reason})

    if review_reason is not None:
        send_to_review(item, review_reason, details={"agreement": agreement, "labels": list(labels)}, actor=actor,
                       consensus=consensus)
    else:
        item.state = ItemState.APPROVED if status == ConsensusStatus.APPROVED else ItemState.LABELLED
        item.save(update_fields=["state"])
    if bulk_check:
        bulk.on_settled(item, consensus, actor=actor)  # a sampled item of a bulk batch verifies it
    return consensus


def _agreed_trigger(item: Item, rules: QualityRules, labels: list[str], annotators: list[int]) -> str | None:
    """The review trigger that fires for an agreed consensus, if any."""
    if rules.review_model_disagreement:
        proposal = Proposal.objects.shown_with(item, ModelVersion.objects.active_round_id(item.project_id))
        if (proposal is not None and proposal.confidence is not None
                and proposal.confidence >= rules.model_disagreement_confidence
                and set(proposal.labels) != set(labels)):
            return ReviewReason.MODEL_DISAGREEMENT
    below = AnnotatorStats.objects.filter(
        Q(project_id=item.project_id, annotator_id__in=annotators, below_since__isnull=False))
    if below.exists():
        return ReviewReason.ANNOTATOR_BELOW_GOLD
    return None
