"""Services send their Celery tasks by name (so they never import the task
modules that import them): every name they send, and every task the beat
schedule runs, is a task the workers have."""

from __future__ import annotations

from django.conf import settings

from labelops.celery import app
from labelops.items.importing.jobs import RUN_IMPORT_TASK
from labelops.items.tasks import COLD_START_TASK
from labelops.learning.steps import RUN_STEP_TASK, START_COLD_START_TASK
from labelops.quality.services.schedule import POLICIES


def test_every_task_sent_by_name_is_registered():
    app.loader.import_default_modules()  # what a worker imports at start (autodiscovery)
    sent = {RUN_IMPORT_TASK, RUN_STEP_TASK, COLD_START_TASK, *(policy.task for policy in POLICIES.values()),
            *(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values())}
    assert sent - set(app.tasks) == set()


def test_the_import_asks_for_the_cold_start_task_the_rounds_define():
    assert COLD_START_TASK == START_COLD_START_TASK
