"""Where an item that reached its overlap target goes next.

The consensus itself (majority vote, Dawid-Skene, agreement, agreed or
disputed, review triggers) is the next part of issue 4; `submit` calls
`on_overlap_reached` in exactly one place, inside its transaction, so the
consensus will be written atomically with the annotation that completed it.
"""

from __future__ import annotations

from labelops.items.models import Item


def on_overlap_reached(item: Item) -> None:
    """Called by `submit` (with the item row locked) when a pool or holdout
    item gets its `rules.overlap`-th annotation and turns `labelled`.
    Not called for gold items: their answer is known, and checking an
    annotator against it is the gold-check part of the issue.

    For now it does nothing: the item stays `labelled` with no consensus."""
