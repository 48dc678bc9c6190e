"""`QueueContext`: what every queue action needs to know about its project,
read once per request and passed explicitly.

The queue views read it in one statement (`queue_sql.read_queue_context`)
with the project's row, before authorising, and hand it to the service
(`next_item`, `submit`, `skip`, `heartbeat`, `release`); a service called
without one (a test, a script) reads it itself. Nothing is hung on the
`Project` instance, and nothing asks whether it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from labelops.projects.models import Project, QualityRules, TaxonomyVersion


@dataclass(frozen=True)
class QueueContext:
    project: Project  # with its `rules` (the same object as `rules` below)
    rules: QualityRules
    # The user's role in the project, None if they are not a member (the
    # view authorises with it; the services never look at it).
    role: str | None
    # The active taxonomy version, None before the first. Only its id,
    # number and creation time are loaded: enough to check an answer
    # (`TaxonomyVersion.label_tree` is cached per version).
    taxonomy: TaxonomyVersion | None
    # The round of the active `ModelVersion` (its ranking and proposals), if any.
    active_round: int | None
    # Some bulk batch is waiting on its sampled items: the claim tries the
    # bulk-sample source, and a submit counts consensus toward a batch.
    bulk_verifying: bool
    # Some lease of the project is past its expiry: `next_item` sweeps first.
    has_expired_leases: bool
    # No Dawid-Skene pass can be due before an annotation with this id
    # (`Recompute.due_at`, 0 before the first check), unless the pass queued
    # at `dawid_skene_queued_at` never ran: a submit below it costs the
    # scheduler no query (`labelops.quality.services.schedule`).
    dawid_skene_due_at: int
    dawid_skene_queued_at: datetime | None
    # When all of the above was true.
    read_at: datetime
