"""Encoders: turn items (texts or images) into L2-normalised float32 vectors.

Every encoder follows the `Encoder` protocol in `base.py`.
"""

from ssl_engine.encoders.base import Encoder, l2_normalise

__all__ = ["Encoder", "l2_normalise"]
