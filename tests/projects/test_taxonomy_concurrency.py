"""Two leads saving a taxonomy at the same moment get versions N+1 and N+2,
never a clash: `create_taxonomy_version` locks the project row.

Needs PostgreSQL: SQLite serialises every write transaction anyway, so it
cannot show that the row lock does its job."""

import threading

import pytest
from django.db import connection, connections

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.projects import services
from labelops.projects.models import TaxonomyVersion
from tests.conftest import require


@pytest.mark.postgres
def test_concurrent_new_versions_get_distinct_numbers(transactional_db, lead):
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    project = services.create_project(actor=lead, name="Race")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}])

    writers = 6
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def save_version(n: int):
        try:
            barrier.wait(timeout=10)
            # Same key, a new name: valid on top of whichever version wins the lock.
            create_taxonomy_version(
                actor=lead, project=project, labels=[{"key": "a", "name": f"A as named by writer {n}"}]
            )
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save_version, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    numbers = sorted(TaxonomyVersion.objects.filter(project=project).values_list("number", flat=True))
    assert numbers == list(range(1, writers + 2))
