"""Fine-tuning on approved labels (DESIGN, "The round", step 5, "optionally full fine-tuning").

One module per method:

=============  =====================================================================
module         what
=============  =====================================================================
supcon         supervised contrastive loss (Khosla et al., NeurIPS 2020)
contrastive    SupCon fine-tuning of a text encoder on class-balanced batches, then
               ``CalibratedHead`` on the new embeddings (``ContrastiveClassifier``)
=============  =====================================================================
"""

from ssl_engine.finetune.contrastive import (
    ContrastiveClassifier,
    ContrastiveConfig,
    ContrastiveFineTuner,
    NonFiniteLossError,
)
from ssl_engine.finetune.supcon import supcon_loss

__all__ = ["ContrastiveClassifier", "ContrastiveConfig", "ContrastiveFineTuner", "NonFiniteLossError",
           "supcon_loss"]
