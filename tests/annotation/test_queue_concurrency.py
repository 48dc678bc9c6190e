"""50 annotators working one small queue at once, each on its own database
connection: no item past its overlap target, no item twice for one
annotator, no lost submission, and counters equal to the real counts.

Needs PostgreSQL: SQLite serialises every write transaction, so it cannot
show that `SELECT ... FOR UPDATE SKIP LOCKED` in `next_item` does its job."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count, Q

from labelops.annotation.models import Annotation, Consensus, ConsensusStatus, Lease, ReviewTask
from labelops.annotation.services import next_item, submit
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.models import Item, ItemState
from labelops.projects import services as project_services
from tests.annotation.conftest import make_items, set_rules
from tests.conftest import require

ANNOTATORS = 50
ITEMS = 100
OVERLAP = 2


@pytest.mark.postgres
def test_fifty_annotators_at_once(transactional_db, lead, make_user):
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    project = project_services.create_project(actor=lead, name="Race")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}, {"key": "b"}])
    set_rules(project, lead, overlap=OVERLAP)
    make_items(project, ITEMS)
    users = [make_user(f"racer{n}") for n in range(ANNOTATORS)]
    for user in users:
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")

    barrier = threading.Barrier(ANNOTATORS)
    submitted: Counter = Counter()  # (item id, annotator id) -> successful submits
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(user):
        try:
            barrier.wait(timeout=30)
            while (claim := next_item(project=project, annotator=user)) is not None:
                submit(lease_id=claim.lease.pk, annotator=user, labels=["a" if user.pk % 2 else "b"], time_spent_ms=1)
                with lock:
                    submitted[(claim.item.pk, user.pk)] += 1
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    # No item over its overlap target, and none twice for one annotator.
    per_item = Counter(item_id for item_id, _ in submitted.elements())
    over = {item_id: n for item_id, n in per_item.items() if n > OVERLAP}
    assert over == {}, f"{len(over)} item(s) over overlap {OVERLAP}"
    assert max(submitted.values()) == 1
    # No lost submission: every successful submit is one stored annotation, and all the work got done.
    stored = Counter(Annotation.objects.filter(item__project=project).values_list("item_id", "annotator_id"))
    assert stored == submitted
    assert sum(submitted.values()) == ITEMS * OVERLAP
    # Counters equal the real counts.
    items = Item.objects.for_project(project).annotate(
        real_annotations=Count("annotations", filter=Q(annotations__discarded=False), distinct=True),
        real_open_leases=Count("leases", filter=Q(leases__closed_at__isnull=True), distinct=True),
    )
    for item in items:
        assert item.real_annotations == item.annotation_count == OVERLAP, item.pk
        assert item.real_open_leases == item.active_lease_count == 0, item.pk
        # Consensus settled each item in its last submit: a clear majority
        # is approved, a tie (a vs b) waits for a reviewer.
        consensus = Consensus.objects.get(item=item)
        expected = ItemState.APPROVED if consensus.status == ConsensusStatus.APPROVED else ItemState.IN_REVIEW
        assert item.state == expected, item.pk
    assert Lease.objects.filter(item__project=project).count() == ITEMS * OVERLAP
    assert ReviewTask.objects.open().count() == Item.objects.filter(state=ItemState.IN_REVIEW).count()


@pytest.mark.postgres
def test_sweeps_and_submits_racing_on_expired_leases(transactional_db, lead, make_user):
    """Several sweepers and the annotators themselves act on the same leases
    at once: every expired lease is closed exactly once, no expired lease is
    submitted, every live one is, and the counters stay exact."""
    from datetime import timedelta

    from django.utils import timezone

    from labelops.annotation.services import LeaseConflict, expire_leases
    from labelops.audit.models import AuditEvent

    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    project = project_services.create_project(actor=lead, name="Sweep")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}])
    set_rules(project, lead, overlap=1)
    make_items(project, 30)
    users = [make_user(f"sweeper{n}") for n in range(30)]
    for user in users:
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    claims = [next_item(project=project, annotator=user) for user in users]
    expired = {claim.lease.pk for claim in claims[::2]}
    Lease.objects.filter(pk__in=expired).update(expires_at=timezone.now() - timedelta(seconds=1))

    barrier = threading.Barrier(len(claims) + 6)
    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []

    def answer(claim):
        try:
            barrier.wait(timeout=30)
            submit(lease_id=claim.lease.pk, annotator=claim.lease.annotator, labels=["a"])
            outcomes[claim.lease.pk] = "submitted"
        except LeaseConflict:
            outcomes[claim.lease.pk] = "conflict"
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def sweep():
        try:
            barrier.wait(timeout=30)
            expire_leases()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer, args=(claim,)) for claim in claims]
    threads += [threading.Thread(target=sweep) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert {pk for pk, outcome in outcomes.items() if outcome == "conflict"} == expired
    assert len(outcomes) == len(claims)
    # A sweep skips (SKIP LOCKED) a lease whose late submit holds its lock at
    # that moment, so one can outlive all six racing sweeps; the next beat
    # pass closes it. Run that pass, then demand each closed exactly once.
    expire_leases()
    assert sorted(int(e.object_id) for e in AuditEvent.objects.filter(verb="lease.expire")) == sorted(expired)
    assert not Lease.objects.open().exists()
    for item in Item.objects.for_project(project):
        assert item.active_lease_count == 0
        assert item.annotation_count == Annotation.objects.filter(item=item).count()
