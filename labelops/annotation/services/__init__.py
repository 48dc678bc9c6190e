"""The annotation queue's services: what an annotator can do to items.

- `next_item` (queue.py): lease the next item (or a look-ahead one), with
  its proposal and nearest labelled neighbours.
- `submit` (submit.py): answer a leased item.
- `skip`, `release`, `heartbeat`, `expire_leases` (leases.py).
- consensus.py: `on_overlap_reached` (majority vote, called by `submit`) and
  `settle` (quality rules); dawid_skene.py: `recompute_dawid_skene` (batch);
  agreement.py: agreement with partial credit along the taxonomy.
- gold.py: `check_gold` (called by `submit` for gold items).
- review.py: `send_to_review`, `next_review` (leased review tasks), `decide`.
- undo.py: `undo`, take back a submitted answer while its lease allows.
- bulk.py: bulk labels of a cluster or selection, verified on a sample.
- taxonomy_migration.py: apply a new taxonomy version's mapping to the data.
- dashboard.py: the lead dashboard's figures, in a fixed number of queries.

Each states its locking in its docstring; `leases.py` describes the lock
order all of them share (user row, then lease row, then item row).
Bad input raises `django.core.exceptions.ValidationError`; an action on a
lease that has ended raises `LeaseConflict`, a review decision on an item
not in review `review.ReviewConflict` (both `labelops.errors.Conflict`s,
answered 409 by the API's exception handler).
"""

from labelops.annotation.services.leases import LeaseConflict, expire_leases, heartbeat, release, skip
from labelops.annotation.services.queue import Claim, next_item
from labelops.annotation.services.submit import submit

__all__ = ["Claim", "LeaseConflict", "expire_leases", "heartbeat", "next_item", "release", "skip", "submit"]
