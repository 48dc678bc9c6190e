"""Scrubbing personal data out of text before it is stored or hashed.

Three kinds are replaced by placeholders:

- e-mail addresses -> ``[EMAIL]``;
- payment card numbers -> ``[CARD]``: 13 to 19 digits, optionally grouped by
  single spaces or dashes, that pass the Luhn checksum (so an order number
  that merely has 16 digits is kept);
- phone numbers -> ``[PHONE]``: found by Google's libphonenumber port
  (`phonenumbers`) at its VALID leniency, i.e. numbers whose length and
  prefixes are allocated in the numbering plan of their country. Numbers
  without a leading ``+`` are read in `phone_region` (default ``"US"``).

The order matters: e-mail addresses first (they may contain digits), then
cards (so a card is never half-taken as a phone number), then phones.

Imports run this on every row, so each kind has a cheap pre-filter: most
texts cost one "@" test and one regular-expression scan, and the expensive
phone matcher (about 70 µs per text) only runs where a number of the
region's shortest national length, or a "+" number, appears.

Example::

    >>> scrubber = PiiScrubber()
    >>> tally = {}
    >>> scrubber.scrub("Mail ann@example.com, card 4111 1111 1111 1111", tally)
    'Mail [EMAIL], card [CARD]'
    >>> tally
    {'email': 1, 'card': 1}
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

__all__ = ["PLACEHOLDERS", "PiiScrubber", "luhn_valid", "scrub_pii"]

PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]"}

# The local part starts only where the previous character cannot belong to it,
# so a long run of word characters is tried once, not from every position
# (which would be quadratic). Domain labels are ASCII; the TLD is letters.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,128}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,63}(?![\w-])"
)

# A maximal run of 13+ digits where consecutive digits are separated by at
# most one space or dash. Which part of the run is a card is decided in
# Python (`_scrub_card_run`), because the Luhn check cannot be a regex.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}(?!\d)")
_GROUP_SEPARATOR = re.compile(r"[ -]")

# Seven digits with at most three separator characters between neighbours.
# Every card (13+ digits, single separators) and every phone number we
# scrub has this, so most texts cost one scan and no more.
_SEPARATED_DIGITS = r"\d(?:[\s().\-/]{{0,3}}\d){{{more}}}"
_SEVEN_DIGITS = re.compile(_SEPARATED_DIGITS.format(more=6))
# A number in international format: "+", then at least seven digits.
_INTERNATIONAL_HINT = re.compile(r"\+[\s(]{0,2}" + _SEPARATED_DIGITS.format(more=6))
# Shortest phone number worth scrubbing: shorter numbers (extensions, short
# codes) do not identify anyone.
_MIN_PHONE_DIGITS = 7

_CARD_DIGITS = range(13, 20)
_MAX_CARD_GROUPS = 6


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum used by every major card scheme.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _scrub_card_run(run: str) -> tuple[str, int]:
    """Replace the card number inside one digit run, if there is one.

    The whole run is tried first. A run of several groups (say a card number
    followed by its 3-digit security code, "4111 1111 1111 1111 123") is then
    tried as every window of whole consecutive groups, longest first, so the
    card is found without ever splitting a group (splitting groups would let
    Luhn's one-in-ten chance mark random numbers as cards).
    """
    digits = run.replace(" ", "").replace("-", "")
    if len(digits) in _CARD_DIGITS and luhn_valid(digits):
        return PLACEHOLDERS["card"], 1
    groups = _GROUP_SEPARATOR.split(run)
    if len(groups) < 2:
        return run, 0
    separators = _GROUP_SEPARATOR.findall(run)
    # Windows of 13-19 digits and at most _MAX_CARD_GROUPS groups (cards are
    # printed in 3 to 5 groups), so a run of thousands of groups stays linear.
    windows = []
    for i in range(len(groups)):
        length = 0
        for j in range(i, min(i + _MAX_CARD_GROUPS, len(groups))):
            length += len(groups[j])
            if length > _CARD_DIGITS[-1]:
                break
            if length >= _CARD_DIGITS[0] and (i, j + 1) != (0, len(groups)):
                windows.append((-length, i, j + 1))
    windows.sort()
    for _, i, j in windows:
        if luhn_valid("".join(groups[i:j])):
            before = "".join(g + s for g, s in zip(groups[:i], separators[:i], strict=True))
            after = "".join(s + g for s, g in zip(separators[j - 1:], groups[j:], strict=True))
            return before + PLACEHOLDERS["card"] + after, 1
    return run, 0


class PiiScrubber:
    """Replaces e-mail addresses, card numbers and phone numbers in text.

    Parameters
    ----------
    phone_region:
        ISO 3166 country code used to read phone numbers written without an
        international prefix ("(201) 555-0123" is a US number). ``None`` finds
        only numbers written with a leading ``+``.

    The scrubber holds no state between calls and may be shared.
    """

    def __init__(self, *, phone_region: str | None = "US"):
        if phone_region is not None and phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"phone_region {phone_region!r} is not a supported ISO 3166 region code")
        self.phone_region = phone_region
        # The phone matcher costs ~100x a regex scan, so it only runs where a
        # valid number could be: as many digits as the region's shortest
        # national number (10 in the US), or an international "+" number.
        self._national_hint = None
        if phone_region is not None:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(phone_region)
            if metadata is None or metadata.general_desc is None:
                raise ValueError(f"phonenumbers has no numbering plan for region {phone_region!r}")
            lengths = metadata.general_desc.possible_length
            shortest = max(_MIN_PHONE_DIGITS, min(lengths))
            self._national_hint = re.compile(_SEPARATED_DIGITS.format(more=shortest - 1))

    def scrub(self, text: str, tally: MutableMapping[str, int] | None = None) -> str:
        """The text with every e-mail address, card and phone number replaced.

        `tally`, if given, is incremented per kind found (keys "email",
        "phone", "card"), so a caller can total them over millions of rows
        without a result object per row.
        """
        if "@" in text:
            text, found = _EMAIL.subn(PLACEHOLDERS["email"], text)
            if found and tally is not None:
                tally["email"] = tally.get("email", 0) + found
        if not _SEVEN_DIGITS.search(text):
            return text
        if _DIGIT_RUN.search(text):
            text = self._scrub_cards(text, tally)
        if (self._national_hint is not None and self._national_hint.search(text)) or (
            "+" in text and _INTERNATIONAL_HINT.search(text)
        ):
            text = self._scrub_phones(text, tally)
        return text

    @staticmethod
    def _scrub_cards(text: str, tally: MutableMapping[str, int] | None) -> str:
        found = 0

        def replace(match: re.Match) -> str:
            nonlocal found
            replaced, count = _scrub_card_run(match.group(0))
            found += count
            return replaced

        text = _DIGIT_RUN.sub(replace, text)
        if found and tally is not None:
            tally["card"] = tally.get("card", 0) + found
        return text

    def _scrub_phones(self, text: str, tally: MutableMapping[str, int] | None) -> str:
        spans = [(m.start, m.end) for m in PhoneNumberMatcher(text, self.phone_region, leniency=Leniency.VALID)]
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            parts.append(text[last:start])
            parts.append(PLACEHOLDERS["phone"])
            last = end
        parts.append(text[last:])
        if tally is not None:
            tally["phone"] = tally.get("phone", 0) + len(spans)
        return "".join(parts)


_DEFAULT = PiiScrubber()


def scrub_pii(text: str) -> tuple[str, dict[str, int]]:
    """Convenience for one text with the default scrubber: (scrubbed, counts)."""
    tally: dict[str, int] = {}
    return _DEFAULT.scrub(text, tally), tally
