"""ssl_engine.hygiene: canonical text, hashes, PII scrubbing, holdout splits.

Pure tests: no database, no Django.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter

import pytest

from ssl_engine.hygiene import (
    PiiScrubber,
    StratifiedHoldout,
    bytes_hash,
    canonicalize_text,
    luhn_valid,
    scrub_pii,
    stratum_of,
    text_hash,
)

# --- canonical text and hashes ---------------------------------------------------


def test_nfc_composed_and_decomposed_give_the_same_text_and_hash():
    composed = "Caf\u00e9 cr\u00e8me"
    decomposed = "Cafe\u0301 cre\u0300me"
    assert composed != decomposed
    assert canonicalize_text(decomposed) == composed
    assert text_hash(canonicalize_text(composed)) == text_hash(canonicalize_text(decomposed))


def test_whitespace_is_collapsed_and_stripped_including_unicode_spaces():
    assert canonicalize_text("  a\t\tb  c\u00a0\u3000d  ") == "a b c d"


def test_line_breaks_are_kept_and_blank_line_runs_reduced_to_one():
    assert canonicalize_text("\n\n a\t\tb\r\n\r\n\r\nc\u00a0\u3000d \u2029e\n \n") == "a b\n\nc d\ne"
    assert canonicalize_text(" \n\t ") == ""


def test_hashes_are_sha256_hex_of_utf8_text_and_of_bytes():
    assert text_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert text_hash("é") == hashlib.sha256("é".encode()).hexdigest()
    assert bytes_hash(b"\x89PNG") == hashlib.sha256(b"\x89PNG").hexdigest()


# --- PII -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4111111111111111", True), ("5500005555555559", True), ("378282246310005", True),
     ("4111111111111112", False), ("1234567812345678", False)],
)
def test_luhn_known_values(digits, valid):
    assert luhn_valid(digits) is valid


def test_emails_are_scrubbed_and_counted():
    text, counts = scrub_pii("write to ann.lee+tickets@mail.example.co.uk or bob@example.com.")
    assert text == "write to [EMAIL] or [EMAIL]."
    assert counts == {"email": 2}


def test_luhn_valid_card_is_scrubbed_with_spaces_dashes_or_none():
    for card in ("4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "3782 822463 10005"):
        text, counts = scrub_pii(f"my card is {card}, thanks")
        assert text == "my card is [CARD], thanks", card
        assert counts == {"card": 1}


def test_luhn_invalid_sixteen_digit_number_is_kept():
    text, counts = scrub_pii("tracking number 4111 1111 1111 1112 and 1234567812345678")
    assert text == "tracking number 4111 1111 1111 1112 and 1234567812345678"
    assert counts == {}


def test_card_followed_by_its_security_code_is_still_found():
    text, counts = scrub_pii("pay with 4111 1111 1111 1111 123 please")
    assert text == "pay with [CARD] 123 please"
    assert counts == {"card": 1}


def test_phone_numbers_national_and_international_are_scrubbed():
    text, counts = scrub_pii("call (201) 555-0123 or +44 20 7946 0958 today")
    assert text == "call [PHONE] or [PHONE] today"
    assert counts == {"phone": 2}


def test_numbers_that_are_not_phones_are_kept():
    # Seven or eight digits are too short for a US national number.
    for text in ("order 20240115123 shipped", "on 2024-01-15 at 10:30", "order #3104866", "version 1.2.3"):
        assert scrub_pii(text) == (text, {}), text


def test_phone_region_reads_national_numbers_of_that_country():
    uk = PiiScrubber(phone_region="GB")
    tally: dict[str, int] = {}
    assert uk.scrub("ring 020 7946 0958", tally) == "ring [PHONE]"
    assert tally == {"phone": 1}
    with pytest.raises(ValueError, match="XX"):
        PiiScrubber(phone_region="XX")


def test_email_with_digits_is_one_email_not_a_phone():
    assert scrub_pii("from 2015550123@example.com") == ("from [EMAIL]", {"email": 1})


def test_tally_accumulates_across_calls():
    scrubber, tally = PiiScrubber(), Counter()
    scrubber.scrub("a@example.com", tally)
    scrubber.scrub("b@example.com and 4111111111111111", tally)
    assert tally == {"email": 2, "card": 1}


def test_pathological_inputs_stay_fast():
    # Regular-expression back-tracking must stay linear on long runs.
    scrubber = PiiScrubber()
    started = time.perf_counter()
    scrubber.scrub("a" * 100_000 + "@")
    scrubber.scrub("1 " * 50_000)
    scrubber.scrub("-" * 100_000 + "1" * 30)
    assert time.perf_counter() - started < 10.0  # quadratic back-tracking would take minutes


# --- holdout -----------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.37])
def test_each_stratum_is_within_one_item_of_the_fraction_at_every_point(fraction):
    holdout = StratifiedHoldout(fraction, seed=3)
    sizes = {"a": 997, "b": 130, "c": 7, None: 401}
    stream = [label for label, n in sizes.items() for _ in range(n)]
    # Interleave deterministically so strata are not contiguous.
    stream = stream[::2] + stream[1::2]
    held, seen = Counter(), Counter()
    for label in stream:
        seen[label] += 1
        held[label] += holdout.assign(label)
        assert abs(held[label] - seen[label] * fraction) < 1
    assert {label: holdout.seen(label) for label in sizes} == sizes


def test_same_seed_same_picks_other_seed_other_picks():
    def picks(seed):
        holdout = StratifiedHoldout(0.1, seed=seed)
        return [holdout.assign(i % 4) for i in range(2000)]

    assert picks(0) == picks(0)
    assert picks(0) != picks(1)


def test_phase_does_not_depend_on_order_of_first_appearance():
    first, second = StratifiedHoldout(0.2, seed=5), StratifiedHoldout(0.2, seed=5)
    a_then_b = [first.assign("a") for _ in range(10)] + [first.assign("b") for _ in range(10)]
    b_then_a = [second.assign("b") for _ in range(10)] + [second.assign("a") for _ in range(10)]
    assert a_then_b[:10] == b_then_a[10:] and a_then_b[10:] == b_then_a[:10]


def test_zero_fraction_holds_nothing_and_bad_fractions_are_refused():
    holdout = StratifiedHoldout(0.0)
    assert not any(holdout.assign("x") for _ in range(100))
    for bad in (1.0, -0.1, True, "0.1"):
        with pytest.raises(ValueError):
            StratifiedHoldout(bad)


def test_stratum_of_labels():
    assert stratum_of(None) is None
    assert stratum_of([]) is None
    assert stratum_of(["bug"]) == "bug"
    assert stratum_of(["bug", "billing"]) == stratum_of(["billing", "bug"]) == "billing|bug"
