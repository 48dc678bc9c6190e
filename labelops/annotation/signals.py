"""What the queue tells the quality rules, in the queue's own transaction.

The queue (`labelops.annotation`) sits one layer below the quality rules
(`labelops.quality`; docs/ARCHITECTURE.md, "Layers") and never imports
them. Two of its actions must still be judged by them before they commit:

- `answer_submitted`, sent by `submit` once the answer is recorded and its
  lease closed, with the item row locked: the quality rules settle the
  item's consensus when it has reached the overlap, check a gold answer,
  and schedule the project's recomputations;
- `item_dropped`, sent by `skip` under the `drop` policy: the item goes to
  review.

`labelops.quality` connects exactly one receiver to each (`QualityConfig.ready`,
receivers in `labelops.quality.services.answers`). They run synchronously
and their errors propagate, so a failing rule rolls the whole action back.
`send` refuses to send into the void: with no receiver connected (the
quality app not installed) it raises `ImproperlyConfigured`, never leaving
an answer silently unjudged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

from labelops.annotation.models import Annotation, Lease
from labelops.annotation.services.context import QueueContext
from labelops.items.models import Item
from labelops.projects.models import TaxonomyVersion

answer_submitted = Signal()  # sent with `answer=SubmittedAnswer(...)`
item_dropped = Signal()  # sent with `drop=DroppedItem(...)`


@dataclass(frozen=True)
class SubmittedAnswer:
    """An answer `submit` has just recorded (in its transaction, the item row locked)."""

    annotation: Annotation
    item: Item  # locked, its counters and state already updated
    lease: Lease  # closed by this submit
    # The project's, as the submit read it (the project with its rules).
    context: QueueContext
    # The active taxonomy version the answer was checked against.
    version: TaxonomyVersion
    # The item turned `labelled` with this answer (its `rules.overlap`-th): its consensus is due.
    reached_overlap: bool
    now: datetime


@dataclass(frozen=True)
class DroppedItem:
    """An item an annotator dropped from the queue (`skip`, policy `drop`; the item row locked)."""

    item: Item
    annotator: AbstractBaseUser
    reason: str


def send(signal: Signal, **payload) -> None:
    """Send `signal` to its receivers; raise if nobody listens (module docstring)."""
    if not signal.send(sender=None, **payload):
        raise ImproperlyConfigured(
            "no receiver for the queue's signal: add labelops.quality to INSTALLED_APPS "
            "(it judges every answer the queue records)")
