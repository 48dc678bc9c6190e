"""`manage.py export_items`: the same export, to a file, from the command line."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from labelops.audit.models import AuditEvent

pytestmark = pytest.mark.django_db



def test_writes_the_export_and_records_it(project, labelled_items, tmp_path, capsys):
    path = tmp_path / "out.jsonl"
    call_command("export_items", str(project.pk), "--format", "jsonl", "--status", "all", "--output", str(path))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 5
    assert "exported 5 item(s)" in capsys.readouterr().out
    event = AuditEvent.objects.get(verb="items.export")
    assert event.actor is None and event.project_id == project.pk
    assert event.after["format"] == "jsonl" and event.after["status"] == "all"


def test_parquet_to_a_file(project, labelled_items, tmp_path):
    path = tmp_path / "out.parquet"
    call_command("export_items", str(project.pk), "--format", "parquet", "--output", str(path))
    assert pq.read_table(path).num_rows == 3


def test_unknown_project_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="no project"):
        call_command("export_items", "999999", "--output", str(tmp_path / "x.jsonl"))


def test_bad_batch_size_is_an_error(project, tmp_path):
    with pytest.raises(CommandError, match="batch_size"):
        call_command("export_items", str(project.pk), "--batch-size", "0", "--output", str(tmp_path / "x.jsonl"))
