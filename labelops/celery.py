"""The Celery application. Tasks live in each domain app's `tasks.py`."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelops.settings")

app = Celery("labelops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_process_init.connect
@signals.worker_init.connect
def limit_compute_threads(**kwargs):
    """Cap torch, BLAS and FAISS threads in worker processes at
    WORKER_TORCH_THREADS: left alone, each grabs every core, and a round
    would starve the web server on the same machine."""
    from django.conf import settings

    threads = settings.WORKER_TORCH_THREADS
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    threadpool_limits(threads)
