"""What the quality rules do when the queue moves: the receivers of the
queue's signals (`labelops.annotation.signals`), connected by
`QualityConfig.ready`.

- `on_answer_submitted`, in `submit`'s transaction with the item row locked:
  a pool or holdout item that reached the overlap gets its consensus
  (`consensus.on_overlap_reached`; counted toward a bulk batch's sample
  only if a batch may hold the item, `bulk.may_hold`); a gold answer is
  checked against the known one (`gold.check_gold`); once the transaction
  commits, a Dawid-Skene pass is queued if enough annotations came in
  (`schedule.after_submit`: after the commit, so the pass sees this
  annotation and the check stays out of the item lock).
- `on_item_dropped`, in `skip`'s transaction: the item goes to review
  (reason `dropped`).
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from labelops.annotation.models import ReviewReason
from labelops.annotation.signals import DroppedItem, SubmittedAnswer
from labelops.items.models import Split
from labelops.quality.services import bulk, consensus, gold, schedule
from labelops.quality.services.review import send_to_review


def on_answer_submitted(sender, *, answer: SubmittedAnswer, **kwargs) -> None:
    context, item = answer.context, answer.item
    project, rules = context.project, context.rules
    if answer.reached_overlap:
        consensus.on_overlap_reached(item, project=project, version=answer.version, rules=rules,
                                     bulk_check=bulk.may_hold(context, answer.lease))
    if item.split == Split.GOLD:
        gold.check_gold(project=project, item=item, annotation=answer.annotation, rules=rules, now=answer.now)
    transaction.on_commit(partial(schedule.after_submit, project.pk, answer.annotation.pk,
                                  context.dawid_skene_due_at, context.dawid_skene_queued_at))


def on_item_dropped(sender, *, drop: DroppedItem, **kwargs) -> None:
    send_to_review(drop.item, ReviewReason.DROPPED, details={"annotator": drop.annotator.pk, "reason": drop.reason},
                   actor=drop.annotator)
