"""Celery tasks of the annotation app (the `default` queue)."""

from __future__ import annotations

import logging

from celery import shared_task

from labelops.annotation.services import expire_leases as expire_leases_service

logger = logging.getLogger(__name__)


@shared_task
def expire_leases() -> int:
    """Close every lease past its expiry and give its item back to the queue.

    Periodic (celery beat). Takes no arguments and is safe to run twice or
    concurrently: leases are taken `SKIP LOCKED` and closed with conditional
    updates (see `labelops.annotation.services.leases.expire_leases`)."""
    closed = expire_leases_service()
    if closed:
        logger.info("closed %s expired lease(s)", closed)
    return closed
