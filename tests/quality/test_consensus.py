"""Consensus when an item reaches its overlap: majority vote, agreement with
partial credit along the taxonomy, status by the rules, and Dawid-Skene."""

from __future__ import annotations

import pytest

from labelops.annotation.models import Consensus, FinalLabel, ReviewTask
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import Item, ItemState
from labelops.projects import services as project_services
from labelops.quality.services.agreement import (
    PARTIAL_CREDIT,
    label_credit,
    majority_vote,
    similarity,
)
from labelops.quality.services.dawid_skene import recompute_dawid_skene
from labelops.quality.tasks import recompute_dawid_skene as recompute_task
from tests.annotation.conftest import activate_round, label_item, make_items, set_rules

pytestmark = pytest.mark.django_db

PARENTS = {"payments": None, "card": "payments", "transfer": "payments", "account": None, "login": "account"}


# --- pure functions --------------------------------------------------------------


def test_label_credit_follows_the_tree():
    assert label_credit("card", "card", PARENTS) == 1.0
    assert label_credit("card", "transfer", PARENTS) == PARTIAL_CREDIT  # siblings
    assert label_credit("card", "payments", PARENTS) == PARTIAL_CREDIT  # child and parent
    assert label_credit("card", "login", PARENTS) == 0.0
    assert label_credit("payments", "account", PARENTS) == 0.0  # two roots


def test_multi_label_similarity_is_a_soft_jaccard():
    assert similarity(["card"], ["card", "login"], PARENTS, multi=True) == pytest.approx(1 / 2)
    assert similarity(["card", "login"], ["login", "card"], PARENTS, multi=True) == 1.0
    # card~transfer is worth 1/2: s = 1/2, J = 0.5 / (1 + 1 - 0.5)
    assert similarity(["card"], ["transfer"], PARENTS, multi=True) == pytest.approx(1 / 3)
    assert similarity(["card"], ["login"], PARENTS, multi=True) == 0.0


def test_majority_vote_and_ties():
    order = ["a", "b", "c"]
    assert majority_vote([["a"], ["a"], ["b"]], order, multi=False).labels == ["a"]
    tie = majority_vote([["a"], ["b"]], order, multi=False)
    assert (tie.labels, tie.tie) == ([], True)
    multi = majority_vote([["a", "b"], ["a"], ["a", "c"]], order, multi=True)
    assert (multi.labels, multi.tie) == (["a"], False)
    assert majority_vote([["a", "b"], ["a"]], order, multi=True).tie  # b chosen by exactly half


# --- on submit -------------------------------------------------------------------


def consensus_of(item):
    item.refresh_from_db()
    consensus = Consensus.objects.get(item=item)
    finals = sorted(FinalLabel.objects.filter(item=item).values_list("key", flat=True))
    return item.state, consensus.labels, consensus.method, consensus.agreement, consensus.status, finals


def test_overlap_one_is_approved_at_once(queue_project, annotator):
    (item,) = make_items(queue_project, 1)
    label_item(queue_project, annotator, ["bug"])
    assert consensus_of(item) == (ItemState.APPROVED, ["bug"], "majority", 1.0, "approved", ["bug"])
    assert Item.objects.approved().with_label("bug").get() == item
    event = AuditEvent.objects.get(verb="consensus.settle")
    assert event.after["status"] == "approved" and event.actor is None


def test_no_consensus_before_the_overlap(project, lead, annotator):
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    label_item(project, annotator, ["bug"])
    assert not Consensus.objects.exists()


def test_agreeing_majority_is_approved(project, lead, annotators):
    set_rules(project, lead, overlap=3, agreement_threshold=0.6)
    (item,) = make_items(project, 1)
    for user, label in zip(annotators, ["bug", "bug", "other"]):
        label_item(project, user, [label])
    state, labels, method, agreement, status, finals = consensus_of(item)
    assert (state, labels, status, finals) == (ItemState.APPROVED, ["bug"], "approved", ["bug"])
    assert agreement == pytest.approx(2 / 3, abs=1e-6)


def test_low_agreement_goes_to_review(project, lead, annotators):
    set_rules(project, lead, overlap=3, agreement_threshold=0.7)
    (item,) = make_items(project, 1)
    for user, label in zip(annotators, ["bug", "bug", "other"]):
        label_item(project, user, [label])
    state, labels, _, _, status, _ = consensus_of(item)
    assert (state, labels, status) == (ItemState.IN_REVIEW, ["bug"], "disputed")
    assert ReviewTask.objects.open().get(item=item).reasons == ["low_agreement"]


def test_a_tie_is_disputed_and_goes_to_review(project, lead, annotator, annotator2):
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    label_item(project, annotator, ["bug"])
    label_item(project, annotator2, ["billing"])
    state, labels, _, agreement, status, finals = consensus_of(item)
    assert (state, labels, agreement, status, finals) == (ItemState.IN_REVIEW, [], 0.5, "disputed", [])
    assert ReviewTask.objects.open().get(item=item).reasons == ["disputed"]


def test_a_dispute_without_its_trigger_stays_labelled(project, lead, annotator, annotator2):
    set_rules(project, lead, overlap=2, review_disputed=False)
    (item,) = make_items(project, 1)
    label_item(project, annotator, ["bug"])
    label_item(project, annotator2, ["billing"])
    assert consensus_of(item)[0::4] == (ItemState.LABELLED, "disputed")
    assert not ReviewTask.objects.exists()


def test_siblings_earn_partial_credit(tree_project, lead, annotator, annotator2, make_user):
    third = make_user("third")
    project_services.add_member(actor=lead, project=tree_project, user=third, role="annotator")
    set_rules(tree_project, lead, overlap=3, agreement_threshold=0.8)
    (item,) = make_items(tree_project, 1)
    for user, label in zip([annotator, annotator2, third], ["card", "card", "transfer"]):
        label_item(tree_project, user, [label])
    # (1 + 1 + 1/2) / 3: the sibling counts half, which clears a 0.8 threshold
    _, labels, _, agreement, status, _ = consensus_of(item)
    assert (labels, status) == (["card"], "approved") and agreement == pytest.approx(5 / 6, abs=1e-6)


def test_multi_label_consensus_uses_mean_jaccard(db, lead, annotator, annotator2, make_user):
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(actor=lead, project=project,
                                             labels=[{"key": "a"}, {"key": "b"}, {"key": "c"}])
    third = make_user("third")
    for user in (annotator, annotator2, third):
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    set_rules(project, lead, overlap=3, agreement_threshold=0.5)
    (item,) = make_items(project, 1)
    for user, labels in zip([annotator, annotator2, third], [["a", "b"], ["a"], ["a", "b", "c"]]):
        label_item(project, user, labels)
    _, labels, _, agreement, status, finals = consensus_of(item)
    assert (labels, finals, status) == (["a", "b"], ["a", "b"], "approved")
    assert agreement == pytest.approx((1 + 1 / 2 + 2 / 3) / 3, abs=1e-6)


def test_a_confident_model_that_disagrees_sends_the_item_to_review(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, model_disagreement_confidence=0.85)
    confident, unsure = make_items(queue_project, 2)
    activate_round(queue_project, ranked=[confident], others=[unsure], labels=("billing",))  # 0.5 and 0.9
    label_item(queue_project, annotator, ["bug"])  # `confident` first: ranked, but confidence 0.5
    label_item(queue_project, annotator, ["bug"])  # `unsure`: confidence 0.9 >= 0.85
    assert consensus_of(confident)[0] == ItemState.APPROVED
    assert consensus_of(unsure)[0::4] == (ItemState.IN_REVIEW, "agreed")
    assert ReviewTask.objects.get(item=unsure).reasons == ["model_disagreement"]


# --- Dawid-Skene -----------------------------------------------------------------


def test_dawid_skene_weights_reliable_annotators_and_is_idempotent(project, lead, annotators):
    """Three annotators are always right; a fourth always answers `bug`
    whatever the item. On a thirteenth item that annotator and a good one
    tie: majority cannot decide, Dawid-Skene trusts the good one."""
    good1, good2, good3, bad, _ = annotators
    set_rules(project, lead, overlap=2, review_disputed=False, agreement_threshold=0.5)
    items = make_items(project, 13)
    truth = ["bug", "billing", "other"]
    for n, item in enumerate(items[:12]):
        answer = truth[n % 3]
        pair = [(good1, answer), (bad, "bug")] if n % 2 else [(good2, answer), (good3, answer)]
        for user, label in pair:
            label_item(project, user, [label])
    label_item(project, good1, ["billing"])
    label_item(project, bad, ["bug"])
    last = items[12]
    assert consensus_of(last)[1::3] == ([], "disputed")

    assert recompute_dawid_skene(project) > 0
    assert consensus_of(last) == (ItemState.APPROVED, ["billing"], "dawid_skene", 0.5, "approved", ["billing"])
    assert recompute_dawid_skene(project) == 0  # nothing left to change
    assert recompute_task(project.pk) == 0
    assert recompute_task(10**9) == 0  # a project that is gone


def test_dawid_skene_leaves_items_in_review_alone(project, lead, annotator, annotator2):
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    label_item(project, annotator, ["bug"])
    label_item(project, annotator2, ["billing"])
    assert recompute_dawid_skene(project) == 0
    assert consensus_of(item)[2] == "majority"


def test_dawid_skene_leaves_a_reviewers_accept_alone(project, lead, annotators, reviewer):
    from labelops.quality.services.review import decide

    set_rules(project, lead, overlap=3, agreement_threshold=0.7)
    (item,) = make_items(project, 1)
    for user, label in zip(annotators, ["bug", "bug", "other"]):
        label_item(project, user, [label])
    review = decide(project=project, item=item, reviewer=reviewer, decision="accept")
    assert Consensus.objects.get(item=item).review == review
    assert recompute_dawid_skene(project) == 0
    assert consensus_of(item)[0::4] == (ItemState.APPROVED, "approved")


def test_leads_queue_a_dawid_skene_pass(project, api, lead, reviewer, outsider, use_broker, tmp_path):
    import json
    from pathlib import Path

    from tests.conftest import filesystem_broker_options

    options = filesystem_broker_options(tmp_path)
    use_broker("filesystem://", options)
    url = f"/api/v1/projects/{project.pk}/consensus/dawid-skene/"
    assert api(reviewer).post(url).status_code == 403
    assert api(outsider).post(url).status_code == 404
    response = api(lead).post(url)
    assert response.status_code == 202
    [message] = sorted(Path(options["data_folder_in"]).iterdir())
    envelope = json.loads(message.read_text())
    assert envelope["headers"]["task"] == "labelops.quality.tasks.recompute_dawid_skene"
    assert ".default." in message.name
