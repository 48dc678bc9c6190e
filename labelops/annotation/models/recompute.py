"""Project-wide recomputations: the agreement snapshot, and when each kind
of recomputation is next due (`Recompute`)."""

from __future__ import annotations

from django.db import models


class AgreementSnapshot(models.Model):
    """A project's agreement metrics as last computed (see
    `labelops.quality.services.metrics`): served as is, refreshed by a
    Celery task once enough new annotations have come in (when: its
    `Recompute` row)."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="agreement")
    metrics = models.JSONField(default=dict, blank=True)
    # Null until the first computation finishes.
    computed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"agreement of {self.project_id} at {self.computed_at}"


class RecomputeKind(models.TextChoices):
    DAWID_SKENE = "dawid_skene", "Dawid-Skene consensus"
    AGREEMENT = "agreement", "Agreement metrics"


class RecomputeQuerySet(models.QuerySet):
    def reset(self) -> int:
        """Forget what the last run covered (a new taxonomy version makes it
        meaningless): the next check or read queues a run."""
        return self.update(last_annotation_id=0, last_size=0, finished_at=None, queued_at=None, due_at=0)


class Recompute(models.Model):
    """When a project's batch recomputation of one kind is next due, and
    whether one is queued: the scheduler's whole state
    (`labelops.quality.services.schedule`). One row per project and kind,
    created by the first check."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="recomputes")
    kind = models.CharField(max_length=16, choices=RecomputeKind.choices)
    # What the last finished run covered: the newest annotation it included
    # and how many annotations it used.
    last_annotation_id = models.PositiveBigIntegerField(default=0)
    last_size = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    # No run can be due before an annotation with this id exists (a lower
    # bound: annotation ids only grow). A submit below it costs no query.
    due_at = models.PositiveBigIntegerField(default=0)
    # When a run was queued and has not finished yet (None: none waiting).
    queued_at = models.DateTimeField(null=True, blank=True)

    objects = RecomputeQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "kind"], name="one_recompute_per_kind")]

    def __str__(self):
        return f"{self.kind} of project {self.project_id}"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "last_annotation_id": self.last_annotation_id,
            "last_size": self.last_size,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "due_at": self.due_at,
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
        }
