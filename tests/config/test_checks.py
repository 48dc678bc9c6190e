"""System checks flag bad or unsafe settings with their ids."""

from pathlib import Path

from labelops import checks


def ids(messages):
    return [m.id for m in messages]


def test_ephemeral_secret_key_is_reported(settings):
    settings.SECRET_KEY_IS_EPHEMERAL = True
    assert ids(checks.check_secret_key(None)) == ["labelops.W001"]


def test_short_secret_key_is_an_error(settings):
    settings.SECRET_KEY_IS_EPHEMERAL = False
    settings.SECRET_KEY = "short"
    assert ids(checks.check_secret_key(None)) == ["labelops.E001"]


def test_wildcard_hosts_without_debug_is_an_error(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    assert ids(checks.check_hosts(None)) == ["labelops.E002"]


def test_debug_with_public_hosts_is_warned(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["labels.example.org"]
    assert ids(checks.check_hosts(None)) == ["labelops.W003"]


def test_local_defaults_pass(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    assert checks.check_hosts(None) == []


def test_relative_artifact_root_is_an_error(settings):
    settings.ARTIFACT_ROOT = Path("relative/artifacts")
    assert ids(checks.check_artifact_root(None)) == ["labelops.E004"]


def test_in_process_broker_and_eager_tasks_are_errors(settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert ids(checks.check_broker(None)) == ["labelops.E006"]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert ids(checks.check_broker(None)) == ["labelops.E007"]


def test_image_limit_above_import_limit_is_an_error(settings):
    settings.IMPORT_MAX_BYTES = 10
    settings.IMAGE_MAX_BYTES = 20
    assert ids(checks.check_upload_limits(None)) == ["labelops.E008"]
