"""Training rounds, the model versions they produce, and what those models say
about items (proposals) and the corpus (clusters). The ML itself lives in
`ssl_engine`; these tables only store its results.

`holdout_summary` and `proposer_summary` read a round's `metrics` the same
way for every reader (the dashboard, the admin), older rounds' missing keys
included."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labelops.items.models import Item, Split


class RoundState(models.TextChoices):
    QUEUED = "queued", "Queued"
    PRETRAINING = "pretraining", "Pretraining"
    EMBEDDING = "embedding", "Embedding"
    CLUSTERING = "clustering", "Clustering"
    TRAINING = "training", "Training"
    PROPOSING = "proposing", "Proposing"
    RANKING = "ranking", "Ranking"
    EVALUATING = "evaluating", "Evaluating"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = (RoundState.DONE, RoundState.FAILED, RoundState.CANCELLED)


def _interval(value) -> list[float] | None:
    """A stored [low, high] pair, or None for anything else (absent, old rounds)."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return [float(value[0]), float(value[1])]
    return None


def holdout_summary(holdout) -> dict | None:
    """The headline of a round's `metrics["holdout"]` (written by
    `learning.pipeline.evaluate`): None when the round has none; else whether
    it was evaluated (with the reason when not), the items it stands on, the
    accuracy (subset accuracy in multi-label rounds, `metric` says which)
    and macro-F1 with their intervals, and whether the count is `meaningful`.
    Keys an older round did not record are None."""
    if not isinstance(holdout, dict):
        return None
    evaluated = bool(holdout.get("evaluated"))
    metric = "subset_accuracy" if "subset_accuracy" in holdout and "accuracy" not in holdout else "accuracy"
    meaningful = holdout.get("meaningful")
    return {
        "evaluated": evaluated,
        "reason": "" if evaluated else str(holdout.get("reason") or ""),
        "items": holdout.get("items"),
        "metric": metric,
        "accuracy": holdout.get(metric) if evaluated else None,
        "accuracy_ci": _interval(holdout.get(f"{metric}_ci")) if evaluated else None,
        "macro_f1": holdout.get("macro_f1") if evaluated else None,
        "macro_f1_ci": _interval(holdout.get("macro_f1_ci")) if evaluated else None,
        "meaningful": meaningful if evaluated and isinstance(meaningful, bool) else None,
        "min_items": holdout.get("min_items"),
        "confidence": holdout.get("confidence"),
    }


def _score(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def proposer_summary(proposer) -> dict | None:
    """A round's `metrics["proposer"]` (written by the `train` step): which
    model serves its proposals (`chosen`, None when none could), why, and
    the candidates' cross-validated scores as a list, best first (highest
    accuracy, then lowest log-loss; unscored last). None when the round did
    not record it (older rounds)."""
    if not isinstance(proposer, dict):
        return None
    candidates = proposer.get("candidates")
    rows = [
        {"name": str(name), "accuracy": _score(scores.get("accuracy")), "log_loss": _score(scores.get("log_loss")),
         "rows": scores.get("rows") if isinstance(scores.get("rows"), int) else None}
        for name, scores in (candidates.items() if isinstance(candidates, dict) else [])
        if isinstance(scores, dict)
    ]
    rows.sort(key=lambda c: (c["accuracy"] is None, -(c["accuracy"] or 0.0),
                             c["log_loss"] is None, c["log_loss"] or 0.0, c["name"]))
    chosen = proposer.get("chosen")
    labels = proposer.get("labels")
    return {"chosen": None if chosen is None else str(chosen), "reason": str(proposer.get("reason") or ""),
            "labels": labels if isinstance(labels, int) else None, "candidates": rows}


class TrainingRoundQuerySet(models.QuerySet):
    def for_project(self, project):
        return self.filter(project=project)

    def running(self):
        return self.exclude(state__in=FINISHED_STATES)


class TrainingRound(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=RoundState.choices, default=RoundState.QUEUED)
    # Frozen at start so a round can be reproduced.
    config = models.JSONField(default=dict, blank=True)
    taxonomy_version = models.ForeignKey("projects.TaxonomyVersion", null=True, on_delete=models.PROTECT, related_name="+")
    labels_hash = models.CharField(max_length=64, blank=True)
    labels_count = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    artifacts = models.JSONField(default=dict, blank=True)  # name -> path under ARTIFACT_ROOT
    # {"step": ..., "percent": ..., "eta_seconds": ...}
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # The step in flight and its attempt: a worker runs a step only while
    # (step, attempt) still match its task's arguments, so a stale or
    # duplicated message, or a worker that was presumed dead, changes nothing.
    step = models.CharField(max_length=16, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    # Written every few seconds by the worker running the step; a stale
    # heartbeat means the worker died (see services.rounds.recover_stalled_rounds).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the step in flight was handed to the broker: a step that no worker
    # has picked up this long after (a lost message) is sent again too.
    step_sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TrainingRoundQuerySet.as_manager()

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_round_number"),
            # One round in flight per project, enforced by the database itself.
            models.UniqueConstraint(
                fields=["project"],
                condition=~models.Q(state__in=["done", "failed", "cancelled"]),
                name="one_running_round_per_project",
            ),
        ]

    def __str__(self):
        return f"{self.project} round {self.number} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    def holdout_summary(self) -> dict | None:
        return holdout_summary((self.metrics or {}).get("holdout"))

    def proposer_summary(self) -> dict | None:
        return proposer_summary((self.metrics or {}).get("proposer"))

    def to_dict(self) -> dict:
        return {
            "number": self.number,
            "state": self.state,
            "config": self.config,
            "labels_hash": self.labels_hash,
            "error": self.error,
        }


class ModelVersionQuerySet(models.QuerySet):
    def active_round_id(self, project_id: int) -> int | None:
        """The round of the project's active model (its ranking and
        proposals are what the queue serves), or None before the first."""
        return self.filter(project_id=project_id, is_active=True).values_list("round_id", flat=True).first()


class ModelVersion(models.Model):
    """The model a successful round produced. Exactly one is active per project."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="model_versions")
    round = models.OneToOneField(TrainingRound, on_delete=models.CASCADE, related_name="model_version")
    is_active = models.BooleanField(default=False)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(is_active=True), name="one_active_model_per_project"
            ),
        ]

    def __str__(self):
        return f"model of {self.round}"


class Cluster(models.Model):
    round = models.ForeignKey(TrainingRound, on_delete=models.CASCADE, related_name="clusters")
    index = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    centroid = models.BinaryField()  # float32 bytes, length d*4
    labelled_coverage = models.FloatField(default=0.0)
    purity = models.FloatField(null=True, blank=True)
    top_labels = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["round", "index"]
        constraints = [models.UniqueConstraint(fields=["round", "index"], name="unique_cluster_index")]

    def __str__(self):
        return f"cluster {self.index} of {self.round}"


class ProposalSource(models.TextChoices):
    MODEL = "model", "Model of a round"
    IMPORTED = "imported", "Imported prediction"


class ProposalQuerySet(models.QuerySet):
    def shown_with(self, item, active_round_id: int | None) -> Proposal | None:
        """The proposal shown with `item`: none for holdout items (labelled
        blind); else the active round's if it has labels (a cold-start round
        ranks without proposing), else the newest imported one (no round).
        Proposals of earlier rounds are never shown. The queue's claim
        statement applies the same rule in SQL
        (`labelops.annotation.services.queue_sql`)."""
        if item.split == Split.HOLDOUT:
            return None
        imported = models.Q(round__isnull=True)
        proposals = self.filter(item=item)
        if active_round_id is None:
            return proposals.filter(imported).order_by("-id").first()
        of_round = models.Q(round_id=active_round_id) & ~models.Q(labels=[])
        return (proposals.filter(of_round | imported)
                .order_by(models.Case(models.When(round_id=active_round_id, then=0), default=1), "-id").first())


class Proposal(models.Model):
    """A model's suggested labels for an item, with the scores that rank it."""

    item = models.ForeignKey("items.Item", on_delete=models.CASCADE, related_name="proposals")
    # Null for predictions imported from another tool.
    round = models.ForeignKey(TrainingRound, null=True, blank=True, on_delete=models.CASCADE, related_name="proposals")
    source = models.CharField(max_length=10, choices=ProposalSource.choices, default=ProposalSource.MODEL)
    labels = models.JSONField(default=list)
    probabilities = models.JSONField(default=dict, blank=True)  # label key -> probability
    confidence = models.FloatField(null=True, blank=True)
    uncertainty = models.FloatField(null=True, blank=True)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Position in the round's active-learning order (0 = ask first); null if not ranked.
    rank = models.PositiveIntegerField(null=True, blank=True)
    # The nearest items with approved labels, by the round's embeddings:
    # [{"item": id, "labels": [...], "similarity": cosine}], nearest first.
    neighbours = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "item"], name="one_proposal_per_round_item"),
        ]
        indexes = [
            models.Index(fields=["round", "rank"], name="proposal_rank_idx"),
            models.Index(fields=["item", "-id"], name="proposal_item_idx"),
        ]

    objects = ProposalQuerySet.as_manager()

    def __str__(self):
        return f"proposal {self.labels} for item {self.item_id}"

    def labelled_neighbours(self) -> list[dict]:
        """The approved items nearest to this proposal's item, as the round
        that proposed found them: id, text, labels and cosine similarity,
        nearest first. Only pool items are ever stored there (never gold
        answers), and holdout items have no proposal, so nothing here gives a
        check away."""
        if not self.neighbours:
            return []
        ids = [n["item"] for n in self.neighbours]
        texts = dict(Item.objects.filter(pk__in=ids, project_id=self.item.project_id).values_list("id", "text"))
        return [{**n, "text": texts[n["item"]]} for n in self.neighbours if n["item"] in texts]
