"""Recording audit events. Every service that writes calls `record` in the same
transaction as its write, so an event exists exactly when the change does."""

from __future__ import annotations

from typing import Any

from labelops.audit.models import AuditEvent


def record(
    *,
    actor,
    verb: str,
    obj,
    project=None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. `obj` is any saved model instance; `before`/`after` are
    JSON-ready dicts (use the model's `to_dict()`)."""
    return AuditEvent.objects.create(
        actor=actor if (actor is not None and actor.is_authenticated) else None,
        project=project,
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
    )
