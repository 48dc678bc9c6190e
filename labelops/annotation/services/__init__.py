"""The annotation queue's services: what an annotator can do to items.

- `next_item` (queue.py): lease the next item (or a look-ahead one), with
  its proposal and nearest labelled neighbours; the claim's SQL is
  queue_sql.py.
- `submit` (submit.py): answer a leased item; the quality rules then judge
  the answer (`labelops.annotation.signals`).
- `skip`, `release`, `heartbeat`, `expire_leases` (leases.py).
- undo.py: `undo`, take back a submitted answer while its lease allows.
- taxonomy_migration.py: apply a new taxonomy version's mapping to the data.

Consensus, Dawid-Skene, agreement, gold checks, review, bulk labelling and
the dashboard are the quality rules, one layer up: `labelops.quality`.

Each states its locking in its docstring; `leases.py` describes the lock
order all of them share (user row, then lease row, then item row).
Bad input raises `django.core.exceptions.ValidationError`; an action on a
lease that has ended raises `LeaseConflict` (a `labelops.errors.Conflict`,
answered 409 by the API's exception handler).
"""

from labelops.annotation.services.leases import LeaseConflict, expire_leases, heartbeat, release, skip
from labelops.annotation.services.queue import Claim, next_item
from labelops.annotation.services.submit import submit

__all__ = ["Claim", "LeaseConflict", "expire_leases", "heartbeat", "next_item", "release", "skip", "submit"]
