"""Data hygiene shared by every way data enters LabelOps.

One implementation, used by the platform's import pipeline and usable from a
notebook: canonical text and content hashes (`text`), personal-data scrubbing
(`pii`) and streaming stratified holdout assignment (`splits`). No Django.
"""

from ssl_engine.hygiene.pii import PLACEHOLDERS, PiiScrubber, luhn_valid, scrub_pii
from ssl_engine.hygiene.splits import StratifiedHoldout, stratum_of
from ssl_engine.hygiene.text import bytes_hash, canonicalize_text, text_hash

__all__ = [
    "PLACEHOLDERS",
    "PiiScrubber",
    "StratifiedHoldout",
    "bytes_hash",
    "canonicalize_text",
    "luhn_valid",
    "scrub_pii",
    "stratum_of",
    "text_hash",
]
