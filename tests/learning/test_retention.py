"""Retention of round artifacts: old rounds' folders go, the newest finished
rounds', the active model's and a running round's stay."""

from __future__ import annotations

import pytest
from django.db import transaction

from labelops.audit.models import AuditEvent
from labelops.learning import artifacts
from labelops.learning.models import ModelVersion, TrainingRound
from labelops.learning.services.retention import prune_round_artifacts

pytestmark = pytest.mark.django_db


def make_round(project, number: int, state: str, files=("snapshot.npz", "head.safetensors")) -> TrainingRound:
    """A round with its files on disk, referenced as the steps reference them."""
    folder = artifacts.project_dir(project.pk) / str(number)
    folder.mkdir(parents=True)
    stored = {}
    for name in files:
        (folder / name).write_bytes(b"x" * 16)
        stored[name.split(".")[0]] = artifacts.relative(folder / name)
    return TrainingRound.objects.create(project=project, number=number, state=state, artifacts=stored)


def folder_of(training_round):
    return artifacts.project_dir(training_round.project_id) / str(training_round.number)


@pytest.fixture
def history(project, artifact_root, settings):
    """Round 1 done (its model still active), 2 failed, 3 cancelled, 4 done,
    5 failed, 6 running; two finished rounds kept."""
    settings.ROUND_ARTIFACT_RETENTION = 2
    states = ["done", "failed", "cancelled", "done", "failed", "embedding"]
    made = {n: make_round(project, n, state) for n, state in enumerate(states, start=1)}
    ModelVersion.objects.create(project=project, round=made[1], is_active=True)
    ModelVersion.objects.create(project=project, round=made[4], is_active=False)
    return made


def test_old_rounds_lose_their_files_and_the_rest_keep_them(project, history, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert prune_round_artifacts(project) == [2, 3]
    for number in (2, 3):
        history[number].refresh_from_db()
        assert history[number].artifacts == {} and not folder_of(history[number]).exists()
    # The active model's round, the two newest finished and the running one.
    for number in (1, 4, 5, 6):
        history[number].refresh_from_db()
        assert set(history[number].artifacts) == {"snapshot", "head"}
        assert all(artifacts.resolve(path).exists() for path in history[number].artifacts.values())
    events = AuditEvent.objects.filter(verb="round.artifacts_removed").order_by("id")
    assert [(e.object_id, e.before["artifacts"], e.actor) for e in events] == [
        (str(history[2].pk), ["head", "snapshot"], None), (str(history[3].pk), ["head", "snapshot"], None),
    ]
    assert all(e.project_id == project.pk for e in events)


def test_pruning_again_changes_nothing(project, history, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        prune_round_artifacts(project)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert prune_round_artifacts(project) == []
    assert callbacks == []
    assert AuditEvent.objects.filter(verb="round.artifacts_removed").count() == 2


def test_when_the_active_model_moves_on_its_old_round_goes_too(project, history, django_capture_on_commit_callbacks):
    ModelVersion.objects.filter(round=history[1]).update(is_active=False)
    ModelVersion.objects.filter(round=history[4]).update(is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert prune_round_artifacts(project) == [1, 2, 3]
    assert not folder_of(history[1]).exists() and folder_of(history[4]).exists()


def test_a_folder_nothing_references_is_removed_without_an_event(project, artifact_root, settings,
                                                                 django_capture_on_commit_callbacks):
    settings.ROUND_ARTIFACT_RETENTION = 1
    # Round 1 failed before any step referenced a file, but left a checkpoint.
    orphan = make_round(project, 1, "failed")
    TrainingRound.objects.filter(pk=orphan.pk).update(artifacts={})
    make_round(project, 2, "done")
    with django_capture_on_commit_callbacks(execute=True):
        assert prune_round_artifacts(project) == [1]
    assert not folder_of(orphan).exists()
    assert not AuditEvent.objects.filter(verb="round.artifacts_removed").exists()


def test_fewer_finished_rounds_than_kept_prunes_nothing(project, artifact_root, settings,
                                                        django_capture_on_commit_callbacks):
    settings.ROUND_ARTIFACT_RETENTION = 3
    made = [make_round(project, 1, "failed"), make_round(project, 2, "cancelled"), make_round(project, 3, "queued")]
    with django_capture_on_commit_callbacks(execute=True):
        assert prune_round_artifacts(project) == []
    assert all(folder_of(r).exists() for r in made)


def test_the_shared_embedding_cache_and_other_projects_are_untouched(project, history, lead,
                                                                     django_capture_on_commit_callbacks):
    from labelops.projects import services as project_services

    cache = artifacts.embedding_cache_dir(project.pk)
    cache.mkdir(parents=True)
    (cache / "entries.npy").write_bytes(b"cache")
    other = project_services.create_project(actor=lead, name="Other")
    theirs = make_round(other, 1, "done")
    with django_capture_on_commit_callbacks(execute=True):
        prune_round_artifacts(project)
    assert (cache / "entries.npy").read_bytes() == b"cache"
    assert folder_of(theirs).exists()


def test_a_rolled_back_prune_leaves_rows_and_files(project, history, django_capture_on_commit_callbacks):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            prune_round_artifacts(project)
            raise Boom
    assert callbacks == []
    history[2].refresh_from_db()
    assert set(history[2].artifacts) == {"snapshot", "head"} and folder_of(history[2]).exists()
    assert not AuditEvent.objects.filter(verb="round.artifacts_removed").exists()
