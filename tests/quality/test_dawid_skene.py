"""Dawid-Skene: multi-label projects (one binary model per label), and runs
that are harmless when repeated. When a pass is queued: test_schedule.py."""

from __future__ import annotations

import pytest

from labelops.annotation.models import Consensus
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState
from labelops.projects import services as project_services
from labelops.quality.services import dawid_skene
from labelops.quality.services.dawid_skene import RUN_VERB, fit_multi_label, recompute_dawid_skene
from labelops.quality.services.review import decide
from labelops.quality.tasks import recompute_dawid_skene as recompute_task
from tests.annotation.conftest import label_item, make_items, set_rules

pytestmark = pytest.mark.django_db


def consensus_of(item):
    item.refresh_from_db()
    consensus = Consensus.objects.get(item=item)
    return item.state, consensus.labels, consensus.method, consensus.status


# --- multi-label ------------------------------------------------------------------------


def invert_a(labels):
    """The reliably wrong annotator: always the opposite about `a`, right about the rest."""
    return sorted(set(labels) ^ {"a"})


@pytest.fixture
def multi(db, lead, reviewer, make_user):
    """A multi-label project (a, b, c), overlap 3, nothing sent to review by
    agreement (Dawid-Skene leaves items in review alone), and four
    annotators: three reliable, the fourth always wrong about `a`."""
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(actor=lead, project=project,
                                             labels=[{"key": "a"}, {"key": "b"}, {"key": "c"}])
    project_services.add_member(actor=lead, project=project, user=reviewer, role="reviewer")
    users = [make_user(name) for name in ("good1", "good2", "good3", "contrary")]
    for user in users:
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    set_rules(project, lead, overlap=3, review_disputed=False, review_low_agreement=False)
    return project, users


def test_multi_label_dawid_skene_corrects_the_majority(multi):
    """Twelve items: the contrary annotator and two good ones, who outvote
    it, so Dawid-Skene learns that its `a` means the opposite. On the last
    item a good annotator misses `a` and the contrary one, as always, says
    the opposite of the truth: the majority drops `a`, Dawid-Skene, reading
    the contrary answer for what it is worth, keeps it."""
    project, (good1, good2, good3, contrary) = multi
    items = make_items(project, 13)
    goods = [good1, good2, good3]
    for n in range(12):
        truth = ["a", "b"] if n % 2 else ["b", "c"]
        pair = [goods[n % 3], goods[(n + 1) % 3]]
        for user in pair:
            label_item(project, user, truth)
        label_item(project, contrary, invert_a(truth))
    last = items[12]
    label_item(project, good1, ["a", "b"])
    label_item(project, good2, ["b"])  # a good annotator's miss
    label_item(project, contrary, invert_a(["a", "b"]))
    assert consensus_of(last)[1:3] == (["b"], "majority")

    assert recompute_dawid_skene(project) == 13  # every item: its method changes
    assert consensus_of(last) == (ItemState.APPROVED, ["a", "b"], "dawid_skene", "approved")
    for n, item in enumerate(items[:12]):  # where the majority was right, it stays
        assert consensus_of(item)[1:3] == ((["a", "b"] if n % 2 else ["b", "c"]), "dawid_skene")
    assert recompute_dawid_skene(project) == 0  # nothing left to change
    assert recompute_task(project.pk) == 0


def test_fit_multi_label_per_label_posteriors():
    """Straight on the fitting function: label `c`, chosen by nobody, needs
    no model and is absent everywhere; `b`, chosen by everybody, present;
    the contrary worker 9's `a` is read backwards."""
    rows = []
    for item in range(1, 9):
        truth = ["a", "b"] if item % 2 else ["b"]
        rows += [(item, 1, truth), (item, 2, truth), (item, 9, sorted(set(truth) ^ {"a"}))]
    rows += [(20, 1, ["a", "b"]), (20, 2, ["b"]), (20, 9, ["b"])]
    fitted = fit_multi_label(rows, ["a", "b", "c"])
    assert fitted[20] == ["a", "b"]
    assert all(fitted[item] == (["a", "b"] if item % 2 else ["b"]) for item in range(1, 9))


def test_multi_label_leaves_a_reviewers_fix_alone(multi, reviewer, lead):
    project, (good1, good2, _, contrary) = multi
    set_rules(project, lead, overlap=2, review_disputed=True, review_low_agreement=False)
    (item,) = make_items(project, 1)
    label_item(project, good1, ["a"])
    label_item(project, contrary, ["b"])  # a tie on both labels: in review
    assert consensus_of(item)[0] == ItemState.IN_REVIEW
    decide(project=project, item=item, reviewer=reviewer, decision="fix", labels=["a", "c"])
    assert recompute_dawid_skene(project) == 0
    assert consensus_of(item)[1:3] == (["a", "c"], "review")


# --- runs twice -------------------------------------------------------------------------------


@pytest.fixture
def tie_broken(project, lead, annotators):
    """The single-label case of test_consensus: a bad annotator ties with a good one on the last item."""
    good1, good2, good3, bad, _ = annotators
    set_rules(project, lead, overlap=2, review_disputed=False, agreement_threshold=0.5)
    items = make_items(project, 13)
    truth = ["bug", "billing", "other"]
    for n in range(12):
        answer = truth[n % 3]
        for user, label in ([(good1, answer), (bad, "bug")] if n % 2 else [(good2, answer), (good3, answer)]):
            label_item(project, user, [label])
    label_item(project, good1, ["billing"])
    label_item(project, bad, ["bug"])
    return items[12]


def test_two_runs_fitted_at_once_settle_each_item_once(project, tie_broken, monkeypatch):
    """Two passes that both fitted before either wrote: the second finds
    each item already settled the same way and writes nothing."""
    settled_calls = []
    real_settle_one = dawid_skene._settle_one

    def settle_twice(*args):
        settled_calls.append(real_settle_one(*args))
        settled_calls.append(real_settle_one(*args))  # the other pass, on the same fit
        return settled_calls[-2]

    monkeypatch.setattr(dawid_skene, "_settle_one", settle_twice)
    before = AuditEvent.objects.filter(verb="consensus.settle").count()
    settled = recompute_dawid_skene(project)
    assert settled > 0 and settled_calls[1::2] == [0] * settled
    assert AuditEvent.objects.filter(verb="consensus.settle").count() == before + settled
    assert consensus_of(tie_broken)[1:3] == (["billing"], "dawid_skene")


def test_each_pass_is_recorded_with_what_it_saw(project, tie_broken):
    recompute_dawid_skene(project)
    recompute_dawid_skene(project)
    first, second = AuditEvent.objects.filter(verb=RUN_VERB).order_by("id")
    newest = project.items.values_list("annotations__id", flat=True).order_by("-annotations__id").first()
    assert first.after == {"last_annotation_id": newest, "annotations": 26, "settled": first.after["settled"]}
    assert first.after["settled"] > 0 and second.after["settled"] == 0
    assert first.object_id == str(project.pk) and first.project_id == project.pk
