"""Automatic rounds: a project with `auto_round_every = N` gets a round once
it has N more approved training labels than its last done round.
(The cold-start round of a project without a model: test_cold_start.py.)"""

from __future__ import annotations

import pytest

from labelops.audit.models import AuditEvent
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import TrainingRound
from labelops.learning.services.auto_rounds import approved_training_labels, start_due_rounds
from labelops.projects import services as project_services
from tests.learning.conftest import approve

pytestmark = pytest.mark.django_db


@pytest.fixture
def retraining_project(round_project, lead):
    """`round_project` with the cold-start round off, so only the
    retraining rule can start a round."""
    project_services.update_project(actor=lead, project=round_project, settings={"cold_start_round": False})
    return round_project


def every(project, lead, n):
    project_services.update_project(actor=lead, project=project, settings={"auto_round_every": n})


def approve_unlabelled(project, n, split=Split.POOL):
    items = Item.objects.filter(project=project, split=split, state=ItemState.UNLABELLED).order_by("pk")[:n]
    for item in items:
        approve(item, "billing")


def test_labels_that_count_are_approved_pool_and_gold(retraining_project):
    # The fixture approves 12 pool and 12 holdout items.
    assert approved_training_labels(retraining_project) == 12
    item = Item.objects.filter(project=retraining_project, split=Split.POOL, state=ItemState.UNLABELLED).first()
    Item.objects.filter(pk=item.pk).update(split=Split.GOLD)
    approve(item, "bug")
    assert approved_training_labels(retraining_project) == 13


def test_a_project_without_the_setting_never_starts_a_round(retraining_project):
    assert start_due_rounds() == []
    assert not TrainingRound.objects.exists()


def test_the_first_round_starts_once_n_labels_are_approved(retraining_project, lead):
    every(retraining_project, lead, 13)
    assert start_due_rounds() == []
    every(retraining_project, lead, 12)
    [round_id] = start_due_rounds()
    training_round = TrainingRound.objects.get(pk=round_id)
    assert training_round.project == retraining_project and training_round.state == "queued"
    assert training_round.created_by is None
    # Configured like any round: the project's settings, frozen.
    assert training_round.config["batch_size"] == 10 and training_round.config["pretraining"] is False
    event = AuditEvent.objects.get(verb="round.start", object_id=str(round_id))
    assert event.actor is None and event.after["trigger"] == "auto"


def test_nothing_starts_while_a_round_runs(retraining_project, lead):
    every(retraining_project, lead, 1)
    assert len(start_due_rounds()) == 1
    approve_unlabelled(retraining_project, 5)
    assert start_due_rounds() == []
    assert TrainingRound.objects.count() == 1


def test_counts_from_the_last_done_round(retraining_project, lead):
    every(retraining_project, lead, 3)
    TrainingRound.objects.create(project=retraining_project, number=1, state="done", labels_count=12)
    assert start_due_rounds() == []
    approve_unlabelled(retraining_project, 2)
    approve_unlabelled(retraining_project, 4, split=Split.HOLDOUT)  # evaluation only: never counts
    assert start_due_rounds() == []
    approve_unlabelled(retraining_project, 1)
    [round_id] = start_due_rounds()
    assert TrainingRound.objects.get(pk=round_id).number == 2


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_a_failed_or_cancelled_round_waits_for_a_lead(retraining_project, lead, state):
    every(retraining_project, lead, 1)
    TrainingRound.objects.create(project=retraining_project, number=1, state="done", labels_count=2)
    TrainingRound.objects.create(project=retraining_project, number=2, state=state, labels_count=12)
    assert start_due_rounds() == []
    # A lead's round finishes: automatic rounds resume, counting from it.
    TrainingRound.objects.create(project=retraining_project, number=3, state="done", labels_count=12)
    assert start_due_rounds() == []
    approve_unlabelled(retraining_project, 1)
    assert len(start_due_rounds()) == 1


def test_one_broken_project_does_not_stop_the_others(retraining_project, lead, caplog):
    broken = project_services.create_project(actor=lead, name="Broken")
    # Written around the service (an old row, a hand edit): not a valid round configuration.
    type(broken).objects.filter(pk=broken.pk).update(settings={"auto_round_every": 1, "batch_size": 0})
    every(retraining_project, lead, 1)
    [round_id] = start_due_rounds()
    assert TrainingRound.objects.get(pk=round_id).project == retraining_project
    assert not TrainingRound.objects.filter(project=broken).exists()
    assert f"project {broken.pk}: no automatic round: batch_size must be between" in caplog.text


def test_running_it_twice_starts_one_round(retraining_project, lead):
    every(retraining_project, lead, 1)
    first, second = start_due_rounds(), start_due_rounds()
    assert len(first) == 1 and second == []
