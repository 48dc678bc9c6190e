"""Fixtures of the quality tests. Quality is measured on labels given
through the queue, so the queue's fixtures (tests/annotation/conftest.py)
serve here too; its plain helpers are imported by name where used."""

from tests.annotation.conftest import annotators, queue_project, tree_project  # noqa: F401 (fixtures)
