"""LabelOps: the Django project. Importing it makes the Celery app available."""

from labelops.celery import app as celery_app

__all__ = ["celery_app"]
