"""Gold records: each annotator's gold-check score in a project."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# Gold items an annotator must have answered before their gold accuracy can
# send their work to review: below this, one unlucky answer would.
MIN_GOLD_FOR_ACCURACY = 5


class AnnotatorStats(models.Model):
    """An annotator's gold-check record in one project, kept incrementally by
    `submit` (one row update per gold answer, no scan of their history).

    `below_since` is set while their accuracy is below
    `rules.min_gold_accuracy` (after `MIN_GOLD_FOR_ACCURACY` gold items);
    `last_passing_at` is the last time it was at or above it (their work
    since then is what goes to review when they fall below)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="annotator_stats")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    gold_seen = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    below_since = models.DateTimeField(null=True, blank=True)
    last_passing_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "annotator stats"
        constraints = [models.UniqueConstraint(fields=["project", "annotator"], name="one_stats_per_annotator")]

    def __str__(self):
        return f"gold record of {self.annotator_id} in {self.project_id}"

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_seen if self.gold_seen else None

    def below(self, min_accuracy: float) -> bool:
        """Judged (`MIN_GOLD_FOR_ACCURACY` answers or more) and below `min_accuracy`."""
        accuracy = self.gold_accuracy
        return self.gold_seen >= MIN_GOLD_FOR_ACCURACY and accuracy is not None and accuracy < min_accuracy

    def count_answer(self, correct: bool, min_accuracy: float, now) -> bool:
        """Count one gold answer (the caller saves); True if it made the
        annotator newly below `min_accuracy`. Passing clears the mark and
        dates `last_passing_at`."""
        self.gold_seen += 1
        self.gold_correct += int(correct)
        if self.below(min_accuracy):
            newly_below = self.below_since is None
            self.below_since = self.below_since or now
            return newly_below
        self.below_since = None
        if self.gold_seen >= MIN_GOLD_FOR_ACCURACY:
            self.last_passing_at = now
        return False

    def withdraw_answer(self, correct: bool, min_accuracy: float) -> None:
        """Take one counted gold answer back (an undo; the caller saves): the
        mark is cleared if the annotator is no longer below the minimum."""
        self.gold_seen = max(self.gold_seen - 1, 0)
        self.gold_correct = max(self.gold_correct - int(correct), 0)
        if not self.below(min_accuracy):
            self.below_since = None

    def to_dict(self) -> dict:
        return {
            "annotator": self.annotator_id,
            "gold_seen": self.gold_seen,
            "gold_correct": self.gold_correct,
            "gold_accuracy": self.gold_accuracy,
            "below_since": self.below_since.isoformat() if self.below_since else None,
            "last_passing_at": self.last_passing_at.isoformat() if self.last_passing_at else None,
        }
