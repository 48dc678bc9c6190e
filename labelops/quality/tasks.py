"""Celery tasks of the quality rules (the `default` queue). Each takes a
project id, re-fetches it, skips quietly when it is gone, and is safe to run
twice. The services queue them by name (`labelops.quality.services.schedule`,
whose `POLICIES` name them)."""

from __future__ import annotations

import logging

from celery import shared_task

from labelops.projects.models import Project
from labelops.quality.services.dawid_skene import recompute_dawid_skene as recompute_dawid_skene_service
from labelops.quality.services.metrics import refresh_snapshot

logger = logging.getLogger(__name__)


@shared_task
def recompute_dawid_skene(project_id: int) -> int:
    """Refine a project's consensus by Dawid-Skene (`default` queue).

    Queued once enough new annotations came in, or by a lead (see
    `labelops.quality.services.schedule`). Takes the project id
    and re-fetches it; a project that is gone is skipped quietly. Safe to
    run twice, even at once: the service settles an item only under its row
    lock, and only if its Dawid-Skene labels differ from its consensus."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        logger.info("project %s is gone: no Dawid-Skene pass", project_id)
        return 0
    settled = recompute_dawid_skene_service(project)
    logger.info("Dawid-Skene settled %s item(s) of project %s", settled, project_id)
    return settled


@shared_task
def refresh_agreement(project_id: int) -> None:
    """Recompute a project's agreement metrics snapshot (`default` queue).

    Takes the project id and re-fetches it; a project that is gone is
    skipped quietly. Safe to run twice (it overwrites the snapshot with the
    same numbers); see `labelops.quality.services.metrics`."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        logger.info("project %s is gone: no agreement refresh", project_id)
        return
    refresh_snapshot(project)
