"""cosine_schedule: hand-computed values, warm-up, edge cases."""

import doctest
import math

import numpy as np
import pytest

from ssl_engine.ssl import schedule
from ssl_engine.ssl.schedule import cosine_schedule


def test_known_values_without_warmup():
    # cos(0), cos(pi/4), cos(pi/2), cos(3pi/4), cos(pi) mapped to (1 + cos) / 2
    expected = [1.0, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2, 0.0]
    np.testing.assert_allclose(cosine_schedule(1.0, 0.0, 5), expected, atol=1e-12)


def test_known_values_with_warmup_and_floor():
    np.testing.assert_allclose(cosine_schedule(1.0, 0.0, 5, warmup_steps=2), [0.0, 0.5, 1.0, 0.5, 0.0])
    # base 0.1 -> final 0.02 over 3 cosine steps after 2 warm-up steps from 0.05
    np.testing.assert_allclose(cosine_schedule(0.1, 0.02, 5, warmup_steps=2, start_warmup_value=0.05),
                               [0.05, 0.075, 0.1, 0.06, 0.02])


@pytest.mark.parametrize("total,warmup", [(1, 0), (1, 1), (2, 0), (10, 3), (10, 10), (1000, 100)])
def test_shape_ends_and_monotone_decay(total, warmup):
    values = cosine_schedule(3e-4, 1e-6, total, warmup)
    assert values.shape == (total,) and values.dtype == np.float64
    if total > warmup:
        assert values[warmup] == pytest.approx(3e-4)
        if total - warmup > 1:
            assert values[-1] == pytest.approx(1e-6)
        assert np.all(np.diff(values[warmup:]) <= 1e-15)  # never rises after warm-up
    assert np.all(np.diff(values[:warmup]) > 0)  # warm-up climbs


def test_empty_and_invalid():
    assert cosine_schedule(1.0, 0.0, 0).shape == (0,)
    with pytest.raises(ValueError, match="exceeds"):
        cosine_schedule(1.0, 0.0, 3, warmup_steps=4)
    with pytest.raises(ValueError, match="non-negative"):
        cosine_schedule(1.0, 0.0, -1)
    with pytest.raises(ValueError, match="finite"):
        cosine_schedule(float("nan"), 0.0, 3)


def test_docstring_example():
    assert doctest.testmod(schedule).failed == 0
