"""The audit trail: every project service write leaves one event (actor,
verb, object, before, after) in its transaction, and events never change."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AppendOnlyError, AuditEvent
from labelops.audit.services import record
from labelops.projects import services
from labelops.projects.models import Membership

pytestmark = pytest.mark.django_db


def only_new_event(since: int) -> AuditEvent:
    (event,) = AuditEvent.objects.filter(id__gt=since)
    return event


def last_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def membership(project, user):
    return Membership.objects.get(project=project, user=user)


# Each write: (verb, the call, what `before` and `after` must contain, the object it names).
WRITES = {
    "project.create": (
        lambda p, u: services.create_project(actor=u["lead"], name="New", description="d"),
        lambda result, p, u: (None, {"name": "New", "description": "d"}, result),
    ),
    "project.update": (
        lambda p, u: services.update_project(actor=u["lead"], project=p, name="Renamed"),
        lambda result, p, u: ({"name": "Tickets"}, {"name": "Renamed"}, p),
    ),
    "rules.update": (
        lambda p, u: services.update_rules(actor=u["lead"], project=p, overlap=3),
        lambda result, p, u: ({"overlap": 1}, {"overlap": 3}, result),
    ),
    "member.add": (
        lambda p, u: services.add_member(actor=u["lead"], project=p, user=u["outsider"], role="reviewer"),
        lambda result, p, u: (None, {"user": u["outsider"].pk, "role": "reviewer"}, result),
    ),
    "member.role": (
        lambda p, u: services.change_role(actor=u["lead"], membership=membership(p, u["annotator"]), role="reviewer"),
        lambda result, p, u: ({"role": "annotator"}, {"role": "reviewer"}, result),
    ),
    "member.remove": (
        lambda p, u: services.remove_member(actor=u["lead"], membership=membership(p, u["annotator"])),
        lambda result, p, u: ({"user": u["annotator"].pk, "role": "annotator"}, None, None),
    ),
    "taxonomy.create_version": (
        lambda p, u: create_taxonomy_version(
            actor=u["lead"], project=p, labels=[{"key": "billing"}, {"key": "defect"}],
            mapping=[{"kind": "rename", "from": "bug", "to": ["defect"]}, {"kind": "deprecate", "from": "other"}],
        ).version,
        lambda result, p, u: ({"number": 1}, {"number": 2, "mapping": [
            {"kind": "rename", "from": "bug", "to": ["defect"]}, {"kind": "deprecate", "from": "other", "to": []},
        ]}, result),
    ),
    "user.grant_lead_admin": (
        lambda p, u: services.grant_lead_admin(actor=u["lead"], user=u["reviewer"]),
        lambda result, p, u: ({"is_staff": False, "groups": []}, {"is_staff": True, "groups": ["Leads"]}, result),
    ),
    "user.revoke_lead_admin": (
        lambda p, u: services.revoke_lead_admin(
            actor=u["lead"], user=services.grant_lead_admin(actor=u["lead"], user=u["reviewer"]),
        ),
        lambda result, p, u: ({"is_staff": True, "groups": ["Leads"]}, {"is_staff": False, "groups": []}, result),
    ),
}


@pytest.mark.parametrize("verb", list(WRITES))
def test_every_service_write_records_one_event(verb, project, lead, reviewer, annotator, outsider):
    people = {"lead": lead, "reviewer": reviewer, "annotator": annotator, "outsider": outsider}
    call, expect = WRITES[verb]
    before_call = last_id()
    if verb == "user.revoke_lead_admin":  # its setup (a grant) writes an event of its own
        services.grant_lead_admin(actor=lead, user=reviewer)
        before_call = last_id()
        result = services.revoke_lead_admin(actor=lead, user=reviewer)
    else:
        result = call(project, people)
    before, after, obj = expect(result, project, people)

    event = only_new_event(before_call)
    assert event.verb == verb
    assert event.actor == lead
    assert event.created_at is not None
    if obj is not None:
        assert (event.object_type, event.object_id) == (obj._meta.label_lower, str(obj.pk))
    for expected, actual in ((before, event.before), (after, event.after)):
        if expected is None:
            assert actual is None
        else:
            assert expected.items() <= actual.items(), (expected, actual)
    if verb.startswith("user."):
        assert event.project is None  # system-wide: user administration
    elif verb != "project.create":
        assert event.project_id == project.pk


def test_a_refused_write_records_nothing(project, lead):
    since = last_id()
    with pytest.raises(ValidationError):
        services.remove_member(actor=lead, membership=membership(project, lead))
    with pytest.raises(ValidationError):
        services.update_rules(actor=lead, project=project, overlap=0)
    assert not AuditEvent.objects.filter(id__gt=since).exists()


def test_system_writes_have_no_actor(db):
    project = services.create_project(actor=None, name="Made by the system")
    event = AuditEvent.objects.for_object(project).get()
    assert event.actor is None
    assert project.memberships.count() == 0


def test_events_are_queried_by_project_and_object(project, lead):
    rules = services.update_rules(actor=lead, project=project, overlap=2)
    assert list(AuditEvent.objects.for_object(rules).values_list("verb", flat=True)) == ["rules.update"]
    assert AuditEvent.objects.for_project(project).filter(verb="member.add").count() == 3


# --- append-only --------------------------------------------------------------------------


@pytest.fixture
def event(project, lead):
    return record(actor=lead, verb="test.poke", obj=project, project=project, after={"n": 1})


def test_saving_an_existing_event_is_refused(event):
    event.verb = "test.rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).verb == "test.poke"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(verb="test.rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(after=None)


def test_queryset_delete_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_update_is_refused(event):
    event.verb = "test.rewritten"
    with pytest.raises(AppendOnlyError), transaction.atomic():  # bulk_update joins the outer transaction
        AuditEvent.objects.bulk_update([event], ["verb"])
    assert AuditEvent.objects.get(pk=event.pk).verb == "test.poke"
