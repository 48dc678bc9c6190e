"""Encoders: turn items (texts or images) into L2-normalised float32 vectors.

Every encoder follows the `Encoder` protocol in `base.py`. The encoders
themselves live in their own modules, imported where needed so that
`import ssl_engine.encoders` does not load torch:

- `text_pretrained.SentenceEncoder`: a pretrained sentence encoder (the
  offline all-MiniLM-L6-v2 by default);
- `text_scratch.TextTransformerEncoder`: a small transformer trained from
  scratch (masked-token prediction) for corpora without a backbone;
- `image_cnn.ImageCNNEncoder`: a small ResNet trained from scratch (SimCLR);
- `image_torchvision.TorchvisionEncoder`: any torchvision classification
  backbone (resnet18, efficientnet_b0, vit_b_16, ...) with its head removed,
  weights from a local `.safetensors`/`.pth` file (spelled
  `torchvision:<arch>:<weights file>`); needs a torchvision that imports
  beside the installed torch, and nothing else here does;
- `cache.EmbeddingCache`: embeddings by (content hash, encoder version).
"""

from ssl_engine.encoders.base import Encoder, l2_normalise

__all__ = ["Encoder", "l2_normalise"]
