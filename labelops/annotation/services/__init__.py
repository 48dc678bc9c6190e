"""The annotation queue's services: what an annotator can do to items.

- `next_item` (queue.py): lease the next item, with its proposal.
- `submit` (submit.py): answer a leased item.
- `skip`, `release`, `heartbeat`, `expire_leases` (leases.py).

Each states its locking in its docstring; `leases.py` describes the lock
order all of them share (user row, then lease row, then item row).
Bad input raises `django.core.exceptions.ValidationError`; an action on a
lease that has ended raises `LeaseConflict`.
"""

from labelops.annotation.services.errors import LeaseConflict
from labelops.annotation.services.leases import expire_leases, heartbeat, release, skip
from labelops.annotation.services.queue import Claim, next_item
from labelops.annotation.services.submit import submit

__all__ = ["Claim", "LeaseConflict", "expire_leases", "heartbeat", "next_item", "release", "skip", "submit"]
