"""Load the demo project: BANKING77 support queries, 77 intents, four users.

Idempotent: run it again and it changes nothing. Two queries per intent are
imported as gold (known answers used to check annotators); the rest arrive
unlabelled, as in a real project, with 10% held out for evaluation. The data
goes through the same import service as any upload.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError
from django.db import transaction

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.importing.jobs import create_local_import_job
from labelops.items.importing.options import ImportOptions
from labelops.items.models import JobState
from labelops.items.tasks import run_import_job
from labelops.projects import services as project_services
from labelops.projects.models import Project

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "banking77"
DEMO_PROJECT = "BANKING77 support queries (demo)"
GOLD_PER_INTENT = 2

# (username, password, role). Demo-only credentials, printed by run_demo.
DEMO_USERS = [
    ("lead", "demo-lead", "lead"),
    ("annotator1", "demo-annotator1", "annotator"),
    ("annotator2", "demo-annotator2", "annotator"),
    ("reviewer", "demo-reviewer", "reviewer"),
]


def intent_name(key: str) -> str:
    return key.replace("_", " ").capitalize()


class Command(BaseCommand):
    help = "Create the demo users and the BANKING77 demo project (idempotent)."

    def handle(self, *args, **options):
        users = self.ensure_users()
        if Project.objects.filter(name=DEMO_PROJECT).exists():
            self.stdout.write(f"Demo project already loaded: {DEMO_PROJECT!r}")
            return
        self.load_project(users)

    def ensure_users(self) -> dict[str, object]:
        User = get_user_model()
        users = {}
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.save()
            users[username] = user
        return users

    def load_project(self, users) -> None:
        lead = users["lead"]
        intents = json.loads((FIXTURE / "categories.json").read_text())
        with transaction.atomic():
            project = project_services.create_project(
                actor=lead, name=DEMO_PROJECT, modality="text", task="single_label",
                description="Customer-service queries to a bank, labelled by intent. "
                "Data: BANKING77 (PolyAI, CC BY 4.0), see fixtures/banking77/ATTRIBUTION.md.",
            )
            project_services.grant_lead_admin(actor=None, user=lead)
            create_taxonomy_version(
                actor=lead, project=project, note="The 77 BANKING77 intents",
                labels=[{"key": key, "name": intent_name(key)} for key in intents],
            )
            for username, _, role in DEMO_USERS[1:]:
                project_services.add_member(actor=lead, project=project, user=users[username], role=role)

        gold_path, pool_path = self.split_fixture()
        gold = self.import_csv(project, lead, gold_path, label_field="category", labels_as="gold",
                               holdout_fraction=0.0)
        pool = self.import_csv(project, lead, pool_path, labels_as="ignore")
        self.stdout.write(self.style.SUCCESS(
            f"Loaded {DEMO_PROJECT!r}: {gold['imported']} gold items, {pool['imported']} unlabelled items "
            f"({pool['holdout']} held out for evaluation), {len(intents)} intents."
        ))

    def import_csv(self, project, lead, path: Path, **options) -> dict:
        """Import through the same job and task code a worker runs, here in
        this process: the demo's data must be there before the server starts."""
        job = create_local_import_job(
            actor=lead, project=project, path=path, options=ImportOptions.from_dict({"format": "csv", **options})
        )
        run_import_job(job.pk)
        job.refresh_from_db()
        if job.state != JobState.DONE:
            raise CommandError(f"importing {path.name} failed: {job.error}")
        return job.report

    def split_fixture(self) -> tuple[Path, Path]:
        """Write the gold rows (first queries of each intent, with labels) and
        the pool rows (the rest, text only) to two CSVs for the importer."""
        out = settings.VAR_DIR / "demo"
        out.mkdir(parents=True, exist_ok=True)
        gold_path, pool_path = out / "gold.csv", out / "pool.csv"
        taken = defaultdict(int)
        with open(FIXTURE / "train.csv", newline="", encoding="utf-8") as source, \
                open(gold_path, "w", newline="", encoding="utf-8") as gold_file, \
                open(pool_path, "w", newline="", encoding="utf-8") as pool_file:
            gold = csv.writer(gold_file)
            pool = csv.writer(pool_file)
            gold.writerow(["text", "category"])
            pool.writerow(["text"])
            for row in csv.DictReader(source):
                if taken[row["category"]] < GOLD_PER_INTENT:
                    taken[row["category"]] += 1
                    gold.writerow([row["text"], row["category"]])
                else:
                    pool.writerow([row["text"]])
        return gold_path, pool_path
