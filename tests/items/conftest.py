"""Opt-in builders for items, annotations, consensus and reviews, straight
through the ORM: the read APIs and exports are tested without depending on
the import pipeline or the annotation services.

Each builder is a fixture that returns a function, e.g.
`def test_x(project, make_item, finalize): finalize(make_item(project), ["bug"])`.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest

from labelops.annotation.models import Annotation, Consensus, FinalLabel, Review
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.models import Item, ItemState
from labelops.projects import services as project_services

_counter = itertools.count()


def _make_item(project, text: str | None = None, **fields) -> Item:
    """A text item (or an image item when `file=` is given) with a unique content hash."""
    if text is None and not fields.get("file"):
        text = f"item text {next(_counter)}"
    content = text if text is not None else fields["file"]
    fields.setdefault("content_hash", hashlib.sha256(f"{content}:{next(_counter)}".encode()).hexdigest())
    return Item.objects.create(project=project, text=text or "", **fields)


def _annotate(item, annotator, labels, **fields) -> Annotation:
    return Annotation.objects.create(
        item=item, annotator=annotator, labels=list(labels),
        taxonomy_version=item.project.active_taxonomy(), **fields,
    )


def _finalize(item, labels, *, status="approved", method="majority", agreement=1.0) -> Consensus:
    """Give `item` a consensus (and its FinalLabel rows); approved moves the item to approved."""
    consensus = Consensus.objects.create(
        item=item, labels=list(labels), method=method, agreement=agreement, status=status,
        taxonomy_version=item.project.active_taxonomy(),
    )
    FinalLabel.objects.bulk_create(FinalLabel(item=item, key=key) for key in labels)
    if status == "approved":
        Item.objects.filter(pk=item.pk).update(state=ItemState.APPROVED)
    return consensus


def _review(item, reviewer, decision="accept", labels=(), comment="") -> Review:
    return Review.objects.create(item=item, reviewer=reviewer, decision=decision, labels=list(labels), comment=comment)


def _labelled_item(project, labels, annotators, *, text=None, reviewer=None, **fields) -> Item:
    """An item that each of `annotators` labelled `labels`, with an approved consensus."""
    item = _make_item(project, text, **fields)
    for user in annotators:
        _annotate(item, user, labels)
    _finalize(item, labels, agreement=1.0)
    if reviewer is not None:
        _review(item, reviewer)
    item.refresh_from_db()
    return item


def _export_dataset(project, *, reviewer, annotator, annotator2) -> dict[str, Item]:
    """A small project covering every export case, by name:

    - `agreed`: both annotators said billing, reviewer accepted; approved.
    - `fixed`: annotators disagreed (one annotation later discarded), reviewer
      fixed to bug after first rejecting; approved by review, agreement 0.5.
    - `disputed`: a consensus that is not approved.
    - `unlabelled`: nothing yet.
    - `holdout`: an approved holdout item.
    """
    agreed = _make_item(project, "Card charged twice, refund?", external_id="t-1", metadata={"lang": "en", "n": 1})
    _annotate(agreed, annotator, ["billing"], time_spent_ms=1200)
    _annotate(agreed, annotator2, ["billing"])
    _finalize(agreed, ["billing"], agreement=1.0)
    _review(agreed, reviewer, "accept")

    fixed = _make_item(project, 'App crashes, says "oops",\nthen – ünïcode – quits')
    _annotate(fixed, annotator, ["other"], discarded=True)
    _annotate(fixed, annotator, ["billing"])
    _annotate(fixed, annotator2, ["bug"])
    _finalize(fixed, ["bug"], method="review", agreement=0.5)
    _review(fixed, reviewer, "reject")
    _review(fixed, reviewer, "fix", labels=["bug"])

    disputed = _make_item(project, "Is this billing or a bug?", external_id="t-3")
    _annotate(disputed, annotator, ["billing"])
    _annotate(disputed, annotator2, ["bug"])
    _finalize(disputed, ["billing"], status="disputed", agreement=0.5)

    unlabelled = _make_item(project, "Nobody has looked at me", external_id="t-4")

    holdout = _make_item(project, "Invoice missing", external_id="t-5", split="holdout", gold_labels=["billing"])
    _annotate(holdout, annotator2, ["billing"])
    _finalize(holdout, ["billing"], agreement=1.0)

    items = dict(agreed=agreed, fixed=fixed, disputed=disputed, unlabelled=unlabelled, holdout=holdout)
    for item in items.values():
        item.refresh_from_db()
    return items


@pytest.fixture
def make_item(db):
    return _make_item


@pytest.fixture
def annotate(db):
    return _annotate


@pytest.fixture
def finalize(db):
    return _finalize


@pytest.fixture
def review(db):
    return _review


@pytest.fixture
def labelled_item(db):
    return _labelled_item


@pytest.fixture
def labelled_items(project, reviewer, annotator, annotator2) -> dict[str, Item]:
    """The export test project: see `_export_dataset`."""
    return _export_dataset(project, reviewer=reviewer, annotator=annotator, annotator2=annotator2)


@pytest.fixture
def image_project(db, lead):
    """An image project with a cat/dog taxonomy, led by `lead`."""
    project = project_services.create_project(actor=lead, name="Pets", modality="image")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "cat"}, {"key": "dog"}])
    return project
