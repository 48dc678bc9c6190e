"""The queue's hottest statements, written as SQL: reading the project for
a queue request (`read_queue_context`), the claim of `next_item` (the first
item an annotator may be served from one source of the queue, locked:
`lock_first`, after `lock_annotator_leases`), the lease a submit, skip,
heartbeat or release acts on (`lock_lease`). (An item's row lock is
`Item.objects.lock`, written as SQL for the same reason.)

Why SQL rather than the ORM: they run on every queue request, and the ORM
spent most of their time building and compiling querysets (the claim's
Exists, Case and Subquery expressions above all): about 7 of the 8 ms the
claim took on the benchmark machine, and 3 of the 4 ms of the project read,
while each statement executes in well under a millisecond. Here each text is
built once per database vendor and a call only binds parameters; rows
become model instances through the ORM's own converters (`_instance`).
`labelops.bench queue` measures the difference.

The claim
---------

`lock_first` applies the queue's eligibility rule and the rule of what is
shown (docs/ARCHITECTURE.md, "The queue") to one source, in SQL: the
eligibility of the item for `annotator`, `reopenable` (whether the
annotator has a lease row on it to reopen rather than insert; `REOPENABLE`
mirrors `models.reopenable`) and `shown_proposal` (the rule of
`Proposal.objects.shown_with` for one item), returned as a `Claimable`.

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
0.1 ms off the partial index). Prepared statements keep it (see settings):
the generic plan, forced with `plan_cache_mode = force_generic_plan` for a
small project behind a 1M-item one, still reads the first row off
`item_queued_idx` (0.2 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from labelops.annotation.models import (
    REQUEUE_LATER_AFTER,
    Annotation,
    BulkBatch,
    BulkBatchItem,
    BulkBatchState,
    Lease,
    LeaseOutcome,
    Recompute,
    RecomputeKind,
)
from labelops.annotation.services.context import QueueContext
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import ModelVersion, Proposal
from labelops.projects.models import Membership, Project, QualityRules, TaxonomyVersion

# Where an item may come from, in the order `queue._claim` tries them.
GOLD, BULK_SAMPLE, RANKED, POOL = "gold", "bulk_sample", "ranked", "pool"

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


@dataclass(frozen=True)
class Claimable:
    """The first item of a source, locked, and what the claim statement read with it."""

    item: Item
    # The annotator has a lease row on it to reopen rather than insert (`models.reopenable`).
    reopenable: bool
    # The proposal to show with it (`Proposal.objects.shown_with`), if any.
    shown_proposal_id: int | None


def lock_first(source: str, *, project_id: int, annotator_id: int, now: datetime, overlap: int,
               active_round: int | None) -> Claimable | None:
    """The first item of `source` that `annotator_id` may be served now and
    no other transaction holds, locked. Call inside a transaction."""
    params = {
        "project": project_id, "annotator": annotator_id, "overlap": overlap, "round": active_round,
        "later_cutoff": connection.ops.adapt_datetimefield_value(now - REQUEUE_LATER_AFTER),
    }
    with connection.cursor() as cursor:
        cursor.execute(claim_sql(source, connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    fields = Item._meta.concrete_fields
    *values, reopenable, shown_proposal_id = row
    return Claimable(item=_instance(Item, fields, values), reopenable=bool(reopenable),
                     shown_proposal_id=shown_proposal_id)


# --- The project read ----------------------------------------------------------------

# The active taxonomy version's fields read with the project (the rest load
# on access): a submit checks labels against it, and `created_at` keys the
# process-wide label-tree cache (`TaxonomyVersion.label_tree`).
VERSION_FIELDS = [field for field in TaxonomyVersion._meta.concrete_fields
                  if field.attname in ("id", "project_id", "number", "created_at")]


@cache
def _project_sql(vendor: str) -> str:
    columns = ", ".join(
        [f"p.{field.column}" for field in Project._meta.concrete_fields]
        + [f"r.{field.column}" for field in QualityRules._meta.concrete_fields]
        + [f"t.{field.column}" for field in VERSION_FIELDS]
    )
    return f"""
        SELECT {columns},
            (SELECT m.role FROM {Membership._meta.db_table} m
             WHERE m.project_id = p.id AND m.user_id = %(user)s) AS member_role,
            (SELECT v.round_id FROM {ModelVersion._meta.db_table} v
             WHERE v.project_id = p.id AND v.is_active ORDER BY v.id LIMIT 1) AS active_round,
            EXISTS (SELECT 1 FROM {BulkBatch._meta.db_table} b
                    WHERE b.project_id = p.id AND b.state = '{BulkBatchState.VERIFYING}') AS bulk_verifying,
            EXISTS (SELECT 1 FROM {Lease._meta.db_table} l JOIN {Item._meta.db_table} i ON i.id = l.item_id
                    WHERE l.closed_at IS NULL AND l.expires_at <= %(now)s AND i.project_id = p.id) AS has_expired,
            s.due_at, s.queued_at
        FROM {Project._meta.db_table} p
        LEFT JOIN {QualityRules._meta.db_table} r ON r.project_id = p.id
        LEFT JOIN {Recompute._meta.db_table} s ON s.project_id = p.id AND s.kind = '{RecomputeKind.DAWID_SKENE}'
        LEFT JOIN {TaxonomyVersion._meta.db_table} t ON t.id = (
            SELECT t2.id FROM {TaxonomyVersion._meta.db_table} t2
            WHERE t2.project_id = p.id ORDER BY t2.number DESC LIMIT 1)
        WHERE p.id = %(project)s
    """


def read_queue_context(user_id: int | None, project_id) -> QueueContext | None:
    """The project's `QueueContext` for `user_id` (None if there is no such
    project), in one statement: the project with its rules, the user's role,
    the active taxonomy version, the active round, whether a bulk batch is
    verifying, whether a lease has expired and when a Dawid-Skene pass can
    next be due."""
    now = timezone.now()
    params = {"user": user_id, "project": project_id, "now": connection.ops.adapt_datetimefield_value(now)}
    with connection.cursor() as cursor:
        cursor.execute(_project_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    project_fields, rules_fields = Project._meta.concrete_fields, QualityRules._meta.concrete_fields
    version_fields = VERSION_FIELDS
    values = iter(row)
    project = _instance(Project, project_fields, [next(values) for _ in project_fields])
    rules_values = [next(values) for _ in rules_fields]
    version = [next(values) for _ in version_fields]
    role, active_round, bulk_verifying, has_expired, due_at, queued_at = values
    if rules_values[0] is None:  # every project gets its rules with it (`create_project`)
        raise QualityRules.DoesNotExist(f"project {project.pk} has no quality rules")
    rules = _instance(QualityRules, rules_fields, rules_values)
    project.rules = rules  # the one-to-one's cache: `project.rules` costs no query
    return QueueContext(
        project=project, rules=rules, role=role,
        taxonomy=_instance(TaxonomyVersion, version_fields, version) if version[0] is not None else None,
        active_round=active_round, bulk_verifying=bool(bulk_verifying), has_expired_leases=bool(has_expired),
        dawid_skene_due_at=due_at or 0,
        dawid_skene_queued_at=_convert(Recompute._meta.get_field("queued_at"), Recompute, queued_at), read_at=now,
    )


def queue_context(project_id: int, user_id: int | None = None) -> QueueContext:
    """`read_queue_context` for a project that must exist (a service called
    without the view's context); raises `Project.DoesNotExist`."""
    context = read_queue_context(user_id, project_id)
    if context is None:
        raise Project.DoesNotExist(f"no project {project_id}")
    return context


def _convert(field, model, value):
    """A raw column value of `model.field` as the ORM's own queries convert
    it (JSON text to objects, SQLite's 0/1 to booleans and text to aware
    datetimes)."""
    column = field.get_col(model._meta.db_table)
    for convert in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
        value = convert(value, column, connection)
    return value


def _instance(model, fields, values):
    """A `model` instance from raw column values, converted as the ORM
    converts them (`_convert`); fields not given are deferred."""
    converted = [_convert(field, model, value) for field, value in zip(fields, values)]
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


# --- The lease a submit, skip, heartbeat or release acts on --------------------------


@cache
def _lease_sql(vendor: str, in_project: bool) -> str:
    columns = ", ".join([f"l.{field.column}" for field in Lease._meta.concrete_fields]
                        + [f"p.{field.column}" for field in Proposal._meta.concrete_fields])
    project = f"JOIN {Item._meta.db_table} i ON i.id = l.item_id AND i.project_id = %(project)s" if in_project else ""
    lock = " FOR UPDATE OF l" if vendor == "postgresql" else ""
    return f"""
        SELECT {columns}
        FROM {Lease._meta.db_table} l {project}
        LEFT JOIN {Proposal._meta.db_table} p ON p.id = l.proposal_id
        WHERE l.id = %(lease)s AND l.annotator_id = %(annotator)s{lock}
    """


def lock_lease(lease_id, annotator_id: int, project_id: int | None) -> Lease:
    """The annotator's lease `lease_id` (on an item of `project_id` if
    given), with the proposal shown with it, its row locked (`FOR UPDATE`;
    only the lease row). Anyone else's lease, or one of another project,
    raises `Lease.DoesNotExist`. Call inside a transaction."""
    params = {"lease": lease_id, "annotator": annotator_id, "project": project_id}
    with connection.cursor() as cursor:
        cursor.execute(_lease_sql(connection.vendor, project_id is not None), params)
        row = cursor.fetchone()
    if row is None:
        raise Lease.DoesNotExist(f"no lease {lease_id} of annotator {annotator_id}")
    lease_fields, proposal_fields = Lease._meta.concrete_fields, Proposal._meta.concrete_fields
    lease = _instance(Lease, lease_fields, row[:len(lease_fields)])
    proposal = row[len(lease_fields):]
    lease.proposal = _instance(Proposal, proposal_fields, proposal) if proposal[0] is not None else None
    return lease


# --- The annotator's row and live leases, for a claim -----------------------------------


@cache
def _annotator_sql(vendor: str) -> tuple[str, str]:
    lock = " FOR NO KEY UPDATE" if vendor == "postgresql" else ""
    return (
        f"SELECT id FROM {get_user_model()._meta.db_table} WHERE id = %(annotator)s{lock}",
        f"""SELECT l.id FROM {Lease._meta.db_table} l JOIN {Item._meta.db_table} i ON i.id = l.item_id
            WHERE l.annotator_id = %(annotator)s AND i.project_id = %(project)s
                AND l.closed_at IS NULL AND l.expires_at > %(now)s
            ORDER BY l.id""",
    )


def lock_annotator(annotator_id: int) -> None:
    """Take the annotator's user row (`FOR NO KEY UPDATE`): what serialises
    everything that adds to their live leases (claims, `undo`), so the count
    of live leases they read stays true until they commit. Call inside a
    transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_annotator_sql(connection.vendor)[0], {"annotator": annotator_id})


def lock_annotator_leases(annotator_id: int, project_id: int, now: datetime) -> list[int]:
    """`lock_annotator`, then the ids of the annotator's live leases in the
    project, oldest first. Ids only: most claims just count them. Call
    inside a transaction.

    Two statements, not one with a join: under READ COMMITTED a statement
    that waited for the row lock re-reads only the locked row, so leases
    read in the same statement would come from before the wait, and two
    concurrent claims of one annotator could both count none (the test
    `test_concurrent_prefetches_of_one_annotator_hold_the_cap` caught it)."""
    lock_annotator(annotator_id)
    params = {"annotator": annotator_id, "project": project_id,
              "now": connection.ops.adapt_datetimefield_value(now)}
    with connection.cursor() as cursor:
        cursor.execute(_annotator_sql(connection.vendor)[1], params)
        return [lease_id for (lease_id,) in cursor.fetchall()]
