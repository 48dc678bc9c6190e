"""Serving an image item's stored file: headers, types, and the ARTIFACT_ROOT jail."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def png_bytes(colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def stored_png(artifact_root):
    path = artifact_root / "items" / "ab" / "abcdef.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(png_bytes())
    return path


def file_url(item):
    return f"/api/v1/projects/{item.project_id}/items/{item.pk}/file/"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_image_is_served_inline_with_its_verified_type_and_locked_down(project, annotator, api, stored_png, make_item):
    item = make_item(project, file="items/ab/abcdef.png", content_type="image/png")
    response = api(annotator).get(file_url(item), HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert response.status_code == 200
    assert body(response) == stored_png.read_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="item-{item.pk}.png"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_an_image_only_accept_header_is_not_refused(project, annotator, api, stored_png, make_item):
    item = make_item(project, file="items/ab/abcdef.png", content_type="image/png")
    assert api(annotator).get(file_url(item), HTTP_ACCEPT="image/png").status_code == 200


@pytest.mark.parametrize("content_type", ["image/svg+xml", "text/html", "", "image/png; charset=x"])
def test_types_off_the_allow_list_are_served_as_octet_stream(project, lead, api, stored_png, content_type, make_item):
    item = make_item(project, file="items/ab/abcdef.png", content_type=content_type)
    response = api(lead).get(file_url(item))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'inline; filename="item-{item.pk}.bin"'


def test_item_api_links_image_items_to_their_file(project, annotator, api, stored_png, make_item):
    item = make_item(project, file="items/ab/abcdef.png", content_type="image/png")
    data = api(annotator).get(f"/api/v1/projects/{project.pk}/items/{item.pk}/").json()
    assert data["modality"] == "image"
    assert data["file_url"] == "http://testserver" + file_url(item)


@pytest.mark.parametrize("stored", ["../outside.png", "items/../../outside.png", "/etc/passwd", "", "items"])
def test_paths_outside_the_artifact_root_or_not_files_are_404(project, lead, api, artifact_root, stored, make_item):
    artifact_root.mkdir(parents=True)
    (artifact_root / "items").mkdir()
    (artifact_root.parent / "outside.png").write_bytes(png_bytes())
    item = make_item(project, file=stored, content_type="image/png") if stored else make_item(project)
    assert api(lead).get(file_url(item)).status_code == 404


def test_a_symlink_out_of_the_root_is_404(project, lead, api, artifact_root, tmp_path, make_item):
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes())
    artifact_root.mkdir(parents=True)
    (artifact_root / "link.png").symlink_to(secret)
    item = make_item(project, file="link.png", content_type="image/png")
    assert api(lead).get(file_url(item)).status_code == 404


def test_missing_file_is_404(project, lead, api, artifact_root, make_item):
    item = make_item(project, file="items/gone.png", content_type="image/png")
    response = api(lead).get(file_url(item))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_outsider_and_other_projects_get_404(project, lead, outsider, api, stored_png, make_item):
    item = make_item(project, file="items/ab/abcdef.png", content_type="image/png")
    assert api(outsider).get(file_url(item)).status_code == 404
    other = project_services.create_project(actor=lead, name="Other")
    assert api(lead).get(f"/api/v1/projects/{other.pk}/items/{item.pk}/file/").status_code == 404
