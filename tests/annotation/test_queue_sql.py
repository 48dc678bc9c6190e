"""The queue's statements written as SQL (`queue_sql`) read the same
instances the ORM would: same field values after conversion (JSON, booleans
and datetimes differ by database), the role, the rules and the taxonomy."""

from __future__ import annotations

import pytest
from django.db import transaction

from labelops.annotation.models import Lease
from labelops.annotation.services import next_item, queue_sql
from labelops.projects.models import Project
from tests.annotation.conftest import import_proposal, make_items

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_project_read_matches_the_orm(queue_project, annotator):
    read = queue_sql.project_for_queue(annotator.pk, queue_project.pk)
    orm = Project.objects.select_related("rules").get(pk=queue_project.pk)
    assert fields(read) == fields(orm)
    assert isinstance(read.settings, dict)
    assert fields(read.rules) == fields(orm.rules)
    assert read.rules.review_disputed is True  # a boolean, not SQLite's 1
    assert read.member_role == "annotator"
    version = orm.active_taxonomy()
    assert (read.queue_taxonomy.pk, read.queue_taxonomy.number, read.queue_taxonomy.created_at) == (
        version.pk, version.number, version.created_at)
    assert read.queue_taxonomy.label_tree == version.label_tree
    assert (read.queue_has_taxonomy, read.queue_active_round, read.queue_bulk_verifying) == (True, None, False)
    assert read.queue_has_expired_leases is False


def test_no_project_and_no_membership_read_as_none(queue_project, outsider):
    assert queue_sql.project_for_queue(outsider.pk, queue_project.pk).member_role is None
    assert queue_sql.project_for_queue(outsider.pk, queue_project.pk + 1000) is None


def test_the_lease_read_matches_the_orm_and_is_only_the_annotators(queue_project, annotator, annotator2):
    [item] = make_items(queue_project, 1)
    proposal = import_proposal(item, ["bug"], confidence=0.75)
    claim = next_item(project=queue_project, annotator=annotator)
    assert claim.proposal == proposal
    orm = Lease.objects.select_related("proposal").get(pk=claim.lease.pk)
    with transaction.atomic():
        read = queue_sql.lock_lease(claim.lease.pk, annotator.pk, queue_project.pk)
        assert fields(read) == fields(orm)
        assert fields(read.proposal) == fields(orm.proposal)
        assert read.proposal.labels == ["bug"]
        with pytest.raises(Lease.DoesNotExist):
            queue_sql.lock_lease(claim.lease.pk, annotator2.pk, queue_project.pk)
        with pytest.raises(Lease.DoesNotExist):
            queue_sql.lock_lease(claim.lease.pk, annotator.pk, queue_project.pk + 1000)
        assert queue_sql.lock_lease(claim.lease.pk, annotator.pk, None).pk == claim.lease.pk
