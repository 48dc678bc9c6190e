"""The Django admin for leads: each sees only the projects they lead, saves go
through the services (and so into the audit trail), and the audit trail
cannot be edited there by anyone."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.contrib.auth.models import Group
from django.test import Client

from labelops.annotation.models import Annotation, Consensus, Review
from labelops.audit.models import AuditEvent
from labelops.items.models import ImportJob, Item
from labelops.learning.models import ModelVersion, TrainingRound
from labelops.projects import services
from labelops.projects.admin_scoping import CappedCountPaginator
from labelops.projects.models import Membership, Project, QualityRules, TaxonomyVersion

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------------------


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(form) -> dict:
    """What a browser would post back for `form`, unchanged."""
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[form.add_prefix(name)] = "on"
        elif value is not None:
            data[form.add_prefix(name)] = value
    return data


def change_form_data(response) -> dict:
    """The POST data of an admin change page as it was rendered: the main form,
    then every inline formset with its management form."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(form_data(formset.management_form))
        for form in formset.forms:
            data.update(form_data(form))
    return data


def add_inline_form(data: dict, prefix: str, **fields) -> None:
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = index + 1
    for name, value in fields.items():
        data[f"{prefix}-{index}-{name}"] = value


def changelist_project_ids(client, url, project_field="project_id") -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    rows = response.context["cl"].result_list
    ids = set()
    for row in rows:
        value = row
        for part in project_field.split("."):
            value = getattr(value, part)
        ids.add(value)
    return ids


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def staff_lead(project, lead):
    return services.grant_lead_admin(actor=None, user=lead)


@pytest.fixture
def root(make_user):
    return make_user("root", is_superuser=True, is_staff=True)


def fill(project, annotator, reviewer, n: int):
    """One object of every admin-listed kind in `project`."""
    version = project.active_taxonomy()
    key = sorted(version.keys())[0]
    item = Item.objects.create(project=project, text=f"text {n}", content_hash=f"hash-{n}", external_id=f"ext-{n}")
    Annotation.objects.create(item=item, annotator=annotator, labels=[key], taxonomy_version=version)
    Consensus.objects.create(item=item, labels=[key], method="majority", taxonomy_version=version)
    Review.objects.create(item=item, reviewer=reviewer, decision="accept")
    ImportJob.objects.create(project=project, format="csv", source=f"imports/{n}.csv")
    training_round = TrainingRound.objects.create(project=project, number=1, state="done")
    ModelVersion.objects.create(project=project, round=training_round, is_active=True)


@pytest.fixture
def corpus(project, other_project, annotator, reviewer, other_lead):
    fill(project, annotator, reviewer, 1)
    fill(other_project, other_lead, other_lead, 2)


CHANGELISTS = [
    ("/admin/projects/project/", "pk"),
    ("/admin/projects/taxonomyversion/", "project_id"),
    ("/admin/items/item/", "project_id"),
    ("/admin/items/importjob/", "project_id"),
    ("/admin/annotation/annotation/", "item.project_id"),
    ("/admin/annotation/consensus/", "item.project_id"),
    ("/admin/annotation/review/", "item.project_id"),
    ("/admin/learning/traininground/", "project_id"),
    ("/admin/learning/modelversion/", "project_id"),
    ("/admin/audit/auditevent/", "project_id"),
]


# --- who gets in ------------------------------------------------------------------------


def test_leading_a_project_alone_does_not_open_the_admin(project, lead):
    response = admin_client(lead).get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_grant_lead_admin_makes_a_staff_member_of_the_leads_group(staff_lead):
    assert staff_lead.is_staff and not staff_lead.is_superuser
    assert list(staff_lead.groups.values_list("name", flat=True)) == ["Leads"]
    assert staff_lead.has_perm("projects.change_project")
    assert staff_lead.has_perm("audit.view_auditevent")
    assert not staff_lead.has_perm("audit.change_auditevent")
    assert not staff_lead.has_perm("auth.view_user")
    assert admin_client(staff_lead).get("/admin/").status_code == 200


def test_the_leads_group_is_kept_to_the_declared_permissions(db):
    group = services.ensure_leads_group()
    from django.contrib.auth.models import Permission

    group.permissions.add(Permission.objects.get(codename="delete_project"))
    again = services.ensure_leads_group()
    assert again.pk == group.pk
    names = {f"{p.content_type.app_label}.{p.codename}" for p in again.permissions.select_related("content_type")}
    assert names == set(services.LEAD_ADMIN_PERMISSIONS)
    assert Group.objects.filter(name="Leads").count() == 1


def test_revoking_closes_the_admin_but_keeps_the_projects(project, staff_lead):
    services.revoke_lead_admin(actor=None, user=staff_lead)
    staff_lead.refresh_from_db()
    assert not staff_lead.is_staff
    assert project.role_of(staff_lead) == "lead"
    assert admin_client(staff_lead).get("/admin/").status_code == 302


# --- what they see ----------------------------------------------------------------------


@pytest.mark.parametrize("url,project_field", CHANGELISTS)
def test_a_lead_sees_only_their_projects(corpus, project, staff_lead, url, project_field):
    assert changelist_project_ids(admin_client(staff_lead), url, project_field) == {project.pk}


@pytest.mark.parametrize("url,project_field", CHANGELISTS)
def test_a_staff_lead_of_nothing_sees_nothing(corpus, outsider, url, project_field):
    services.grant_lead_admin(actor=None, user=outsider)
    assert changelist_project_ids(admin_client(outsider), url, project_field) == set()


@pytest.mark.parametrize("url,project_field", CHANGELISTS)
def test_a_superuser_sees_every_project(corpus, project, other_project, root, url, project_field):
    assert changelist_project_ids(admin_client(root), url, project_field) == {project.pk, other_project.pk}


def test_reviewers_who_are_staff_see_nothing_of_projects_they_only_review(corpus, project, reviewer):
    services.grant_lead_admin(actor=None, user=reviewer)  # staff, but a reviewer in `project`
    assert changelist_project_ids(admin_client(reviewer), "/admin/projects/project/", "pk") == set()


def test_another_projects_pages_are_not_found(corpus, other_project, staff_lead):
    client = admin_client(staff_lead)
    item = Item.objects.get(project=other_project)
    for url in (
        f"/admin/projects/project/{other_project.pk}/change/",
        f"/admin/items/item/{item.pk}/change/",
        f"/admin/projects/taxonomyversion/{other_project.active_taxonomy().pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url  # "doesn't exist. Perhaps it was deleted?"
        assert response["Location"] == "/admin/"


def test_the_project_filter_lists_only_led_projects(corpus, project, staff_lead):
    response = admin_client(staff_lead).get("/admin/items/item/")
    (project_filter,) = [f for f in response.context["cl"].filter_specs if f.title == "project"]
    assert project_filter.lookup_choices == [(project.pk, project.name)]


def test_item_lists_never_count_the_whole_table(project, staff_lead, monkeypatch):
    for n in range(5):
        Item.objects.create(project=project, text=f"t{n}", content_hash=f"h{n}")
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    response = admin_client(staff_lead).get("/admin/items/item/")
    changelist = response.context["cl"]
    assert changelist.result_count == 3
    assert changelist.full_result_count is None  # show_full_result_count = False


def test_item_search_finds_by_external_id_and_text(corpus, project, staff_lead):
    client = admin_client(staff_lead)
    assert [i.external_id for i in client.get("/admin/items/item/?q=ext-1").context["cl"].result_list] == ["ext-1"]
    assert len(client.get("/admin/items/item/?q=text").context["cl"].result_list) == 1  # other project's is hidden
    assert client.get("/admin/items/item/?q=ext-2").context["cl"].result_list.count() == 0


def test_annotation_search_by_item_id(corpus, project, staff_lead):
    item = Item.objects.get(project=project)
    response = admin_client(staff_lead).get(f"/admin/annotation/annotation/?q={item.pk}")
    assert [a.item_id for a in response.context["cl"].result_list] == [item.pk]
    assert admin_client(staff_lead).get("/admin/annotation/annotation/?q=zzz").status_code == 200


@pytest.mark.parametrize(
    "url", ["/admin/items/item/", "/admin/annotation/annotation/", "/admin/learning/traininground/"]
)
def test_corpus_and_learning_pages_are_read_only(corpus, root, url):
    client = admin_client(root)
    assert client.get(url + "add/").status_code == 403
    assert client.get(url).context["cl"].model_admin.has_change_permission(None) is False


# --- the audit trail --------------------------------------------------------------------


def test_audit_events_are_read_only_even_for_superusers(project, root):
    event = AuditEvent.objects.filter(project=project).first()
    client = admin_client(root)
    base = f"/admin/audit/auditevent/{event.pk}"
    assert client.get(f"{base}/change/").status_code == 200  # viewable
    assert client.post(f"{base}/change/", {"verb": "rewritten"}).status_code == 403
    assert client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    response = client.post("/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk]})
    assert AuditEvent.objects.filter(pk=event.pk, verb=event.verb).exists()
    assert response.status_code in (200, 302)


def test_user_administration_events_are_for_superusers_only(project, staff_lead, root):
    grant = AuditEvent.objects.get(verb="user.grant_lead_admin")
    assert admin_client(staff_lead).get(f"/admin/audit/auditevent/{grant.pk}/change/").status_code == 302
    assert admin_client(root).get(f"/admin/audit/auditevent/{grant.pk}/change/").status_code == 200


# --- saving goes through the services ---------------------------------------------------


def test_a_lead_creates_a_project_in_the_admin_and_leads_it(staff_lead):
    response = admin_client(staff_lead).post("/admin/projects/project/add/", {
        "name": "From the admin", "description": "", "modality": "text", "task": "single_label", "settings": "{}",
    })
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    created = Project.objects.get(name="From the admin")
    assert created.role_of(staff_lead) == "lead"
    assert QualityRules.objects.filter(project=created).exists()
    assert created.config.batch_size == 100  # settings normalised by the service
    assert AuditEvent.objects.filter(verb="project.create", object_id=str(created.pk), actor=staff_lead).exists()


def test_saving_a_project_records_an_audit_event(project, staff_lead):
    client = admin_client(staff_lead)
    url = f"/admin/projects/project/{project.pk}/change/"
    data = change_form_data(client.get(url))
    data["name"] = "Renamed in the admin"
    data["settings"] = json.dumps({**project.settings, "batch_size": 25})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    project.refresh_from_db()
    assert (project.name, project.config.batch_size) == ("Renamed in the admin", 25)
    event = AuditEvent.objects.get(verb="project.update")
    assert event.actor == staff_lead
    assert (event.before["name"], event.after["name"]) == ("Tickets", "Renamed in the admin")


def test_bad_settings_are_a_form_error(project, staff_lead):
    client = admin_client(staff_lead)
    url = f"/admin/projects/project/{project.pk}/change/"
    data = change_form_data(client.get(url))
    data["settings"] = json.dumps({"batch_sise": 25})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "batch_sise" in str(response.context["adminform"].form.errors["settings"])
    assert not AuditEvent.objects.filter(verb="project.update").exists()


def test_rules_and_members_change_through_the_services(project, staff_lead, annotator, outsider):
    client = admin_client(staff_lead)
    url = f"/admin/projects/project/{project.pk}/change/"
    data = change_form_data(client.get(url))
    data["rules-0-overlap"] = 3
    annotator_row = next(
        key.rsplit("-", 1)[0] for key, value in data.items()
        if key.startswith("memberships-") and key.endswith("-id")
        and value == Membership.objects.get(project=project, user=annotator).pk
    )
    data[f"{annotator_row}-role"] = "reviewer"
    add_inline_form(data, "memberships", user="outsider", role="annotator")
    response = client.post(url, data)
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"]
    ]
    assert QualityRules.objects.get(project=project).overlap == 3
    assert project.role_of(annotator) == "reviewer"
    assert project.role_of(outsider) == "annotator"
    verbs = set(AuditEvent.objects.filter(actor=staff_lead, verb__in=["rules.update", "member.role", "member.add"])
                .values_list("verb", flat=True))
    assert verbs == {"rules.update", "member.role", "member.add"}
    assert not Membership.objects.get(project=project, user=outsider).user.is_staff


def test_removing_a_member_in_the_admin_is_audited(project, staff_lead, annotator2):
    client = admin_client(staff_lead)
    url = f"/admin/projects/project/{project.pk}/change/"
    data = change_form_data(client.get(url))
    pk = Membership.objects.get(project=project, user=annotator2).pk
    row = next(k.rsplit("-", 1)[0] for k, v in data.items() if k.endswith("-id") and v == pk)
    data[f"{row}-DELETE"] = "on"
    assert client.post(url, data).status_code == 302
    assert project.role_of(annotator2) is None
    assert AuditEvent.objects.filter(verb="member.remove", actor=staff_lead).exists()


def test_the_last_lead_cannot_step_down_in_the_admin(project, staff_lead):
    client = admin_client(staff_lead)
    url = f"/admin/projects/project/{project.pk}/change/"
    data = change_form_data(client.get(url))
    pk = Membership.objects.get(project=project, user=staff_lead).pk
    row = next(k.rsplit("-", 1)[0] for k, v in data.items() if k.endswith("-id") and v == pk)
    data[f"{row}-role"] = "annotator"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "at least one lead" in str(response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert project.role_of(staff_lead) == "lead"
    assert not AuditEvent.objects.filter(verb="member.role").exists()


def test_handing_over_the_lead_role_in_one_save(project, staff_lead, reviewer):
    client = admin_client(staff_lead)
    url = f"/admin/projects/project/{project.pk}/change/"
    data = change_form_data(client.get(url))
    for user, role in ((staff_lead, "reviewer"), (reviewer, "lead")):
        pk = Membership.objects.get(project=project, user=user).pk
        row = next(k.rsplit("-", 1)[0] for k, v in data.items() if k.endswith("-id") and v == pk)
        data[f"{row}-role"] = role
    assert client.post(url, data).status_code == 302
    assert (project.role_of(staff_lead), project.role_of(reviewer)) == ("reviewer", "lead")


def test_projects_cannot_be_deleted_in_the_admin(project, root):
    assert admin_client(root).get(f"/admin/projects/project/{project.pk}/delete/").status_code == 403


# --- taxonomy versions ------------------------------------------------------------------


def test_taxonomy_versions_are_immutable_in_the_admin(project, staff_lead):
    version = project.active_taxonomy()
    client = admin_client(staff_lead)
    url = f"/admin/projects/taxonomyversion/{version.pk}/change/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"note": "edited"}).status_code == 403
    assert client.get(f"/admin/projects/taxonomyversion/{version.pk}/delete/").status_code == 403


def test_a_new_version_starts_from_the_current_labels(project, staff_lead, other_project):
    response = admin_client(staff_lead).get(f"/admin/projects/taxonomyversion/add/?project={project.pk}")
    form = response.context["adminform"].form
    assert [label["key"] for label in form.initial["labels"]] == ["billing", "bug", "other"]
    assert list(form.fields["project"].queryset) == [project]  # never someone else's project


def test_a_new_version_through_the_admin_uses_the_service(project, staff_lead):
    labels = [{"key": "billing", "hotkey": "b"}, {"key": "defect", "hotkey": "d"}]
    mapping = [{"kind": "rename", "from": "bug", "to": ["defect"]}, {"kind": "deprecate", "from": "other"}]
    response = admin_client(staff_lead).post("/admin/projects/taxonomyversion/add/", {
        "project": project.pk, "note": "from the admin", "labels": json.dumps(labels), "mapping": json.dumps(mapping),
    })
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    version = TaxonomyVersion.objects.get(project=project, number=2)
    assert version.keys() == {"billing", "defect"}
    assert AuditEvent.objects.filter(
        verb="taxonomy.create_version", object_id=str(version.pk), actor=staff_lead
    ).exists()


def test_a_missing_mapping_is_a_form_error_naming_the_label(project, staff_lead):
    response = admin_client(staff_lead).post("/admin/projects/taxonomyversion/add/", {
        "project": project.pk, "note": "", "labels": json.dumps([{"key": "billing"}, {"key": "bug"}]), "mapping": "[]",
    })
    assert response.status_code == 200
    assert "other" in str(response.context["adminform"].form.errors["mapping"])
    assert project.active_taxonomy().number == 1


def test_a_new_version_for_another_project_is_refused(project, other_project, staff_lead):
    response = admin_client(staff_lead).post("/admin/projects/taxonomyversion/add/", {
        "project": other_project.pk, "labels": json.dumps([{"key": "secret"}]), "mapping": "[]",
    })
    assert response.status_code == 200
    assert "project" in response.context["adminform"].form.errors
    assert other_project.active_taxonomy().number == 1


def test_a_project_page_links_to_its_taxonomy(project, staff_lead):
    response = admin_client(staff_lead).get(f"/admin/projects/project/{project.pk}/change/")
    assert f"/admin/projects/taxonomyversion/add/?project={project.pk}" in response.content.decode()


def test_the_leads_group_is_synced_after_migrate(db):
    Group.objects.filter(name="Leads").delete()
    services.sync_leads_group(sender=None, using="default")
    assert Group.objects.get(name="Leads").permissions.count() == len(services.LEAD_ADMIN_PERMISSIONS)
