"""A new taxonomy version, and the project's labels carried into it:
`create_taxonomy_version` (and `ensure_labels`, for imports), which calls
`migrate_to_version`.

`create_taxonomy_version` locks the project row, checks the draft and
writes the version (`labelops.projects.services`, which owns the taxonomy's
tables), then calls `migrate_to_version` in the same transaction, so a
version exists exactly when the project's data has been moved into it. It
lives here, not in `projects`, because the data it moves (annotations,
consensus, leases) is this app's. What `migrate_to_version` touches, of
the previous version: live annotations, consensus (and `FinalLabel` rows),
known answers (`Item.gold_labels`) and proposals (model outputs, whatever
their round). A key the new version keeps, with no mapping entry, carries
over unchanged.

- **rename a -> b, merge a -> b and c -> b**: every one of those is rewritten
  to the new keys (a key that ends up twice in one multi-label answer is kept
  once); a proposal's probabilities of merged keys are summed, its
  `confidence` (the model's score of its own answer) is left as it was.
  Statuses and agreements stand: the same answers under new names. A tie
  between two labels now merged stays disputed until a reviewer or a
  Dawid-Skene pass settles it; re-running consensus here would send items to
  review as a side effect of editing a taxonomy.
- **split a -> {b, c}** and **deprecate a** (no target): `a` has no single
  meaning in the new version, so every pool or holdout item whose consensus
  or any live annotation used it goes back for relabelling, from scratch, the
  way a reviewer's reject sends an item back (`review._reject`): all its live
  annotations are discarded (their labels can only be judged together), the
  leases that brought them turn `rejected` (so the same annotators may label
  it again), its consensus and final labels are removed, its open review
  tasks closed, `annotation_count` goes to 0 and the item to `unlabelled`.
  An item approved before keeps nothing of the dropped label. A proposal
  whose labels use a dropped key is deleted (the new version cannot express
  it; the next round proposes again), and the item falls back from the
  active-learning order to pool order; in other proposals a dropped key's
  probability is removed (not renormalised: it was the model's belief in a
  label that no longer exists).
- **Known answers.** A gold item whose answer used a dropped key loses gold
  status: it becomes a holdout item with no known answer and goes back for
  relabelling as above. Holdout, like gold, never trains, and a gold item
  with no answer would be served and never scored. A pool or holdout item's
  known answer that used a dropped key is cleared. A gold item that keeps its
  answer keeps its annotations, except those using a dropped key: those are
  discarded without reopening their leases (the gold check was scored
  already; answering again would count twice), and the open gold-failure
  review of each is closed.
- **Deprecate with a mapping.** `projects.services._validate_mapping` takes
  deprecate with no target only: a label retired in favour of another is
  written as a rename or a merge. Should a deprecate ever carry exactly one
  target it is applied as a merge to it.

Versions and agreement. Everything migrated or carried over unchanged is
stamped with the new version (`Annotation.taxonomy_version`,
`Consensus.taxonomy_version`); discarded annotations keep the old one. The
agreement metrics (`metrics.compute_metrics`) pool only live annotations of
the active version, so they are computed within one version, and the
project's stored snapshot and its schedule are reset here: the next request
for it queues a recomputation in the new version. Annotations or consensus left in a version
older than the previous one (none are made once this runs on every new
version) are not touched: they stay out of the metrics.

Records, all in the caller's transaction:

- the counts (the returned `MigrationSummary`, also in the API response)
  in the caller's `taxonomy.create_version` event, so making a version stays
  one event when there is nothing to migrate;
- one `annotation.migrate` per annotation whose labels changed or that was
  discarded on a gold item, its `before` holding the original labels and
  version (annotations merely re-stamped are covered by the summary);
- one `consensus.migrate` per relabelled consensus and one
  `item.migrate_answer` per rewritten or cleared known answer;
- one `taxonomy.relabel` per item sent back: its state, split, known
  answer, consensus and discarded annotations before, and where it is now.

Bad data: a label key in an annotation, consensus or known answer of the
previous version that is not a key of it raises `ValidationError` naming the
item. Nothing is written: the caller's transaction rolls back, new version
included.

Locking. The caller holds the project row. This then locks the project's
open leases (`FOR UPDATE`) and every item row of the project (`FOR NO KEY
UPDATE`), each in id order, before reading anything: the lease-then-item
order of `submit` and `leases`, so no submit, review decision or lease
expiry interleaves. They wait, then validate against the new version;
`next_item` skips locked items (`SKIP LOCKED`), so annotators are served
nothing for the moment the migration takes. A lease claimed between the two
lock statements is not locked: if its proposal is deleted here while its
submit waits for the item, PostgreSQL reports a deadlock and one of the two
transactions fails whole (a retry succeeds).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labelops.annotation.models import (
    AgreementSnapshot,
    Annotation,
    Consensus,
    Lease,
    LeaseOutcome,
    Recompute,
    RecomputeKind,
    ReviewTask,
)
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import Proposal
from labelops.projects.models import MappingKind, Project, TaxonomyVersion
from labelops.projects.services import check_taxonomy_version, write_taxonomy_version


@dataclass
class MigrationSummary:
    """What `migrate_to_version` did, counted (in the `taxonomy.create_version`
    event and the API response). `mapping` lists the old keys of each mapping kind."""

    from_version: int
    to_version: int
    mapping: dict[str, list[str]] = field(default_factory=dict)
    annotations_relabelled: int = 0
    annotations_carried: int = 0  # labels unchanged, stamped with the new version
    annotations_discarded: int = 0
    consensus_relabelled: int = 0
    consensus_carried: int = 0
    items_sent_back: int = 0
    gold_items_demoted: int = 0  # gold -> holdout, answer cleared
    answers_relabelled: int = 0
    answers_cleared: int = 0
    proposals_relabelled: int = 0
    proposals_dropped: int = 0
    review_tasks_closed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NewVersion:
    """What `create_taxonomy_version` made: the version, and what its mapping
    moved (None for a project's first version)."""

    version: TaxonomyVersion
    migration: MigrationSummary | None


@transaction.atomic
def create_taxonomy_version(
    *, actor, project: Project, labels: Iterable[dict[str, Any]], mapping: list[dict] | None = None, note: str = "",
) -> NewVersion:
    """Create the next taxonomy version from a full label list and a mapping
    from the previous version (`projects.services.check_taxonomy_version`
    says what is valid), and carry the project's labels into it. Records one
    `taxonomy.create_version` event with what moved. Locks the project row
    so two editors cannot both create "version N+1", then what
    `migrate_to_version` locks."""
    # NO KEY UPDATE: inserts that reference the project (an annotator's first
    # stats row, during a submit the migration waits on) must not deadlock with it.
    Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    draft = check_taxonomy_version(project=project, labels=labels, mapping=mapping)
    previous = draft.previous
    version = write_taxonomy_version(project=project, draft=draft, actor=actor, note=note)
    migration = None
    if previous is not None:
        migration = migrate_to_version(project=project, old_version=previous, new_version=version, actor=actor)
    record(actor=actor, verb="taxonomy.create_version", obj=version, project=project,
           before=previous.to_dict() if previous else None,
           after={**version.to_dict(), "mapping": list(draft.mapping),
                  "migration": migration.to_dict() if migration else None})
    return NewVersion(version=version, migration=migration)


def ensure_labels(*, actor, project: Project, keys: Iterable[str]) -> TaxonomyVersion:
    """The active taxonomy, if it has every key in `keys`; or, for a project
    with no taxonomy yet, a first version made of those keys (used by imports
    of labelled data). Unknown keys against an existing taxonomy are an error."""
    keys = sorted(set(keys))
    current = project.active_taxonomy()
    if current is None:
        return create_taxonomy_version(
            actor=actor, project=project, labels=[{"key": k, "name": k} for k in keys],
            note="created from the labels of an import",
        ).version
    missing = [k for k in keys if k not in current.keys()]
    if missing:
        raise ValidationError(f"label(s) not in taxonomy v{current.number}: {', '.join(missing)}")
    return current


@dataclass(frozen=True)
class KeyMap:
    """Where each key of the previous version goes: a key of the new version,
    or None when it has no single meaning there (split, deprecate)."""

    old_number: int
    targets: dict[str, str | None]

    @classmethod
    def between(cls, old_version: TaxonomyVersion, new_version: TaxonomyVersion) -> KeyMap:
        new_keys = new_version.keys()
        targets: dict[str, str | None] = {key: key for key in old_version.keys() if key in new_keys}
        for mapping in new_version.mappings.filter(from_version=old_version):
            merges = mapping.kind in (MappingKind.RENAME, MappingKind.MERGE) or (
                mapping.kind == MappingKind.DEPRECATE and len(mapping.to_keys) == 1)
            targets[mapping.from_key] = mapping.to_keys[0] if merges else None
        return cls(old_number=old_version.number, targets=targets)

    def translate(self, labels: list[str], *, where: str) -> list[str] | None:
        """`labels` in new keys, without repeats; None if one is dropped.
        A key that is not of the previous version is bad data: an error naming `where`."""
        unknown = [key for key in labels if key not in self.targets]
        if unknown:
            raise ValidationError({"mapping": (
                f"{where} has label(s) {', '.join(map(repr, unknown))} that are not in taxonomy "
                f"v{self.old_number}: correct them before changing the taxonomy"
            )})
        result: list[str] = []
        for key in labels:
            target = self.targets[key]
            if target is None:
                return None
            if target not in result:
                result.append(target)
        return result

    def translate_proposal(self, labels: list[str], probabilities: dict[str, float]):
        """(labels, probabilities) in new keys, merged probabilities summed and
        dropped ones removed; labels None if the proposal used a dropped key.
        Keys unknown to the previous version count as dropped: a proposal is
        a suggestion, never a reason to refuse a new taxonomy."""
        targets = [self.targets.get(key) for key in labels]
        labels_out: list[str] | None = None
        if None not in targets:
            labels_out = list(dict.fromkeys(target for target in targets if target is not None))
        summed: dict[str, float] = defaultdict(float)
        for key, probability in probabilities.items():
            target = self.targets.get(key)
            if target is not None:
                summed[target] += probability
        return labels_out, dict(summed)


def migrate_to_version(*, project: Project, old_version: TaxonomyVersion, new_version: TaxonomyVersion,
                       actor) -> MigrationSummary:
    """Move the project's labels from `old_version` into `new_version` by the
    new version's mapping (module docstring). `create_taxonomy_version`
    calls it in the transaction that created `new_version`, holding the
    project row lock; locks the project's open leases, then its item rows.
    The caller records the returned counts."""
    keys = KeyMap.between(old_version, new_version)
    mapping: dict[str, list[str]] = defaultdict(list)
    for kind, from_key in new_version.mappings.values_list("kind", "from_key"):
        mapping[kind].append(from_key)
    summary = MigrationSummary(from_version=old_version.number, to_version=new_version.number, mapping=dict(mapping))
    _lock(project)

    annotations = list(Annotation.objects.active().filter(item__project=project, taxonomy_version=old_version)
                       .select_related("item").order_by("id"))
    new_labels = {a.pk: keys.translate(a.labels, where=f"annotation {a.pk} of item {a.item_id}")
                  for a in annotations}
    consensuses = list(Consensus.objects.filter(item__project=project, taxonomy_version=old_version).order_by("item_id"))
    consensus_labels = {c.item_id: keys.translate(c.labels, where=f"the consensus of item {c.item_id}")
                        for c in consensuses}
    answered = list(Item.objects.filter(project=project, gold_labels__isnull=False).order_by("id"))
    answers = {item.pk: keys.translate(list(item.gold_labels), where=f"the known answer of item {item.pk}")
               for item in answered}

    demoted = {item.pk for item in answered if item.split == Split.GOLD and answers[item.pk] is None}
    sent_back = demoted | {
        a.item_id for a in annotations if new_labels[a.pk] is None and a.item.split != Split.GOLD
    } | {item_id for item_id, labels in consensus_labels.items() if labels is None}

    _migrate_answers(project, answered, answers, demoted, actor, summary)
    for item in Item.objects.filter(pk__in=sent_back).order_by("id"):
        _send_back(project, item, item.pk in demoted, consensus_labels.get(item.pk, []) is None, new_version,
                   actor, summary)
    _migrate_annotations(project, [a for a in annotations if a.item_id not in sent_back], new_labels,
                         new_version, actor, summary)
    _migrate_consensus(project, [c for c in consensuses if c.item_id not in sent_back], consensus_labels,
                       new_version, actor, summary)
    _migrate_proposals(project, keys, summary)
    # Metrics of the previous version describe none of the new data: the
    # next request queues a recomputation (`labelops.quality.services.schedule`).
    AgreementSnapshot.objects.filter(project=project).update(metrics={}, computed_at=None)
    Recompute.objects.filter(project=project, kind=RecomputeKind.AGREEMENT).reset()
    return summary


def _lock(project: Project) -> None:
    """Open leases, then item rows, each in id order (module docstring)."""
    list(Lease.objects.open().filter(item__project=project).select_for_update(of=("self",))
         .order_by("id").values_list("id", flat=True))
    list(Item.objects.filter(project=project).select_for_update(no_key=True).order_by("id")
         .values_list("id", flat=True))


def _migrate_answers(project, answered, answers, demoted, actor, summary) -> None:
    """Rewrite known answers; clear those of pool and holdout items that used
    a dropped key. Demoted gold items are handled by `_send_back`."""
    for item in answered:
        labels = answers[item.pk]
        if item.pk in demoted or labels == item.gold_labels:
            continue
        before = list(item.gold_labels)
        Item.objects.filter(pk=item.pk).update(gold_labels=labels)
        if labels is None:
            summary.answers_cleared += 1
        else:
            summary.answers_relabelled += 1
        record(actor=actor, verb="item.migrate_answer", obj=item, project=project,
               before={"gold_labels": before}, after={"gold_labels": labels})


def _send_back(project: Project, item: Item, demote: bool, consensus_dropped: bool, new_version, actor, summary) -> None:
    """Put a pool or holdout item (or a gold item losing its answer) back in
    the queue to be labelled from scratch (module docstring)."""
    live = Annotation.objects.active().filter(item=item)
    discarded = list(live.order_by("id").values("id", "annotator_id", "labels", "taxonomy_version_id"))
    consensus = Consensus.objects.filter(item=item).first()
    before = {
        "state": item.state, "split": item.split, "gold_labels": item.gold_labels,
        "consensus": consensus.to_dict() if consensus else None,
        "annotations": [{"id": a["id"], "annotator": a["annotator_id"], "labels": a["labels"],
                         "taxonomy_version": a["taxonomy_version_id"]} for a in discarded],
    }
    live.update(discarded=True)
    Lease.objects.filter(item=item, annotator_id__in=[a["annotator_id"] for a in discarded],
                         outcome=LeaseOutcome.SUBMITTED).update(outcome=LeaseOutcome.REJECTED)
    Consensus.objects.clear(item.pk)
    summary.review_tasks_closed += ReviewTask.objects.open().filter(item=item).update(closed_at=timezone.now())
    if demote:
        item.split, item.gold_labels = Split.HOLDOUT, None
        summary.gold_items_demoted += 1
    item.annotation_count, item.state = 0, ItemState.UNLABELLED
    item.save(update_fields=["split", "gold_labels", "annotation_count", "state"])
    summary.items_sent_back += 1
    summary.annotations_discarded += len(discarded)
    reason = ("its known answer" if demote else "its consensus" if consensus_dropped else "an annotation")
    record(actor=actor, verb="taxonomy.relabel", obj=item, project=project, before=before,
           after={"state": item.state, "split": item.split, "gold_labels": item.gold_labels,
                  "taxonomy_version": new_version.number,
                  "reason": f"{reason} used a label that is split or deprecated in v{new_version.number}"})


def _migrate_annotations(project, annotations, new_labels, new_version, actor, summary) -> None:
    carried, relabelled = [], []
    for annotation in annotations:
        labels = new_labels[annotation.pk]
        if labels is None:  # on a gold item that keeps its answer
            before = annotation.to_dict()
            Annotation.objects.filter(pk=annotation.pk).update(discarded=True)
            Item.objects.filter(pk=annotation.item_id).update(annotation_count=F("annotation_count") - 1)
            summary.review_tasks_closed += ReviewTask.objects.open().filter(annotation=annotation).update(
                closed_at=timezone.now())
            summary.annotations_discarded += 1
            record(actor=actor, verb="annotation.migrate", obj=annotation, project=project, before=before,
                   after={**before, "discarded": True})
        elif labels == annotation.labels:
            carried.append(annotation.pk)
        else:
            before = annotation.to_dict()
            annotation.labels, annotation.taxonomy_version = labels, new_version
            relabelled.append(annotation)
            record(actor=actor, verb="annotation.migrate", obj=annotation, project=project, before=before,
                   after=annotation.to_dict())
    Annotation.objects.bulk_update(relabelled, ["labels", "taxonomy_version"], batch_size=500)
    Annotation.objects.filter(pk__in=carried).update(taxonomy_version=new_version)
    summary.annotations_relabelled += len(relabelled)
    summary.annotations_carried += len(carried)


def _migrate_consensus(project, consensuses, consensus_labels, new_version, actor, summary) -> None:
    carried = []
    for consensus in consensuses:
        labels = consensus_labels[consensus.item_id]
        if labels == consensus.labels:
            carried.append(consensus.pk)
            continue
        before = consensus.to_dict()
        Consensus.objects.put(consensus.item_id, labels=labels, current=consensus, taxonomy_version=new_version)
        summary.consensus_relabelled += 1
        record(actor=actor, verb="consensus.migrate", obj=consensus, project=project, before=before,
               after={**before, "labels": labels, "taxonomy_version": new_version.pk})
    Consensus.objects.filter(pk__in=carried).update(taxonomy_version=new_version)
    summary.consensus_carried += len(carried)


def _migrate_proposals(project, keys: KeyMap, summary) -> None:
    changed, dropped = [], []
    for proposal in Proposal.objects.filter(item__project=project).order_by("id"):
        labels, probabilities = keys.translate_proposal(list(proposal.labels), dict(proposal.probabilities or {}))
        if labels is None:
            dropped.append(proposal.pk)
        elif labels != proposal.labels or probabilities != (proposal.probabilities or {}):
            proposal.labels, proposal.probabilities = labels, probabilities
            changed.append(proposal)
    Proposal.objects.bulk_update(changed, ["labels", "probabilities"], batch_size=500)
    Proposal.objects.filter(pk__in=dropped).delete()
    summary.proposals_relabelled += len(changed)
    summary.proposals_dropped += len(dropped)
