"""Shared test helpers. Every fixture is opt-in: a test names what it uses.

Personas: `lead`, `reviewer`, `annotator`, `annotator2` are members of
`project` in those roles; `outsider` is signed up but belongs to nothing.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.projects import services as project_services

IN_CI = os.environ.get("CI", "").lower() == "true"

# Personas get real passwords; the production hasher costs ~0.2 s per user,
# which is all cost and no coverage here.
django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def require(condition: bool, reason: str):
    """Skip with a visible reason when a real service is not configured, but
    fail instead under CI=true, where every service must be there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def artifact_root(tmp_path, settings):
    """A private ARTIFACT_ROOT for tests that write item files or uploads."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, **extra):
        return django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)

    return make


@pytest.fixture
def lead(make_user):
    return make_user("lead")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer")


@pytest.fixture
def annotator(make_user):
    return make_user("annotator")


@pytest.fixture
def annotator2(make_user):
    return make_user("annotator2")


@pytest.fixture
def outsider(make_user):
    return make_user("outsider")


@pytest.fixture
def project(db, lead, reviewer, annotator, annotator2):
    """A text project with a three-label taxonomy and the four member personas."""
    project = project_services.create_project(actor=lead, name="Tickets")
    create_taxonomy_version(
        actor=lead, project=project,
        labels=[
            {"key": "billing", "name": "Billing", "hotkey": "b"},
            {"key": "bug", "name": "Bug", "hotkey": "g"},
            {"key": "other", "name": "Other", "hotkey": "o"},
        ],
    )
    project_services.add_member(actor=lead, project=project, user=reviewer, role="reviewer")
    project_services.add_member(actor=lead, project=project, user=annotator, role="annotator")
    project_services.add_member(actor=lead, project=project, user=annotator2, role="annotator")
    return project


@pytest.fixture
def api():
    """An API client factory: `api(user)` is signed in as `user`, `api()` is anonymous."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def use_broker(settings, monkeypatch):
    """`use_broker(url, transport_options)` points this process's Celery
    producer at another broker for one test; undone afterwards."""
    from labelops.celery import app as celery_app

    def reset_pools():
        # Celery keeps broker connections and producers in per-process pools;
        # drop them so the next publish connects with the current settings.
        celery_app.close()
        celery_app.amqp._producer_pool = None

    def switch(url: str, transport_options: dict | None = None) -> None:
        settings.CELERY_BROKER_URL = url
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = transport_options or {}
        # Celery reads the CELERY_BROKER_URL variable before its configuration.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        reset_pools()

    yield switch
    reset_pools()


def filesystem_broker_options(var_dir) -> dict:
    """Transport options of the embedded broker under `var_dir`, as settings
    would compute them for LABELOPS_VAR_DIR=var_dir (folders created)."""
    folders = {name: var_dir / "broker" / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
            "store_processed": False}


def _worker_database_url(connection) -> str:
    """A DATABASE_URL for the database the tests are using right now (the
    test database, not the configured one)."""
    conf = connection.settings_dict
    if conf["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{conf['NAME']}"
    if conf["ENGINE"] == "django.db.backends.postgresql":
        auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
        return f"postgres://{auth}@{conf['HOST'] or 'localhost'}:{conf['PORT'] or 5432}/{conf['NAME']}"
    raise NotImplementedError(f"no worker URL for {conf['ENGINE']}")


@pytest.fixture
def start_worker(transactional_db, settings):
    """Start a real Celery worker in a separate process: `start_worker()` on
    the configured broker, or `start_worker(CELERY_BROKER_URL=..., ...)` with
    environment overrides. It reads the test database, so tests using it need
    committed data (this fixture brings `transactional_db`).

    Returns the Popen, with `.output` (lines so far); every worker started is
    stopped (SIGTERM, then SIGKILL) after the test.
    """
    import signal
    import subprocess
    import sys
    import threading
    import time

    from django.db import connection

    started = []

    def start(**overrides):
        env = {
            **os.environ,
            "DATABASE_URL": _worker_database_url(connection),
            "ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            **overrides,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "labelops", "worker", "--pool", "solo",
             "--queues", ",".join(settings.CELERY_WORKER_QUEUES), "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--hostname", "test@%h"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        started.append(process)
        ready = threading.Event()
        process.output = []

        def pump():  # keep reading so the pipe never fills and blocks the worker
            for line in process.stdout:
                process.output.append(line)
                if " ready." in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not ready.is_set():
            process.kill()
            pytest.fail("the Celery worker did not start:\n" + "".join(process.output[-40:]), pytrace=False)
        return process

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
