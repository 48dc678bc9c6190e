"""Removing the files of old training rounds.

A round's folder under ARTIFACT_ROOT (see `labelops.learning.artifacts`)
holds its encoder, embeddings, index and head: hundreds of megabytes on a
large project, one folder per round. After each round finishes, whatever its
final state, `prune_round_artifacts` deletes the folders of the project's
finished rounds beyond the `ROUND_ARTIFACT_RETENTION` newest, and drops their
names from `TrainingRound.artifacts`, so nothing points at a missing file.

Two folders always stay, whatever their age: the active model's round (its
encoder starts the next round and its files back what annotators see), and
any round still running (it is writing them). The project's shared
embedding cache is not a round's and is never touched here. The rows
(metrics, config, proposals) stay: only files go.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import transaction

from labelops.audit.services import record
from labelops.learning import artifacts
from labelops.learning.models import FINISHED_STATES, ModelVersion, TrainingRound


def prune_round_artifacts(project) -> list[int]:
    """Delete the artifact folders of `project`'s finished rounds beyond the
    newest `settings.ROUND_ARTIFACT_RETENTION`, except the active model's
    round. Returns the numbers of the rounds whose folders were removed.

    Locks the rounds it prunes, so two calls at once (two rounds finishing
    back to back) record one audit event per round; each round whose row
    still named files gets a `round.artifacts_removed` event. The folders are
    deleted after the transaction commits: a rollback leaves rows and files
    as they were, never rows naming deleted files. Safe to run again.
    """
    keep = settings.ROUND_ARTIFACT_RETENTION
    finished = TrainingRound.objects.for_project(project).filter(state__in=FINISHED_STATES)
    newest = list(finished.order_by("-number").values_list("number", flat=True)[:keep])
    if len(newest) < keep:
        return []
    active = list(ModelVersion.objects.filter(project=project, is_active=True).values_list("round_id", flat=True))
    pruned = []
    with transaction.atomic():
        # Older than the oldest kept round, so a round that finishes while
        # this runs (it is newer) is never taken for an old one.
        old = (
            finished.filter(number__lt=min(newest)).exclude(pk__in=active)
            .select_for_update().order_by("number")
        )
        for training_round in old:
            folder = artifacts.project_dir(project.pk) / str(int(training_round.number))
            if not training_round.artifacts and not folder.exists():
                continue
            if training_round.artifacts:
                names = sorted(training_round.artifacts)
                TrainingRound.objects.filter(pk=training_round.pk).update(artifacts={})
                record(actor=None, verb="round.artifacts_removed", obj=training_round, project=project,
                       before={"number": training_round.number, "artifacts": names},
                       after={"number": training_round.number, "artifacts": []})
            transaction.on_commit(partial(artifacts.remove_round_files, training_round))
            pruned.append(training_round.number)
    return pruned
