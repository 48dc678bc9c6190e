"""Collapse monitor: normalised std and RankMe against hand-computed values."""

import doctest
import math

import pytest
import torch

from ssl_engine.ssl import collapse
from ssl_engine.ssl.collapse import collapse_report, normalised_std, rankme

torch.set_num_threads(1)


def test_known_values_on_the_axes():
    # +-e1, +-e2: per-dimension population std sqrt(1/2), so std * sqrt(d) = 1;
    # singular values (sqrt 2, sqrt 2): RankMe = exp(log 2) = 2.
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    assert normalised_std(z) == pytest.approx(math.sqrt(0.5))
    assert rankme(z) == pytest.approx(2.0, rel=1e-5)
    report = collapse_report(z)
    assert report.std_ratio == pytest.approx(1.0) and not report.collapsed


@pytest.mark.parametrize("d", [2, 8, 33])
def test_rankme_of_an_identity_is_its_size_and_of_a_line_is_one(d):
    assert rankme(torch.eye(d)) == pytest.approx(d, rel=1e-4)
    line = torch.arange(1.0, 11.0)[:, None] * torch.randn(1, d, generator=torch.Generator().manual_seed(d))
    assert rankme(line) == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("n,d", [(16, 4), (64, 16), (256, 64)])
def test_constant_is_collapsed_random_is_not(n, d):
    constant = collapse_report(torch.full((n, d), 0.3))
    assert constant.collapsed and constant.std == pytest.approx(0.0, abs=1e-7)
    assert constant.rankme == pytest.approx(1.0, rel=1e-3)  # the eps terms add ~d * 1.6e-6
    random = collapse_report(torch.randn(n, d, generator=torch.Generator().manual_seed(n)))
    assert not random.collapsed and random.std_ratio == pytest.approx(1.0, abs=0.15)
    assert random.rankme > 0.5 * min(n, d)


def test_zero_vectors_and_bad_input():
    assert rankme(torch.zeros(5, 3)) == 0.0
    assert collapse_report(torch.zeros(5, 3)).collapsed
    with pytest.raises(ValueError, match="N >= 2"):
        collapse_report(torch.ones(1, 3))
    with pytest.raises(ValueError, match="NaN"):
        collapse_report(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))


def test_docstring_example():
    assert doctest.testmod(collapse).failed == 0
