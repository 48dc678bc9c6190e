"""The real services a benchmark runs against: gunicorn and a Celery worker.

Each is a child process started with production settings on 127.0.0.1,
returned once it is ready, and stopped with SIGTERM (then SIGKILL after a
grace period). `env` overrides the child's environment (the tests point a
child at their own database, broker and ARTIFACT_ROOT this way).
"""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(workers: int, threads: int, database_url: str | None = None,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """gunicorn on a free port of 127.0.0.1 with production settings, on
    `database_url` (default: this process's DATABASE_URL); returns once it
    answers (raises if it dies or does not answer in 60 s)."""
    port = _free_port()
    env = {**os.environ, **(env or {}), **({"DATABASE_URL": database_url} if database_url else {}), "DEBUG": "0",
           "SECRET_KEY": secrets.token_urlsafe(50), "BROWSABLE_API": "0", "ALLOWED_HOSTS": HOST,
           "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "labelops.wsgi:application", "--bind", f"{HOST}:{port}",
         "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
         "--keep-alive", "30", "--log-level", "warning"],
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/api/v1/")
            conn.getresponse().read()
            conn.close()
            return server, port
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError("gunicorn did not answer within 60 s")


def start_worker(env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """One Celery worker (solo pool, every queue, as `make demo` runs it) on
    the configured broker. With `log`, its INFO log goes to that file and
    this returns once the worker says it is ready (60 s at most); without,
    warnings go to stderr and it returns after 5 s."""
    from django.conf import settings

    command = [sys.executable, "-m", "celery", "-A", "labelops", "worker", "--pool", "solo",
               "--queues", ",".join(settings.CELERY_WORKER_QUEUES), "--loglevel", "INFO" if log else "WARNING",
               "--without-gossip", "--without-mingle", "--hostname", f"bench-{os.getpid()}-{time.monotonic_ns()}@%h"]
    environment = {**os.environ, **(env or {})}
    if log is None:
        worker = subprocess.Popen(command, env=environment)
        time.sleep(5)
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}")
        return worker
    with open(log, "ab") as out:
        worker = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}; see {log}")
        if " ready." in log.read_text(errors="replace"):
            return worker
        time.sleep(0.2)
    stop(worker)
    raise RuntimeError(f"the worker was not ready within 60 s; see {log}")


def stop(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# The name the queue benchmark (and its test) have always used.
stop_server = stop
