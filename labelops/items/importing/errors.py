"""The one exception an import raises for bad input."""

from __future__ import annotations


class ImportFailed(Exception):
    """The input cannot be imported. The message names where (a line, an
    archive member, a task) and what is wrong, in words a lead can act on;
    `where` holds the location alone, for tests and the job's report.

    Raised anywhere inside the import's transaction, it rolls the whole import
    back: nothing of a failed file is kept.
    """

    def __init__(self, message: str, *, where: str = ""):
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return self.message
