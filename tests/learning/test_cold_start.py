"""The cold-start round: a project with items and no model gets a round by
itself (after an import, or at the next beat), unless a lead turned it off."""

from __future__ import annotations

import pytest

from labelops.audit.models import AuditEvent
from labelops.learning.models import ModelVersion, TrainingRound
from labelops.learning.services.auto_rounds import needs_cold_start, start_cold_start_round, start_due_rounds
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def test_a_project_without_a_model_gets_a_round_by_itself(round_project):
    assert needs_cold_start(round_project)
    [round_id] = start_due_rounds()
    training_round = TrainingRound.objects.get(pk=round_id)
    assert training_round.project == round_project and training_round.created_by is None
    event = AuditEvent.objects.get(verb="round.start", object_id=str(round_id))
    assert event.actor is None and event.after["trigger"] == "cold_start"


def test_a_lead_can_turn_it_off(round_project, lead):
    project_services.update_project(actor=lead, project=round_project, settings={"cold_start_round": False})
    round_project.refresh_from_db()
    assert not needs_cold_start(round_project)
    assert start_cold_start_round(round_project.pk) is None and start_due_rounds() == []


def test_a_project_with_a_model_or_a_round_in_flight_gets_none(round_project):
    assert start_cold_start_round(round_project.pk) is not None
    assert start_cold_start_round(round_project.pk) is None  # the first is still queued
    TrainingRound.objects.filter(project=round_project).update(state="done")
    ModelVersion.objects.create(project=round_project, round=TrainingRound.objects.get(project=round_project),
                                is_active=True)
    assert start_due_rounds() == []


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_a_failed_or_cancelled_cold_start_waits_for_a_lead(round_project, state):
    TrainingRound.objects.create(project=round_project, number=1, state=state)
    assert not needs_cold_start(round_project)
    assert start_due_rounds() == []


def test_an_empty_or_missing_project_gets_none(lead, round_project):
    empty = project_services.create_project(actor=lead, name="Empty")
    assert not needs_cold_start(empty)
    assert start_cold_start_round(10**9) is None
    [round_id] = start_due_rounds()
    assert TrainingRound.objects.get(pk=round_id).project == round_project


def test_a_later_import_before_any_answer_gets_its_own_round(round_project, annotator):
    from labelops.annotation.models import Annotation
    from labelops.items.models import Item, Split
    from tests.learning.conftest import _item

    first = TrainingRound.objects.create(project=round_project, number=1, state="done",
                                         metrics={"items": Item.objects.filter(project=round_project).count()})
    ModelVersion.objects.create(project=round_project, round=first, is_active=True)
    assert not needs_cold_start(round_project)  # the model has seen every item
    item = _item(round_project, "a second file's first query", Split.POOL, "unlabelled")
    assert needs_cold_start(round_project)
    Annotation.objects.create(item=item, annotator=annotator, labels=["billing"],
                              taxonomy_version=round_project.active_taxonomy())
    assert not needs_cold_start(round_project)  # past the cold start: the next retraining round takes them
