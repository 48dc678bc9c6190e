"""Run the whole platform on one machine: migrate the embedded database, load
the demo project, then start the web server and a real Celery worker (on the
embedded filesystem broker unless CELERY_BROKER_URL says otherwise) and wait.

Ctrl-C (or SIGTERM) stops both children cleanly; if either dies, the other is
stopped too and the command exits non-zero, so a broken demo never looks alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command

from labelops.demo.management.commands.load_demo import DEMO_USERS


class Command(BaseCommand):
    help = "Set up and run the demo: web server and Celery worker, stopped together by Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("DEMO_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
        parser.add_argument("--no-load", action="store_true", help="do not load the demo project")

    def handle(self, *args, host, port, no_load, **options):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        settings.ARTIFACT_ROOT.mkdir(parents=True, exist_ok=True)
        # One key file per checkout, shared by both children: logins survive a restart.
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "labelops.settings"}
        env.setdefault("SECRET_KEY_FILE", str(settings.VAR_DIR / "secret_key"))

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not no_load:
            call_command("load_demo")

        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "labelops", "worker",
             "--queues", ",".join(settings.CELERY_WORKER_QUEUES), "--concurrency", "1",
             # The periodic jobs (lease expiry, stalled-round recovery, automatic
             # rounds) run in the demo's one worker; production runs `celery beat` apart.
             "--beat", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"),
             "--loglevel", "INFO", "--hostname", "demo@%h"],
            env=env,
        )
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "labelops.wsgi:application",
             "--bind", f"{host}:{port}", "--workers", "2", "--access-logfile", "-"],
            env=env,
        )
        children = {"web server": web, "worker": worker}

        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

        url = f"http://{host}:{port}"
        self.stdout.write(self.style.SUCCESS(f"\nLabelOps demo running at {url}/"))
        self.stdout.write(f"  API:   {url}/api/v1/    schema: {url}/api/schema/    docs: {url}/api/docs/")
        self.stdout.write(f"  Admin: {url}/admin/")
        self.stdout.write("  Logins (demo only):")
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"    {role:<10} {username} / {password}")
        self.stdout.write("  Press Ctrl-C to stop the web server and the worker.\n")

        failed = None
        while not stopping:
            for name, process in children.items():
                if process.poll() is not None:
                    failed = f"the {name} exited with code {process.returncode}"
                    stopping = True
            time.sleep(0.5)

        for process in children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in children.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if failed:
            raise CommandError(f"demo stopped: {failed}")
        self.stdout.write("Demo stopped.")
