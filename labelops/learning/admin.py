"""Admin pages for training rounds and the model versions they made, scoped
to the projects the user leads; and the admin's way to start a round.

Rounds are never edited here: a lead starts one (the "Start a training round"
action on projects and the button on a project's page, both from
`StartRoundAdminMixin`, mixed into the project admin), watches its state,
step, progress and time left, and may cancel it. A finished round shows which
proposer it chose and why, the candidates' cross-validated scores, and its
holdout accuracy with the interval and count it stands on (or that it is not
yet meaningful); the raw metrics stay on the page below them. Both go through
`labelops.learning.services.rounds`, so they are refused and audited exactly
as over the API.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from labelops.learning.errors import RoundConflict
from labelops.learning.models import FINISHED_STATES, ModelVersion, TrainingRound
from labelops.learning.services import rounds
from labelops.projects.admin_scoping import LeadScopedAdminMixin, LedProjectFilter, ReadOnlyAdminMixin


def _validation_message(error: ValidationError) -> str:
    return "; ".join(error.messages)


# --- Starting rounds from the project admin ------------------------------------------------


class StartRoundAdminMixin:
    """For the Project admin: an action and a change-page button (a POST to
    `<id>/start-round/`, see templates/admin/projects/project/change_form.html)
    that start a round with the project's settings. Both need the change
    permission on projects, and the admin's queryset limits them to the
    projects the user leads."""

    actions = ["start_training_round"]

    def get_urls(self):
        start = self.admin_site.admin_view(require_POST(self.start_round_view))
        name = f"{self.opts.app_label}_{self.opts.model_name}_start_round"
        return [path("<path:object_id>/start-round/", start, name=name), *super().get_urls()]

    def _start(self, request, project) -> TrainingRound | None:
        """Start a round of `project`, telling the user how it went."""
        try:
            training_round = rounds.start_round(project=project, actor=request.user)
        except RoundConflict as conflict:
            self.message_user(request, f"{project}: {conflict.message}", messages.ERROR)
            return None
        except ValidationError as error:
            self.message_user(request, f"{project}: {_validation_message(error)}", messages.ERROR)
            return None
        link = reverse("admin:learning_traininground_change", args=[training_round.pk])
        self.message_user(
            request,
            format_html('{}: <a href="{}">round {}</a> is queued.', project, link, training_round.number),
            messages.SUCCESS,
        )
        return training_round

    @admin.action(description="Start a training round", permissions=["change"])
    def start_training_round(self, request, queryset):
        for project in queryset.order_by("pk"):
            self._start(request, project)

    def start_round_view(self, request, object_id):
        project = self.get_object(request, unquote(object_id))
        if project is None:  # not a project this user leads
            raise Http404("no such project among those you lead")
        if not self.has_change_permission(request, project):
            raise PermissionDenied
        training_round = self._start(request, project)
        if training_round is None:
            return HttpResponseRedirect(reverse("admin:projects_project_change", args=[project.pk]))
        return HttpResponseRedirect(reverse("admin:learning_traininground_change", args=[training_round.pk]))


# --- Rounds ----------------------------------------------------------------------------------


def _duration(seconds) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _percent(value) -> str:
    return f"{value * 100:.1f}%"


def holdout_text(summary: dict | None) -> str:
    """A round's holdout figure in words (`TrainingRound.holdout_summary`):
    "78.2% (95% CI 74.0–82.1%) on 412 holdout items", or below the minimum
    count "not yet meaningful: 12 holdout items (needs 30)"."""
    if summary is None:
        return "—"
    if not summary["evaluated"]:
        return f"not evaluated: {summary['reason'] or 'no reason recorded'}"
    items = "?" if summary["items"] is None else summary["items"]
    if summary["meaningful"] is False:
        needs = "" if summary["min_items"] is None else f" (needs {summary['min_items']})"
        return f"not yet meaningful: {items} holdout items{needs}"
    if summary["accuracy"] is None:
        return "—"
    text = _percent(summary["accuracy"])
    if summary["accuracy_ci"]:
        low, high = summary["accuracy_ci"]
        level = round((summary["confidence"] or 0.95) * 100)
        text += f" ({level}% CI {low * 100:.1f}–{high * 100:.1f}%)"
    text += f" on {items} holdout items"
    return text + (" (subset accuracy)" if summary["metric"] == "subset_accuracy" else "")


@admin.register(TrainingRound)
class TrainingRoundAdmin(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["project", "number", "state", "step", "percent_done", "time_left", "short_error",
                    "labels_count", "proposer", "holdout", "created_by", "created_at", "finished_at"]
    list_filter = [LedProjectFilter, "state"]
    list_select_related = ["project", "created_by"]
    show_full_result_count = False
    actions = ["cancel_rounds"]
    fields = ["project", "number", "state", "step", "attempt", "percent_done", "time_left", "progress_message",
              "error", "proposer", "proposer_reason", "candidate_scores", "holdout", "holdout_measured",
              "config", "metrics", "artifacts", "labels_count", "labels_hash", "taxonomy_version",
              "created_by", "created_at", "started_at", "heartbeat_at", "finished_at"]
    readonly_fields = ["percent_done", "time_left", "progress_message", "proposer", "proposer_reason",
                       "candidate_scores", "holdout", "holdout_measured"]

    @admin.display(description="proposer")
    def proposer(self, training_round) -> str:
        summary = training_round.proposer_summary()
        if summary is None:
            return "—"  # a round from before the choice was recorded, or one still running
        return summary["chosen"] or "none"

    @admin.display(description="why this proposer")
    def proposer_reason(self, training_round) -> str:
        summary = training_round.proposer_summary()
        return (summary and summary["reason"]) or "—"

    @admin.display(description="candidates (cross-validated)")
    def candidate_scores(self, training_round):
        summary = training_round.proposer_summary()
        if not summary or not summary["candidates"]:
            return "—"

        def score(value, digits):
            return "n/a" if value is None else f"{value:.{digits}f}"

        rows = format_html_join(
            "", "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((c["name"], " (serving)" if c["name"] == summary["chosen"] else "",
              "n/a" if c["accuracy"] is None else _percent(c["accuracy"]), score(c["log_loss"], 3),
              "n/a" if c["rows"] is None else c["rows"]) for c in summary["candidates"]),
        )
        return format_html('<table class="candidate-scores"><thead><tr><th>candidate</th><th>accuracy</th>'
                           "<th>log-loss</th><th>rows</th></tr></thead><tbody>{}</tbody></table>", rows)

    @admin.display(description="holdout accuracy")
    def holdout(self, training_round) -> str:
        return holdout_text(training_round.holdout_summary())

    @admin.display(description="holdout, measured so far")
    def holdout_measured(self, training_round) -> str:
        """The figure itself, when `holdout` withholds it as not yet meaningful."""
        summary = training_round.holdout_summary()
        if not summary or summary["meaningful"] is not False:
            return "—"
        return holdout_text({**summary, "meaningful": None})

    @admin.display(description="progress")
    def percent_done(self, training_round) -> str:
        percent = (training_round.progress or {}).get("percent")
        return "—" if percent is None else f"{float(percent):.0f}%"

    @admin.display(description="time left")
    def time_left(self, training_round) -> str:
        eta = (training_round.progress or {}).get("eta_seconds")
        if training_round.is_finished or eta is None:
            return "—"
        return _duration(eta)

    @admin.display(description="message")
    def progress_message(self, training_round) -> str:
        return (training_round.progress or {}).get("message") or "—"

    @admin.display(description="error")
    def short_error(self, training_round) -> str:
        first_line = training_round.error.strip().splitlines()[0] if training_round.error.strip() else ""
        return first_line[:120] + ("…" if len(first_line) > 120 else "")

    def has_cancel_permission(self, request) -> bool:
        # Whoever sees a round may cancel it: the queryset holds only rounds
        # of projects the user leads (or every round, for a superuser).
        return self.has_view_permission(request)

    @admin.action(description="Cancel the selected rounds in flight", permissions=["cancel"])
    def cancel_rounds(self, request, queryset):
        cancelled, finished = [], []
        for training_round in queryset.select_related("project").order_by("project", "number"):
            if training_round.state in FINISHED_STATES:
                finished.append(training_round)
                continue
            try:
                rounds.cancel_round(training_round=training_round, actor=request.user)
            except RoundConflict:  # it finished between the page and the click
                finished.append(training_round)
                continue
            cancelled.append(training_round)
        if cancelled:
            self.message_user(request, "Cancelled: " + ", ".join(str(r) for r in cancelled) + ".", messages.SUCCESS)
        if finished:
            self.message_user(
                request, "Already finished, left as they were: " + ", ".join(str(r) for r in finished) + ".",
                messages.WARNING,
            )


@admin.register(ModelVersion)
class ModelVersionAdmin(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["project", "round", "is_active", "created_at"]
    list_filter = [LedProjectFilter, "is_active"]
    list_select_related = ["project", "round"]
    show_full_result_count = False
