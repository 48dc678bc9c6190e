"""Helpers for the queue tests: items, rules, rounds with ranked proposals.

Opt-in fixtures only; the personas come from tests/conftest.py."""

from __future__ import annotations

import itertools

import pytest

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import ModelVersion, Proposal, ProposalSource, RoundState, TrainingRound
from labelops.projects import services as project_services

_counter = itertools.count()


class Always:
    """A stand-in random generator: `random()` always returns `value`."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value


def make_items(project, n: int, split: str = Split.POOL, **fields) -> list[Item]:
    state = fields.pop("state", ItemState.APPROVED if split == Split.GOLD else ItemState.UNLABELLED)
    items = []
    for _ in range(n):
        k = next(_counter)
        items.append(Item.objects.create(
            project=project, text=f"{split} text {k}", content_hash=f"hash-{project.pk}-{k}", split=split,
            state=state, **fields,
        ))
    return items


def set_rules(project, lead, **rules):
    """Quality rules for a test; gold off unless asked, so orders are exact."""
    project_services.update_rules(actor=lead, project=project, **{"gold_ratio": 0, **rules})


def activate_round(project, ranked: list[Item], others: list[Item] = (), labels=("bug",)) -> TrainingRound:
    """A finished round whose model is active, ranking `ranked` in that order
    and proposing (unranked) for `others`."""
    number = project.rounds.count() + 1
    round_ = TrainingRound.objects.create(project=project, number=number, state=RoundState.DONE)
    ModelVersion.objects.filter(project=project).update(is_active=False)
    ModelVersion.objects.create(project=project, round=round_, is_active=True)
    for rank, item in enumerate(ranked):
        Proposal.objects.create(item=item, round=round_, labels=list(labels), confidence=0.5 + rank / 100, rank=rank)
    for item in others:
        Proposal.objects.create(item=item, round=round_, labels=list(labels), confidence=0.9)
    return round_


def import_proposal(item, labels, confidence=0.8) -> Proposal:
    return Proposal.objects.create(item=item, round=None, source=ProposalSource.IMPORTED, labels=labels,
                                   confidence=confidence)


@pytest.fixture
def queue_project(project, lead):
    """The persona project with overlap 1 and no gold mixing."""
    set_rules(project, lead, overlap=1)
    return project


def label_item(project, annotator, labels, rng=None):
    """`annotator` takes their next item and submits `labels`; returns the annotation."""
    from labelops.annotation.services import next_item, submit

    claim = next_item(project=project, annotator=annotator, rng=rng)
    assert claim is not None, f"nothing served to {annotator}"
    return submit(lease_id=claim.lease.pk, annotator=annotator, labels=list(labels))


@pytest.fixture
def annotators(project, lead, annotator, annotator2, make_user):
    """Five annotators of the persona project: the two personas and three more."""
    extra = [make_user(f"annotator{n}") for n in (3, 4, 5)]
    for user in extra:
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    return [annotator, annotator2, *extra]


@pytest.fixture
def tree_project(db, lead, reviewer, annotator, annotator2, make_user):
    """A project with a two-level taxonomy: payments/{card, transfer}, account/{login, profile}."""
    project = project_services.create_project(actor=lead, name="Tree")
    create_taxonomy_version(actor=lead, project=project, labels=[
        {"key": "payments"}, {"key": "card", "parent": "payments"}, {"key": "transfer", "parent": "payments"},
        {"key": "account"}, {"key": "login", "parent": "account"}, {"key": "profile", "parent": "account"},
    ])
    project_services.add_member(actor=lead, project=project, user=reviewer, role="reviewer")
    for user in (annotator, annotator2):
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    return project
