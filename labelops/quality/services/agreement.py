"""How much two answers agree, with partial credit along the taxonomy tree.

Pure functions over label keys and a `parents` map (key -> parent key or
None, see `taxonomy_parents`); no database access beyond that map.

Label credit `c(a, b)`:

- 1   when `a == b`;
- 1/2 (`PARTIAL_CREDIT`) when `a` is the parent of `b` (or the reverse), or
  when `a` and `b` are siblings (they share a parent): the annotators agree
  on the branch, not on the leaf. This is `1 - d/4` for a tree-path distance
  `d` of 1 or 2 edges, rounded to one value so the rule stays explainable;
- 0   otherwise (different branches, or two roots).

Answer similarity `sim(A, B)`:

- single-label projects: the label credit of the two labels;
- multi-label projects: a soft Jaccard index. The soft intersection is
  `s = (sum_a max_b c(a, b) + sum_b max_a c(a, b)) / 2` (each label of one
  answer matched to its best counterpart in the other, counted from both
  sides and averaged), and `sim = s / (|A| + |B| - s)`. With exact matches
  only this is the usual `|A ∩ B| / |A ∪ B|`; equal sets give 1, unrelated
  sets 0.

An item's agreement is the mean of `sim(annotation, final labels)` over its
annotations: for single-label the share of annotators agreeing with the
final label (with partial credit), for multi-label their mean Jaccard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

PARTIAL_CREDIT = 0.5


def taxonomy_parents(version) -> dict[str, str | None]:
    """key -> parent key (None for a root) of a `TaxonomyVersion`."""
    return dict(version.label_tree)


def label_credit(a: str, b: str, parents: dict[str, str | None]) -> float:
    if a == b:
        return 1.0
    parent_a, parent_b = parents.get(a), parents.get(b)
    if parent_a == b or parent_b == a:
        return PARTIAL_CREDIT
    if parent_a is not None and parent_a == parent_b:
        return PARTIAL_CREDIT
    return 0.0


def similarity(a: Sequence[str], b: Sequence[str], parents: dict[str, str | None], *, multi: bool) -> float:
    """`sim(A, B)` of the module docstring."""
    if not multi:
        if not a or not b:
            return 0.0
        return label_credit(a[0], b[0], parents)
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    forward = sum(max(label_credit(x, y, parents) for y in b) for x in a)
    backward = sum(max(label_credit(y, x, parents) for x in a) for y in b)
    soft = (forward + backward) / 2
    return soft / (len(a) + len(b) - soft)


def item_agreement(answers: Sequence[Sequence[str]], final: Sequence[str], parents, *, multi: bool) -> float:
    if not answers:
        return 0.0
    return sum(similarity(answer, final, parents, multi=multi) for answer in answers) / len(answers)


@dataclass(frozen=True)
class Vote:
    """A majority vote's outcome: `labels` (in taxonomy order; empty when
    nothing won) and whether a tie decided nothing."""

    labels: list[str]
    tie: bool


def majority_vote(answers: Sequence[Sequence[str]], order: Sequence[str], *, multi: bool) -> Vote:
    """Single-label: the label most annotators chose; a tie for first place
    wins nothing (`labels == []`, `tie`). Multi-label: every label chosen by
    more than half of the annotators; a label chosen by exactly half is a tie
    (left out, and the vote is a tie). `order` is the taxonomy's key order."""
    position = {key: i for i, key in enumerate(order)}
    counts = Counter(label for answer in answers for label in set(answer))
    ordered = sorted(counts, key=lambda key: position.get(key, len(position)))
    if not multi:
        if not counts:
            return Vote([], False)
        top = max(counts.values())
        winners = [key for key in ordered if counts[key] == top]
        return Vote([], True) if len(winners) > 1 else Vote(winners, False)
    n = len(answers)
    labels = [key for key in ordered if counts[key] * 2 > n]
    tie = any(counts[key] * 2 == n for key in ordered)
    return Vote(labels, tie)
