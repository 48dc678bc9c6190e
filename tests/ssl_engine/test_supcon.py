"""SupCon loss: a hand-computed value, a naive reference over several shapes, and edge cases."""

import math

import pytest
import torch

from ssl_engine.finetune.supcon import supcon_loss
from ssl_engine.ssl.ntxent import nt_xent_loss


def naive_supcon(z: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Equation 2 of Khosla et al., one anchor and one positive at a time."""
    z = torch.nn.functional.normalize(z.double(), dim=1)
    terms = []
    for i in range(len(z)):
        others = [a for a in range(len(z)) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:
            continue
        denominator = torch.logsumexp(torch.stack([z[i] @ z[a] / temperature for a in others]), dim=0)
        terms.append(-sum(z[i] @ z[p] / temperature - denominator for p in positives) / len(positives))
    return torch.stack(terms).mean()


def test_hand_computed_value():
    # Two tight pairs at right angles, tau = 1: each anchor sees its twin at
    # similarity 1 and two others at 0, so L = -(1 - log(e + 2)).
    z = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    loss = supcon_loss(z, torch.tensor([0, 0, 1, 1]), temperature=1.0)
    assert loss.item() == pytest.approx(math.log(math.e + 2) - 1, abs=1e-6)


@pytest.mark.parametrize("n, d, n_classes", [(4, 3, 2), (9, 8, 3), (16, 5, 7), (32, 16, 4)])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_matches_naive_reference(n, d, n_classes, temperature):
    generator = torch.Generator().manual_seed(n * d)
    z = torch.randn(n, d, generator=generator)
    labels = torch.randint(0, n_classes, (n,), generator=generator)
    labels[1] = labels[0]  # at least one positive pair
    expected = naive_supcon(z, labels, temperature)
    assert supcon_loss(z, labels, temperature).item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-5)


def test_two_views_with_item_labels_is_nt_xent():
    generator = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 4, generator=generator), torch.randn(6, 4, generator=generator)
    ids = torch.arange(6)
    supcon = supcon_loss(torch.cat([z1, z2]), torch.cat([ids, ids]), temperature=0.5)
    assert supcon.item() == pytest.approx(nt_xent_loss(z1, z2, temperature=0.5).item(), rel=1e-5)


def test_anchors_without_positive_are_ignored_and_no_pairs_gives_zero():
    z = torch.randn(5, 3, requires_grad=True)
    with_singletons = supcon_loss(z, torch.tensor([0, 0, 1, 2, 3]), temperature=0.2)
    assert torch.isfinite(with_singletons)
    zero = supcon_loss(z, torch.tensor([0, 1, 2, 3, 4]), temperature=0.2)
    assert zero.item() == 0.0
    zero.backward()
    assert torch.count_nonzero(z.grad) == 0


def test_gradient_is_finite_and_loss_scale_invariant():
    z = torch.randn(8, 4, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = supcon_loss(z, labels)
    loss.backward()
    assert torch.isfinite(z.grad).all()
    assert supcon_loss(10 * z.detach(), labels).item() == pytest.approx(loss.item(), rel=1e-5)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        supcon_loss(torch.randn(4), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError):
        supcon_loss(torch.randn(4, 2), torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError):
        supcon_loss(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), temperature=0.0)
