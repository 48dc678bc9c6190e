"""The claim query of `queue.next_item`, written as SQL: the first item an
annotator may be served from one source of the queue, locked.

Why SQL rather than the ORM: this statement runs on every `next`, and the
ORM spent about 7 of the 8 ms it took on the benchmark machine building and
compiling the queryset (its Exists, Case and Subquery expressions); the
statement itself executes in under 0.1 ms off the partial index. Here the
text is built once per (source, database vendor) and each call only binds
its parameters (`labelops.bench queue` measures the difference).

The rules are the queue's (see `labelops.annotation.services.queue`):

- eligible for `annotator`: a pool or holdout item still unlabelled or in
  progress, with `annotation_count + active_lease_count` below the overlap
  target, that they hold no lease on (other than a reopenable one, see
  `models.reopenable`, mirrored in `REOPENABLE`) and have no live annotation
  of. Gold items need only the last two conditions (no overlap cap);
- `reopenable` comes along: whether the annotator has a lease row on the
  item to reopen rather than insert;
- `shown_proposal`: the id of the proposal to show with it, the rule of
  `queue.current_proposal` for one item: none for holdout items; else the
  active round's proposal if it has labels, else the newest imported one.

Locking: on PostgreSQL the row is taken `FOR NO KEY UPDATE SKIP LOCKED`, so
concurrent annotators each get a different row without waiting and the
counters are re-checked on the locked row. SQLite has no row locks; there
every transaction starts with BEGIN IMMEDIATE (see settings), so claims run
one at a time. The same text runs on both: the vendor-specific parts are the
lock clause and the empty-JSON-list test.

The planner trap: the project is matched as `project_id BETWEEN p AND p`,
not `= p`. The rows are the same, but PostgreSQL then keeps `project_id` in
the sort key, which only the partial index `item_queued_idx (project_id,
id)` (and `item_queue_idx` for gold) provides. With `= p` the key reduces to
`id`, the planner prefers walking the primary key (it assumes a project's
rows spread evenly over all ids), and every `next` in a later project walked
past every row of the earlier ones (300-900 ms behind a 1M-item project;
0.1 ms off the partial index).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.db import connection

from labelops.annotation.models import (
    REQUEUE_LATER_AFTER,
    Annotation,
    BulkBatch,
    BulkBatchItem,
    Lease,
    LeaseOutcome,
)
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import Proposal

# Where an item may come from, in the order `queue._claim` tries them.
GOLD, BULK_SAMPLE, RANKED, POOL = "gold", "bulk_sample", "ranked", "pool"
SOURCES = (GOLD, BULK_SAMPLE, RANKED, POOL)

# `models.reopenable` for the lease row `l`, with `later_cutoff` = now - REQUEUE_LATER_AFTER.
REOPENABLE = (
    f"l.closed_at IS NOT NULL AND (l.outcome IN ('{LeaseOutcome.RELEASED}', '{LeaseOutcome.EXPIRED}', "
    f"'{LeaseOutcome.REJECTED}') OR (l.outcome = '{LeaseOutcome.SKIPPED_LATER}' "
    f"AND l.closed_at <= %(later_cutoff)s))"
)

# Pool and holdout items waiting for labels: written exactly as the condition
# of the partial index `item_queued_idx`, so PostgreSQL can use it.
QUEUED = (
    f"i.split IN ('{Split.POOL}', '{Split.HOLDOUT}') "
    f"AND i.state IN ('{ItemState.UNLABELLED}', '{ItemState.IN_PROGRESS}') "
    "AND i.annotation_count + i.active_lease_count < %(overlap)s"
)

# What each source adds to the FROM clause, the WHERE clause and the order.
_SOURCE_SQL = {
    GOLD: ("", f"i.split = '{Split.GOLD}'", "i.project_id, i.split, i.state, i.id"),
    BULK_SAMPLE: (
        "JOIN {bulk_item} e ON e.item_id = i.id AND e.open AND e.sampled",
        # Never to the person who made the batch.
        QUEUED + " AND NOT EXISTS (SELECT 1 FROM {bulk_item} e2 JOIN {bulk} b ON b.id = e2.batch_id "
        "WHERE e2.item_id = i.id AND b.created_by_id = %(annotator)s)",
        "i.project_id, i.id",
    ),
    RANKED: (
        "JOIN {proposal} r ON r.item_id = i.id",
        QUEUED + " AND r.round_id = %(round)s AND r.rank IS NOT NULL",
        "r.rank, i.id",
    ),
    POOL: ("", QUEUED, "i.project_id, i.id"),
}


@cache
def claim_sql(source: str, vendor: str) -> str:
    """The statement for `source` on the database `vendor` (cached: the
    text depends on nothing else)."""
    join, where, order = _SOURCE_SQL[source]
    tables = {"item": Item._meta.db_table, "lease": Lease._meta.db_table,
              "annotation": Annotation._meta.db_table, "proposal": Proposal._meta.db_table,
              "bulk_item": BulkBatchItem._meta.db_table, "bulk": BulkBatch._meta.db_table}
    columns = ", ".join(f"i.{field.column}" for field in Item._meta.concrete_fields)
    if vendor == "postgresql":
        has_labels, lock = "p.labels <> '[]'::jsonb", " FOR NO KEY UPDATE OF i SKIP LOCKED"
    else:
        has_labels, lock = "json(p.labels) <> '[]'", ""
    sql = f"""
        SELECT {columns},
            EXISTS (SELECT 1 FROM {{lease}} l
                    WHERE l.item_id = i.id AND l.annotator_id = %(annotator)s AND {REOPENABLE}) AS reopenable,
            CASE WHEN i.split = '{Split.HOLDOUT}' THEN NULL ELSE (
                SELECT p.id FROM {{proposal}} p
                WHERE p.item_id = i.id AND (p.round_id IS NULL OR (p.round_id = %(round)s AND {has_labels}))
                ORDER BY CASE WHEN p.round_id = %(round)s THEN 0 ELSE 1 END, p.id DESC
                LIMIT 1
            ) END AS shown_proposal
        FROM {{item}} i {join}
        WHERE i.project_id >= %(project)s AND i.project_id <= %(project)s
            AND {where}
            AND NOT EXISTS (SELECT 1 FROM {{lease}} l
                            WHERE l.item_id = i.id AND l.annotator_id = %(annotator)s AND NOT ({REOPENABLE}))
            AND NOT EXISTS (SELECT 1 FROM {{annotation}} a
                            WHERE a.item_id = i.id AND a.annotator_id = %(annotator)s AND NOT a.discarded)
        ORDER BY {order}
        LIMIT 1{lock}
    """
    return sql.format(**tables)


def lock_first(source: str, *, project_id: int, annotator_id: int, now: datetime, overlap: int,
               active_round: int | None) -> Item | None:
    """The first item of `source` that `annotator_id` may be served now and
    no other transaction holds, locked; with `reopenable` and
    `shown_proposal` set on it. Call inside a transaction."""
    params = {
        "project": project_id, "annotator": annotator_id, "overlap": overlap, "round": active_round,
        "later_cutoff": now - REQUEUE_LATER_AFTER,  # raw() adapts it for the vendor
    }
    return next(iter(Item.objects.raw(claim_sql(source, connection.vendor), params)), None)
