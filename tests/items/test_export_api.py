"""GET /projects/<id>/export/: who may export, the responses, the audit
event, and that a large export reads in batches (bounded queries)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile

import pyarrow.parquet as pq
import pytest

from labelops.annotation.models import Annotation, Consensus, FinalLabel
from labelops.audit.models import AuditEvent
from labelops.items.models import Item
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def url(project, query=""):
    return f"/api/v1/projects/{project.pk}/export/" + (f"?{query}" if query else "")


def content(response) -> bytes:
    return b"".join(response.streaming_content)



def test_lead_downloads_jsonl_by_default_streamed(project, lead, api, labelled_items):
    response = api(lead).get(url(project))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert response["Content-Disposition"] == f'attachment; filename="project-{project.pk}-export.jsonl"'
    assert response["X-Content-Type-Options"] == "nosniff"
    rows = [json.loads(line) for line in content(response).splitlines()]
    assert [r["id"] for r in rows] == ["t-1", str(labelled_items["fixed"].pk), "t-5"]


def test_csv_through_the_format_parameter(project, lead, api, labelled_items):
    # DRF would read ?format= as a renderer name and answer 404; the view owns it.
    response = api(lead).get(url(project, "format=csv&status=all"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(content(response).decode(), newline="")))
    assert len(rows) == 5


def test_label_studio_with_split(project, lead, api, labelled_items):
    response = api(lead).get(url(project, "format=label_studio&split=holdout"))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('export.json"')
    tasks = json.loads(content(response))
    assert [t["data"]["external_id"] for t in tasks] == ["t-5"]


def test_parquet_download_leaves_no_temporary_file(project, lead, api, labelled_items, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    response = api(lead).get(url(project, "format=parquet"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    data = content(response)
    response.close()
    assert pq.read_table(io.BytesIO(data)).num_rows == 3
    assert list(tmp_path.glob("labelops-export-*")) == []


def test_image_rows_link_to_the_item_file_endpoint(lead, api):
    project = project_services.create_project(actor=lead, name="Pictures", modality="image")
    item = Item.objects.create(project=project, file="items/x.png", content_type="image/png", content_hash="x")
    rows = [json.loads(line) for line in content(api(lead).get(url(project, "status=all"))).splitlines()]
    assert rows[0]["image"] == f"http://testserver/api/v1/projects/{project.pk}/items/{item.pk}/file/"


def test_export_is_audited_with_its_options(project, lead, api, labelled_items):
    content(api(lead).get(url(project, "format=csv&split=pool")))
    event = AuditEvent.objects.get(verb="items.export")
    assert event.actor == lead and event.project_id == project.pk
    assert event.object_type == "projects.project" and event.object_id == str(project.pk)
    assert event.after == {"format": "csv", "status": "approved", "split": "pool", "batch_size": 1000}


@pytest.mark.parametrize("query, field", [("format=xlsx", "format"), ("status=some", "status"), ("split=x", "split")])
def test_bad_options_are_400_and_not_audited(project, lead, api, query, field):
    response = api(lead).get(url(project, query))
    assert response.status_code == 400
    assert field in response.json()
    assert not AuditEvent.objects.filter(verb="items.export").exists()


@pytest.mark.parametrize("persona", ["reviewer", "annotator"])
def test_reviewers_and_annotators_may_not_export(project, api, request, persona):
    response = api(request.getfixturevalue(persona)).get(url(project, "format=csv"))
    assert response.status_code == 403
    assert "lead" in response.json()["detail"]


def test_outsider_gets_404(project, outsider, api):
    assert api(outsider).get(url(project, "format=csv")).status_code == 404


def bulk_labelled_project(project, annotators, count):
    """`count` approved items, each with one annotation per annotator, made in bulk."""
    version = project.active_taxonomy()
    items = Item.objects.bulk_create(
        Item(project=project, text=f"text {n}", content_hash=hashlib.sha256(str(n).encode()).hexdigest(),
             external_id=f"e{n}", state="approved")
        for n in range(count)
    )
    Annotation.objects.bulk_create(
        Annotation(item=item, annotator=user, labels=["bug"], taxonomy_version=version)
        for item in items for user in annotators
    )
    Consensus.objects.bulk_create(
        Consensus(item=item, labels=["bug"], method="majority", agreement=1.0, status="approved",
                  taxonomy_version=version)
        for item in items
    )
    FinalLabel.objects.bulk_create(FinalLabel(item=item, key="bug") for item in items)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "label_studio", "parquet"])
def test_large_export_reads_in_batches_not_per_item(
    project, lead, annotator, annotator2, api, fmt, django_assert_max_num_queries,
):
    bulk_labelled_project(project, [annotator, annotator2], 2500)
    client = api(lead)
    # 3 batches of 1000 x 3 queries, the project and role, one audit insert: 2500 items.
    with django_assert_max_num_queries(15):
        response = client.get(url(project, f"format={fmt}"))
        data = content(response)
    if fmt == "jsonl":
        lines = data.splitlines()
        assert len(lines) == 2500
        assert json.loads(lines[-1])["provenance"]["annotators"] == ["annotator", "annotator2"]
    elif fmt == "parquet":
        assert pq.read_table(io.BytesIO(data)).num_rows == 2500
