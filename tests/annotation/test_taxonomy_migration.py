"""A new taxonomy version migrates the project's labels (see
`labelops.annotation.services.taxonomy_migration`): rename and merge
rewrite them, split and deprecate send the affected items back to the
queue, agreement counts one version only, and a failure changes nothing."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from labelops.annotation.models import (
    AgreementSnapshot,
    Annotation,
    Consensus,
    FinalLabel,
    Lease,
    LeaseOutcome,
    Recompute,
    RecomputeKind,
    ReviewTask,
)
from labelops.annotation.services import next_item, submit, taxonomy_migration
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import Proposal
from labelops.projects import services as project_services
from labelops.projects.models import Label, MappingKind, TaxonomyMapping, TaxonomyVersion
from labelops.quality.services.metrics import compute_metrics, refresh_snapshot
from tests.annotation.conftest import Always, import_proposal, label_item, make_items, set_rules
from tests.conftest import require

pytestmark = pytest.mark.django_db

GOLD_NOW = Always(-100.0)  # a gold item is always due
NO_GOLD = Always(100.0)  # never

# The `project` fixture's version 1: billing (b), bug (g), other (o).
BILLING = {"key": "billing", "hotkey": "b"}
BUG = {"key": "bug", "hotkey": "g"}
OTHER = {"key": "other", "hotkey": "o"}


def versions_url(project):
    return f"/api/v1/projects/{project.pk}/taxonomy/versions/"


def new_version(api, lead, project, labels, mapping):
    """Create the next version over the API as the lead; its migration summary."""
    response = api(lead).post(versions_url(project), {"labels": labels, "mapping": mapping}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["migration"]


def version(project, number):
    return TaxonomyVersion.objects.get(project=project, number=number)


def final_keys(item):
    return sorted(FinalLabel.objects.filter(item=item).values_list("key", flat=True))


def snapshot(project):
    """Everything a migration may change, to compare before and after."""
    return {
        "versions": list(TaxonomyVersion.objects.filter(project=project).values_list("number", flat=True)),
        "annotations": list(Annotation.objects.order_by("id").values_list(
            "labels", "taxonomy_version", "discarded")),
        "consensus": list(Consensus.objects.order_by("id").values_list("labels", "taxonomy_version", "status")),
        "final": list(FinalLabel.objects.order_by("id").values_list("item", "key")),
        "items": list(Item.objects.order_by("id").values_list("state", "split", "gold_labels", "annotation_count")),
        "proposals": list(Proposal.objects.order_by("id").values_list("labels", "probabilities")),
        "leases": list(Lease.objects.order_by("id").values_list("outcome", flat=True)),
        "events": AuditEvent.objects.count(),
    }


# --- rename and merge ---------------------------------------------------------------


def test_rename_rewrites_annotations_consensus_answers_and_proposals(project, lead, annotator, annotator2, api):
    set_rules(project, lead, overlap=1, gold_ratio=0.5)
    labelled, waiting = make_items(project, 2)
    (gold,) = make_items(project, 1, split=Split.GOLD, gold_labels=["bug"])
    annotation = label_item(project, annotator, ["bug"], rng=NO_GOLD)
    proposal = import_proposal(waiting, ["bug"])
    Proposal.objects.filter(pk=proposal.pk).update(probabilities={"bug": 0.7, "billing": 0.2, "other": 0.1})

    migration = new_version(api, lead, project, [BILLING, {"key": "defect", "hotkey": "g"}, OTHER],
                            [{"kind": "rename", "from": "bug", "to": ["defect"]}])

    v1, v2 = version(project, 1), version(project, 2)
    assert migration["mapping"] == {"rename": ["bug"]}
    assert (migration["annotations_relabelled"], migration["consensus_relabelled"], migration["answers_relabelled"],
            migration["proposals_relabelled"], migration["items_sent_back"]) == (1, 1, 1, 1, 0)
    annotation.refresh_from_db()
    assert (annotation.labels, annotation.taxonomy_version, annotation.discarded) == (["defect"], v2, False)
    consensus = Consensus.objects.get(item=labelled)
    assert (consensus.labels, consensus.taxonomy_version, consensus.status) == (["defect"], v2, "approved")
    assert final_keys(labelled) == ["defect"]
    assert list(Item.objects.with_label("defect")) == [labelled]
    gold.refresh_from_db()
    assert gold.gold_labels == ["defect"] and gold.split == Split.GOLD
    proposal.refresh_from_db()
    assert proposal.labels == ["defect"]
    assert proposal.probabilities == {"defect": 0.7, "billing": 0.2, "other": 0.1}

    # The annotation's original labels and version stay on record.
    event = AuditEvent.objects.get(verb="annotation.migrate", object_id=str(annotation.pk))
    assert (event.before["labels"], event.before["taxonomy_version"]) == (["bug"], v1.pk)
    assert (event.after["labels"], event.after["taxonomy_version"]) == (["defect"], v2.pk)
    created = AuditEvent.objects.get(verb="taxonomy.create_version", object_id=str(v2.pk))
    assert created.actor == lead and created.after["migration"] == migration

    # Annotators now answer in the new version; the old key is refused.
    claim = next_item(project=project, annotator=annotator2, rng=NO_GOLD)
    with pytest.raises(ValidationError, match="not in the active taxonomy"):
        submit(lease_id=claim.lease.pk, annotator=annotator2, labels=["bug"])
    assert submit(lease_id=claim.lease.pk, annotator=annotator2, labels=["defect"]).taxonomy_version == v2


def test_merge_rewrites_multi_label_answers_once_and_sums_probabilities(project, lead, annotator, api):
    project_services.update_project(actor=lead, project=project, task="multi_label")
    set_rules(project, lead, overlap=1)
    labelled, waiting = make_items(project, 2)
    annotation = label_item(project, annotator, ["billing", "bug", "other"])
    proposal = import_proposal(waiting, ["billing", "bug"])
    Proposal.objects.filter(pk=proposal.pk).update(probabilities={"billing": 0.4, "bug": 0.35, "other": 0.25})

    migration = new_version(api, lead, project, [{"key": "issue", "hotkey": "i"}, OTHER], [
        {"kind": "merge", "from": "billing", "to": ["issue"]},
        {"kind": "merge", "from": "bug", "to": ["issue"]},
    ])

    assert migration["mapping"] == {"merge": ["billing", "bug"]}
    annotation.refresh_from_db()
    assert annotation.labels == ["issue", "other"]
    assert Consensus.objects.get(item=labelled).labels == ["issue", "other"]
    assert final_keys(labelled) == ["issue", "other"]
    proposal.refresh_from_db()
    assert proposal.labels == ["issue"]
    assert proposal.probabilities == pytest.approx({"issue": 0.75, "other": 0.25})
    assert migration["items_sent_back"] == 0 and migration["annotations_discarded"] == 0


# --- split and deprecate ------------------------------------------------------------


def test_split_sends_items_back_to_the_queue_for_the_same_annotators(project, lead, annotator, annotator2, api):
    set_rules(project, lead, overlap=2)
    split_item, kept_item, unlabelled = make_items(project, 3)
    label_item(project, annotator, ["billing"])  # split_item: billing, bug
    label_item(project, annotator2, ["bug"])
    label_item(project, annotator, ["bug"])  # kept_item: bug, bug -> approved
    label_item(project, annotator2, ["bug"])
    split_item.refresh_from_db()
    assert split_item.state == ItemState.IN_REVIEW  # a tie
    doomed = import_proposal(split_item, ["billing"])
    kept = import_proposal(unlabelled, ["bug"])
    Proposal.objects.filter(pk=kept.pk).update(probabilities={"bug": 0.6, "billing": 0.4})

    migration = new_version(api, lead, project, [
        {"key": "invoice", "hotkey": "i"}, {"key": "refund", "hotkey": "r"}, BUG, OTHER,
    ], [{"kind": "split", "from": "billing", "to": ["invoice", "refund"]}])

    assert (migration["items_sent_back"], migration["annotations_discarded"], migration["review_tasks_closed"],
            migration["proposals_dropped"], migration["annotations_carried"]) == (1, 2, 1, 1, 2)
    split_item.refresh_from_db()
    assert (split_item.state, split_item.annotation_count) == (ItemState.UNLABELLED, 0)
    assert not Consensus.objects.filter(item=split_item).exists() and final_keys(split_item) == []
    assert not Annotation.objects.active().filter(item=split_item).exists()
    assert set(Lease.objects.filter(item=split_item).values_list("outcome", flat=True)) == {LeaseOutcome.REJECTED}
    assert not ReviewTask.objects.open().exists()
    assert not Proposal.objects.filter(pk=doomed.pk).exists()
    kept.refresh_from_db()
    assert (kept.labels, kept.probabilities) == (["bug"], {"bug": 0.6})
    kept_item.refresh_from_db()
    assert kept_item.state == ItemState.APPROVED and final_keys(kept_item) == ["bug"]
    assert set(Annotation.objects.active().values_list("taxonomy_version__number", flat=True)) == {2}

    event = AuditEvent.objects.get(verb="taxonomy.relabel")
    assert event.object_id == str(split_item.pk) and event.actor == lead
    assert sorted(a["labels"][0] for a in event.before["annotations"]) == ["billing", "bug"]
    assert event.before["state"] == ItemState.IN_REVIEW and event.after["state"] == ItemState.UNLABELLED

    # Both annotators get the item again and label it in the new version.
    first = label_item(project, annotator, ["refund"])
    label_item(project, annotator2, ["refund"])
    assert first.item_id == split_item.pk and first.taxonomy_version == version(project, 2)
    split_item.refresh_from_db()
    assert split_item.state == ItemState.APPROVED and final_keys(split_item) == ["refund"]


def test_deprecate_without_a_mapping_relabels_items_and_demotes_gold(project, lead, annotator, annotator2, api):
    set_rules(project, lead, overlap=1, gold_ratio=0.5)
    approved, fine = make_items(project, 2)
    (holdout,) = make_items(project, 1, split=Split.HOLDOUT, gold_labels=["other"])
    gold_other, gold_bug = make_items(project, 2, split=Split.GOLD, gold_labels=["other"])
    Item.objects.filter(pk=gold_bug.pk).update(gold_labels=["bug"])
    # As an import of known answers writes them: an approved consensus by method "gold".
    Consensus.objects.create(item=gold_other, labels=["other"], method="gold", status="approved",
                             taxonomy_version=version(project, 1))
    FinalLabel.objects.create(item=gold_other, key="other")
    label_item(project, annotator, ["other"], rng=NO_GOLD)  # approved: other
    label_item(project, annotator, ["bug"], rng=GOLD_NOW)  # gold_other, wrong answer
    wrong_on_gold_bug = label_item(project, annotator, ["other"], rng=GOLD_NOW)  # gold_bug, wrong
    label_item(project, annotator2, ["bug"], rng=NO_GOLD)  # fine: bug
    assert ReviewTask.objects.open().filter(item=gold_bug).count() == 1

    migration = new_version(api, lead, project, [BILLING, BUG], [{"kind": "deprecate", "from": "other"}])

    assert (migration["items_sent_back"], migration["gold_items_demoted"], migration["answers_cleared"]) == (2, 1, 1)
    approved.refresh_from_db()
    assert approved.state == ItemState.UNLABELLED and not Consensus.objects.filter(item=approved).exists()
    # A gold item whose answer is gone becomes a holdout item to label blind.
    gold_other.refresh_from_db()
    assert (gold_other.split, gold_other.gold_labels, gold_other.state, gold_other.annotation_count) == (
        Split.HOLDOUT, None, ItemState.UNLABELLED, 0)
    assert Lease.objects.get(item=gold_other).outcome == LeaseOutcome.REJECTED
    assert not Consensus.objects.filter(item=gold_other).exists() and final_keys(gold_other) == []
    holdout.refresh_from_db()
    assert holdout.gold_labels is None and holdout.split == Split.HOLDOUT
    # A gold item that keeps its answer loses the answer using the dropped label, and
    # the review of it; the check was scored, so the lease is not reopened.
    gold_bug.refresh_from_db()
    wrong_on_gold_bug.refresh_from_db()
    assert (gold_bug.split, gold_bug.gold_labels, gold_bug.annotation_count) == (Split.GOLD, ["bug"], 0)
    assert wrong_on_gold_bug.discarded
    assert Lease.objects.get(item=gold_bug).outcome == LeaseOutcome.SUBMITTED
    assert not ReviewTask.objects.open().filter(item=gold_bug).exists()
    fine.refresh_from_db()
    assert fine.state == ItemState.APPROVED and final_keys(fine) == ["bug"]
    assert AuditEvent.objects.filter(verb="taxonomy.relabel").count() == 2
    answer = AuditEvent.objects.get(verb="item.migrate_answer")
    assert (answer.object_id, answer.before, answer.after) == (str(holdout.pk), {"gold_labels": ["other"]},
                                                               {"gold_labels": None})

    # The item approved before is served again and keeps nothing of "other".
    claim = next_item(project=project, annotator=annotator, rng=NO_GOLD)
    assert claim.item.pk == approved.pk


def test_deprecate_with_a_mapping_is_a_merge_into_its_target(project, lead, annotator, api):
    """The API writes a label retired in favour of another as a merge; a
    deprecate carrying one target (which the validation does not produce)
    is applied the same way."""
    set_rules(project, lead, overlap=1)
    item, other_item = make_items(project, 2)
    annotation = label_item(project, annotator, ["other"])
    refused = api(lead).post(versions_url(project), {"labels": [BILLING, BUG],
                                                     "mapping": [{"kind": "deprecate", "from": "other", "to": ["bug"]}]},
                             format="json")
    assert refused.status_code == 400 and "deprecate takes no target" in str(refused.json())

    with transaction.atomic():
        old = version(project, 1)
        new = TaxonomyVersion.objects.create(project=project, number=2, created_by=lead)
        Label.objects.bulk_create([Label(version=new, key="billing", name="billing"),
                                   Label(version=new, key="bug", name="bug")])
        TaxonomyMapping.objects.create(to_version=new, from_version=old, kind=MappingKind.DEPRECATE,
                                       from_key="other", to_keys=["bug"])
        summary = taxonomy_migration.migrate_to_version(project=project, old_version=old, new_version=new, actor=lead)

    annotation.refresh_from_db()
    assert (annotation.labels, annotation.taxonomy_version) == (["bug"], new)
    assert final_keys(item) == ["bug"] and summary.items_sent_back == 0
    assert summary.mapping == {"deprecate": ["other"]}


# --- agreement ------------------------------------------------------------------------


def test_agreement_after_a_migration_counts_the_new_version_only(project, lead, annotator, annotator2, api):
    set_rules(project, lead, overlap=2, review_disputed=False, review_low_agreement=False)
    make_items(project, 3)
    for labels in (["bug"], ["billing"], ["other"]):
        label_item(project, annotator, labels)
    for labels in (["bug"], ["billing"], ["bug"]):
        label_item(project, annotator2, labels)
    before, _ = compute_metrics(project)
    assert (before["items"], before["annotations"]) == (3, 6)
    refresh_snapshot(project)

    new_version(api, lead, project, [{"key": "invoice", "hotkey": "i"}, {"key": "refund", "hotkey": "r"}, BUG, OTHER],
                [{"kind": "split", "from": "billing", "to": ["invoice", "refund"]}])

    after, _ = compute_metrics(project)
    # The billing/billing item went back; the two others were carried into v2.
    assert (after["items"], after["annotations"]) == (2, 4)
    assert {row["label"] for row in after["per_label"]} == {"invoice", "refund", "bug", "other"}
    assert after["pairs"] == [{"annotators": [annotator.pk, annotator2.pk], "units": 2,
                               "observed_agreement": 0.5, "cohen_kappa": 0.0}]
    stored = AgreementSnapshot.objects.get(project=project)
    assert stored.computed_at is None and stored.metrics == {}  # the next request queues a recomputation
    schedule = Recompute.objects.get(project=project, kind=RecomputeKind.AGREEMENT)
    assert (schedule.last_annotation_id, schedule.finished_at, schedule.queued_at) == (0, None, None)

    # An annotation left in the old version (as from before migrations existed) is not
    # pooled: its item keeps one annotation in v2, too few to measure agreement on.
    Annotation.objects.filter(pk=Annotation.objects.active().first().pk).update(taxonomy_version=version(project, 1))
    mixed, _ = compute_metrics(project)
    assert (mixed["items"], mixed["annotations"]) == (1, 2)


# --- failures -------------------------------------------------------------------------


def test_data_the_mapping_cannot_carry_is_a_400_and_nothing_changes(project, lead, annotator, api):
    set_rules(project, lead, overlap=1)
    make_items(project, 2)
    label_item(project, annotator, ["bug"])
    broken = label_item(project, annotator, ["billing"])
    Annotation.objects.filter(pk=broken.pk).update(labels=["refunds?"])
    before = snapshot(project)

    response = api(lead).post(versions_url(project), {"labels": [BILLING, {"key": "defect"}, OTHER],
                                                      "mapping": [{"kind": "rename", "from": "bug", "to": ["defect"]}]},
                              format="json")

    assert response.status_code == 400
    message = str(response.json())
    assert f"annotation {broken.pk} of item {broken.item_id}" in message and "'refunds?'" in message
    assert snapshot(project) == before


def test_a_failure_late_in_the_migration_leaves_nothing_half_done(project, lead, annotator, monkeypatch):
    set_rules(project, lead, overlap=1)
    split_item, renamed = make_items(project, 2)
    label_item(project, annotator, ["billing"])
    label_item(project, annotator, ["bug"])
    import_proposal(renamed, ["bug"])
    before = snapshot(project)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    # Proposals are migrated after annotations, consensus and items were written.
    monkeypatch.setattr(taxonomy_migration, "_migrate_proposals", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        create_taxonomy_version(
            actor=lead, project=project,
            labels=[{"key": "invoice"}, {"key": "refund"}, {"key": "defect"}, OTHER],
            mapping=[{"kind": "split", "from": "billing", "to": ["invoice", "refund"]},
                     {"kind": "rename", "from": "bug", "to": ["defect"]}],
        )

    assert snapshot(project) == before
    split_item.refresh_from_db()
    assert split_item.state == ItemState.APPROVED


@pytest.mark.postgres
def test_a_submit_during_a_migration_waits_and_meets_the_new_version(transactional_db, lead, annotator,
                                                                     monkeypatch):
    """The migration holds the project's open leases and items: a submit
    arriving meanwhile waits, then is checked against the new version (an
    answer in the old key can never slip in behind the migration)."""
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL (SQLite has no row locks)")
    project = project_services.create_project(actor=lead, name="Race")
    create_taxonomy_version(actor=lead, project=project, labels=[BILLING, BUG])
    project_services.add_member(actor=lead, project=project, user=annotator, role="annotator")
    set_rules(project, lead, overlap=1)
    make_items(project, 1)
    claim = next_item(project=project, annotator=annotator)

    locked, release = threading.Event(), threading.Event()
    real = taxonomy_migration._migrate_proposals

    def paused(*args, **kwargs):  # the locks are held and the annotations read by now
        locked.set()
        release.wait(timeout=20)
        return real(*args, **kwargs)

    monkeypatch.setattr(taxonomy_migration, "_migrate_proposals", paused)
    outcome: dict[str, object] = {}

    def run(name, call):
        try:
            outcome[name] = call()
        except BaseException as exc:  # asserted on below
            outcome[name] = exc
        finally:
            connections.close_all()

    migrate = threading.Thread(target=run, args=("migrate", lambda: create_taxonomy_version(
        actor=lead, project=project, labels=[BILLING, {"key": "defect"}],
        mapping=[{"kind": "rename", "from": "bug", "to": ["defect"]}])))
    answer = threading.Thread(target=run, args=("submit", lambda: submit(
        lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])))
    migrate.start()
    assert locked.wait(timeout=20)
    answer.start()
    answer.join(timeout=1.5)
    assert answer.is_alive(), "the submit went through while the migration held its locks"
    release.set()
    migrate.join(timeout=30)
    answer.join(timeout=30)

    assert isinstance(outcome["migrate"].version, TaxonomyVersion)
    assert isinstance(outcome["submit"], ValidationError)
    assert "not in the active taxonomy (v2): bug" in str(outcome["submit"])
    assert not Annotation.objects.exists()
    assert submit(lease_id=claim.lease.pk, annotator=annotator, labels=["defect"]).taxonomy_version.number == 2


# --- who may ---------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)])
def test_only_a_lead_creates_a_version(project, lead, annotator, api, request, persona, status):
    set_rules(project, lead, overlap=1)
    make_items(project, 1)
    label_item(project, annotator, ["bug"])
    before = snapshot(project)
    response = api(request.getfixturevalue(persona)).post(
        versions_url(project), {"labels": [BILLING, {"key": "defect"}, OTHER],
                                "mapping": [{"kind": "rename", "from": "bug", "to": ["defect"]}]}, format="json")
    assert response.status_code == status
    assert snapshot(project) == before


def test_a_first_version_reports_no_migration(lead, api):
    project = project_services.create_project(actor=lead, name="Fresh")
    response = api(lead).post(versions_url(project), {"labels": [BUG]}, format="json")
    assert response.status_code == 201 and response.json()["migration"] is None
