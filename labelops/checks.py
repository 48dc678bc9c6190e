"""System checks for settings that are bad or unsafe, each with an id.

Run by `manage.py check` (and `check --deploy`), `migrate` and `runserver`.
"""

import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs):
    if getattr(settings, "SECRET_KEY_IS_EPHEMERAL", False):
        return [
            Warning(
                "SECRET_KEY is not set: a random key is used, so sessions and tokens signed by "
                "this process do not survive a restart or work across processes.",
                hint="Set SECRET_KEY in the environment to a long random value.",
                id="labelops.W001",
            )
        ]
    if len(settings.SECRET_KEY) < 32:
        return [Error("SECRET_KEY is shorter than 32 characters.", id="labelops.E001")]
    return []


@register(Tags.security)
def check_hosts(app_configs, **kwargs):
    errors = []
    if "*" in settings.ALLOWED_HOSTS and not settings.DEBUG:
        errors.append(
            Error(
                "ALLOWED_HOSTS contains '*' with DEBUG off: any Host header is accepted.",
                hint="List the host names the site is served under.",
                id="labelops.E002",
            )
        )
    if settings.DEBUG and any(h not in {"localhost", "127.0.0.1", "[::1]", ".localhost"} for h in settings.ALLOWED_HOSTS):
        errors.append(
            Warning(
                "DEBUG is on while ALLOWED_HOSTS names non-local hosts: tracebacks and settings "
                "would be shown to anyone who reaches the site.",
                hint="Turn DEBUG off (DEBUG=0) anywhere but a developer's machine.",
                id="labelops.W003",
            )
        )
    return errors


@register()
def check_artifact_root(app_configs, **kwargs):
    root = settings.ARTIFACT_ROOT
    if not root.is_absolute():
        return [Error(f"ARTIFACT_ROOT={root} must be an absolute path.", id="labelops.E004")]
    probe = root if root.exists() else root.parent
    if probe.exists() and not os.access(probe, os.W_OK):
        return [Error(f"ARTIFACT_ROOT={root} is not writable by this process.", id="labelops.E005")]
    return []


@register()
def check_broker(app_configs, **kwargs):
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return [
            Error(
                "CELERY_BROKER_URL=memory:// is private to one process: no worker would ever run the jobs.",
                hint="Use redis://..., amqp://... or the embedded filesystem:// default.",
                id="labelops.E006",
            )
        ]
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return [
            Error(
                "CELERY_TASK_ALWAYS_EAGER runs jobs inside web requests; LabelOps runs them in workers only.",
                id="labelops.E007",
            )
        ]
    return []


@register()
def check_upload_limits(app_configs, **kwargs):
    if settings.IMAGE_MAX_BYTES > settings.IMPORT_MAX_BYTES:
        return [
            Error(
                f"IMAGE_MAX_BYTES ({settings.IMAGE_MAX_BYTES}) exceeds IMPORT_MAX_BYTES ({settings.IMPORT_MAX_BYTES}).",
                id="labelops.E008",
            )
        ]
    return []
