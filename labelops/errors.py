"""Domain errors: what a service raises when a request is well formed but the
world says no.

Bad input is Django's `ValidationError` (a 400 naming the field). The rest
are `DomainError`s, each of one kind that fixes its HTTP status:

- `Conflict` (409): the object is no longer in the state the action needs
  (a lease that has ended, an item not in review, a batch already resolved,
  a round already running);
- `Forbidden` (403): this user may not do this to this object, whatever its
  state (a reviewer deciding an item they annotated);
- `Unavailable` (503): a service the action needs, such as the task broker,
  cannot be reached; nothing was half-done.

Each carries a human `message` and a machine-readable `code`
(`already_submitted`, `review_leased`, ...). The API's exception handler
(`labelops.api.errors`) maps them once, so views never translate errors by
hand; the admin and the Celery tasks read `message` directly. This module
imports nothing of the platform, so every layer can raise them.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the domain errors; `status` is the HTTP status the API answers."""

    status: int = 400
    default_code: str = "error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class Conflict(DomainError):
    status = 409
    default_code = "conflict"


class Forbidden(DomainError):
    status = 403
    default_code = "permission_denied"


class Unavailable(DomainError):
    status = 503
    default_code = "unavailable"
