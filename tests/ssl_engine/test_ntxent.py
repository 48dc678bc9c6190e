"""NT-Xent (SimCLR) and its cross-view InfoNCE form (SimCSE): known values, reference, shapes."""

import doctest
import math

import pytest
import torch
import torch.nn.functional as F

from ssl_engine.ssl import ntxent
from ssl_engine.ssl.ntxent import nt_xent_loss

torch.set_num_threads(1)


def reference_nt_xent(z1, z2, t):
    """Eq. 1 of SimCLR with explicit loops, in float64."""
    z = F.normalize(torch.cat([z1, z2]).double(), dim=1)
    n, b = z.shape[0], z1.shape[0]
    total = 0.0
    for i in range(n):
        j = (i + b) % n
        denominator = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[j]) / t) / denominator)
    return total / n


def test_hand_computed_2x2_identical_views():
    # Anchors e1, e2, e1, e2: each has its positive at cosine 1 and two negatives at cosine 0,
    # so every term is -log(e^(1/t) / (e^(1/t) + 2)).
    e = torch.eye(2)
    assert nt_xent_loss(e, e, temperature=1.0).item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)
    assert nt_xent_loss(e, e, temperature=0.5).item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)


def test_hand_computed_2x2_swapped_views():
    # View 2 swaps the items: each positive is at cosine 0, one negative at cosine 1, one at 0:
    # -log(1 / (1 + 1 + e)) = log(2 + e).
    z1, z2 = torch.eye(2), torch.eye(2).flip(0)
    assert nt_xent_loss(z1, z2, temperature=1.0).item() == pytest.approx(math.log(2 + math.e), rel=1e-6)


def test_inputs_are_normalised_first():
    z1 = torch.tensor([[3.0, 0.0], [0.0, 0.5]])
    z2 = torch.tensor([[7.0, 0.0], [0.0, 2.0]])
    assert nt_xent_loss(z1, z2, 1.0).item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)


def test_cross_form_hand_computed():
    # SimCSE: anchor e1 against second-view candidates (e1, e2): -log(e / (e + 1)).
    e = torch.eye(2)
    assert nt_xent_loss(e, e, 1.0, negatives="cross").item() == pytest.approx(math.log(1 + 1 / math.e), rel=1e-6)


@pytest.mark.parametrize("b,d", [(1, 3), (2, 2), (5, 8), (16, 32)])
@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_matches_reference_over_shapes(b, d, t):
    g = torch.Generator().manual_seed(b * 100 + d)
    z1, z2 = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g)
    assert nt_xent_loss(z1, z2, t).item() == pytest.approx(reference_nt_xent(z1, z2, t), rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("b,d", [(2, 4), (8, 16)])
def test_gradients_are_finite_and_loss_is_symmetric(b, d):
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(b, d, generator=g, requires_grad=True)
    z2 = torch.randn(b, d, generator=g, requires_grad=True)
    loss = nt_xent_loss(z1, z2, 0.5)
    loss.backward()
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()
    assert nt_xent_loss(z2, z1, 0.5).item() == pytest.approx(loss.item(), rel=1e-6)


def test_aligned_views_score_lower_than_random_ones():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(32, 16, generator=g)
    aligned = nt_xent_loss(z, z + 0.01 * torch.randn(32, 16, generator=g))
    shuffled = nt_xent_loss(z, torch.randn(32, 16, generator=g))
    assert aligned < shuffled


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_loss(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_loss(torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(torch.eye(2), torch.eye(2), temperature=0.0)
    with pytest.raises(ValueError, match="negatives"):
        nt_xent_loss(torch.eye(2), torch.eye(2), negatives="some")


def test_docstring_example():
    assert doctest.testmod(ntxent).failed == 0
