"""manage.py import_items: a server admin's synchronous import."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from labelops.items.models import ImportJob, Item
from labelops.projects import services as project_services
from tests.items.import_helpers import csv_bytes, png

pytestmark = pytest.mark.usefixtures("artifact_root")


def run(*args) -> dict:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_items", *map(str, args), stdout=out, stderr=err)
    return json.loads(out.getvalue())


def test_imports_a_file_in_place_and_prints_the_report(project, lead, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_bytes(csv_bytes("text,label", "a,bug", "b,"))
    report = run(project.pk, path, "--user", "lead", "--labels-as", "annotations", "--holdout-fraction", "0")
    assert report["imported"] == 2 and report["annotations"] == 1
    job = ImportJob.objects.get()
    assert (job.state, job.source, job.original_name, job.created_by) == ("done", str(path), "tickets.csv", lead)
    assert job.report == report


def test_a_folder_is_an_image_import(lead, tmp_path):
    project = project_services.create_project(actor=lead, name="Pets", modality="image")
    for name, color in (("cat/a.png", (1, 1, 1)), ("dog/b.png", (2, 2, 2))):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(png(color))
    report = run(project.pk, tmp_path, "--user", "lead")
    assert report["format"] == "images_folder" and report["by_label"] == {"cat": 1, "dog": 1}


def test_bad_input_is_a_command_error_with_the_message(project, lead, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes("text,label", "a,nope"))
    with pytest.raises(CommandError, match=r"failed: line 2: label 'nope' is not in taxonomy v1"):
        run(project.pk, path, "--user", "lead")
    assert ImportJob.objects.get().state == "failed"
    assert not Item.objects.exists()


def test_the_user_must_lead_the_project(project, annotator, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes("text", "a"))
    with pytest.raises(CommandError, match="annotator is not a lead of project"):
        run(project.pk, path, "--user", "annotator")
    with pytest.raises(CommandError, match="there is no user 'ghost'"):
        run(project.pk, path, "--user", "ghost")


def test_unknown_project_path_or_format(project, lead, tmp_path):
    with pytest.raises(CommandError, match="there is no project 999"):
        run(999, tmp_path, "--user", "lead")
    with pytest.raises(CommandError, match="does not exist"):
        run(project.pk, tmp_path / "missing.csv", "--user", "lead")
    (tmp_path / "data.txt").write_text("text\na\n")
    with pytest.raises(CommandError, match="cannot tell the format of 'data.txt'"):
        run(project.pk, tmp_path / "data.txt", "--user", "lead")
