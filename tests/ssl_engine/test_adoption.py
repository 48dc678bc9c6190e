"""The adoption guard: adopt an adapted encoder only for a real gain."""

from __future__ import annotations

import numpy as np
import pytest

from ssl_engine.ssl.adoption import MIN_ROWS, decide


def outcomes(n, accuracy, seed):
    return np.random.default_rng(seed).random(n) < accuracy


def test_a_clear_gain_is_adopted():
    before = outcomes(400, 0.7, 0)
    after = before | outcomes(400, 0.3, 1)  # right wherever it was, and on a third of the rest
    decision = decide(before, after)
    assert decision.adopt and decision.gain > 0.05 and "adopted" in decision.reason


def test_a_worse_encoder_is_refused():
    before = outcomes(400, 0.8, 0)
    after = before & outcomes(400, 0.9, 1)  # loses a tenth of what it had
    decision = decide(before, after)
    assert not decision.adopt and decision.gain < 0 and "starting encoder stays" in decision.reason


def test_a_gain_within_the_noise_is_refused():
    before = outcomes(60, 0.7, 0)
    after = before.copy()
    flips = np.flatnonzero(~before)[:4]
    after[flips] = True  # 4 items better ...
    after[np.flatnonzero(before)[:2]] = False  # ... 2 worse: +3.3 points, standard error about 2.9
    decision = decide(before, after)
    assert not decision.adopt and "within the noise" in decision.reason


def test_too_few_labels_keep_the_starting_encoder():
    decision = decide(np.zeros(MIN_ROWS - 1, bool), np.ones(MIN_ROWS - 1, bool))
    assert not decision.adopt and decision.gain is None and f"needs {MIN_ROWS}" in decision.reason


def test_the_two_outcome_vectors_must_match():
    with pytest.raises(ValueError, match="same items"):
        decide(np.zeros(40, bool), np.zeros(41, bool))


def test_the_decision_is_plain_json():
    assert set(decide(outcomes(100, 0.5, 0), outcomes(100, 0.5, 1)).to_dict()) == {
        "adopt", "reason", "rows", "accuracy_before", "accuracy_after", "gain", "stderr"}
