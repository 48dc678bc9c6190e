"""Errors of the queue services that are not bad input (those are Django
`ValidationError`s, a 400): the lease exists but can no longer take the action."""

from __future__ import annotations


class LeaseConflict(Exception):
    """The lease is closed (submitted, skipped, released, expired by the
    sweeper) or past its expiry, so it cannot be submitted, skipped,
    heartbeated or released. The API answers 409 with `message` and `code`."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class ReviewConflict(Exception):
    """A review decision on an item that is not waiting for one (no open
    review task). The API answers 409 with `message` and `code`."""

    def __init__(self, message: str, code: str = "not_in_review"):
        super().__init__(message)
        self.message = message
        self.code = code
