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


def test_the_context_read_matches_the_orm(queue_project, annotator):
    context = queue_sql.read_queue_context(annotator.pk, queue_project.pk)
    orm = Project.objects.select_related("rules").get(pk=queue_project.pk)
    assert fields(context.project) == fields(orm)
    assert isinstance(context.project.settings, dict)
    assert fields(context.rules) == fields(orm.rules)
    assert context.project.rules is context.rules  # the relation's cache: no query to reach it
    assert context.rules.review_disputed is True  # a boolean, not SQLite's 1
    assert context.role == "annotator"
    version = orm.active_taxonomy()
    assert (context.taxonomy.pk, context.taxonomy.number, context.taxonomy.created_at) == (
        version.pk, version.number, version.created_at)
    assert context.taxonomy.label_tree == version.label_tree
    assert (context.active_round, context.bulk_verifying, context.has_expired_leases) == (None, False, False)


def test_no_project_and_no_membership_read_as_none(queue_project, outsider):
    assert queue_sql.read_queue_context(outsider.pk, queue_project.pk).role is None
    assert queue_sql.read_queue_context(outsider.pk, queue_project.pk + 1000) is None
    with pytest.raises(Project.DoesNotExist):
        queue_sql.queue_context(queue_project.pk + 1000)


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
