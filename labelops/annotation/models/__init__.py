"""Every labelling table: the queue's and the quality rules' (see
docs/ARCHITECTURE.md, "Layers": the queue reads and writes both, so they
sit below it, in this one app). One module per subject, one flat surface:

- leases.py: `Lease` (an item handed to one annotator), `reopenable`;
- annotations.py: `Annotation` (one annotator's answer);
- consensus.py: `Consensus` and `FinalLabel` (an item's final labels);
- review.py: `ReviewTask` and `Review` (what waits for a reviewer, and the decision);
- gold.py: `AnnotatorStats` (gold-check records);
- recompute.py: `AgreementSnapshot` and `Recompute` (project-wide recomputations);
- bulk.py: `BulkBatch` and `BulkBatchItem` (bulk labels under sampled verification).
"""

from labelops.annotation.models.annotations import Annotation, AnnotationQuerySet, AnnotationSource
from labelops.annotation.models.bulk import (
    BulkBatch,
    BulkBatchItem,
    BulkBatchQuerySet,
    BulkBatchState,
    BulkItemOutcome,
)
from labelops.annotation.models.consensus import (
    Consensus,
    ConsensusMethod,
    ConsensusQuerySet,
    ConsensusStatus,
    FinalLabel,
)
from labelops.annotation.models.gold import MIN_GOLD_FOR_ACCURACY, AnnotatorStats
from labelops.annotation.models.leases import REQUEUE_LATER_AFTER, Lease, LeaseOutcome, LeaseQuerySet, reopenable
from labelops.annotation.models.recompute import AgreementSnapshot, Recompute, RecomputeKind, RecomputeQuerySet
from labelops.annotation.models.review import (
    Review,
    ReviewDecision,
    ReviewReason,
    ReviewTask,
    ReviewTaskQuerySet,
)

__all__ = [
    "MIN_GOLD_FOR_ACCURACY", "REQUEUE_LATER_AFTER", "AgreementSnapshot", "Annotation", "AnnotationQuerySet",
    "AnnotationSource", "AnnotatorStats", "BulkBatch", "BulkBatchItem", "BulkBatchQuerySet", "BulkBatchState",
    "BulkItemOutcome", "Consensus", "ConsensusMethod", "ConsensusQuerySet", "ConsensusStatus", "FinalLabel", "Lease",
    "LeaseOutcome", "LeaseQuerySet", "Recompute", "RecomputeKind", "RecomputeQuerySet", "Review", "ReviewDecision",
    "ReviewReason", "ReviewTask", "ReviewTaskQuerySet", "reopenable",
]
