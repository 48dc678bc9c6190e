"""Unsupervised SimCSE: the loss of two dropout views, known values, and a real small encoder."""

import math

import pytest
import torch

from ssl_engine.encoders.text_scratch import TextTransformerConfig, TextTransformerEncoder
from ssl_engine.ssl.simcse import simcse_loss

torch.set_num_threads(1)

TEXTS = ["my card was declined", "where is my refund", "card not working abroad", "how do i top up",
         "the atm kept my card", "refund still pending"]


class Scripted:
    """An `encode` that returns the given views in turn and records its calls."""

    def __init__(self, *views):
        self.views, self.calls = list(views), []

    def __call__(self, texts, train):
        self.calls.append((list(texts), train))
        return self.views[len(self.calls) - 1]


def test_encodes_the_same_batch_twice_in_training_mode():
    encode = Scripted(torch.eye(2), torch.eye(2))
    simcse_loss(encode, ["a", "b"], temperature=1.0)
    assert encode.calls == [(["a", "b"], True), (["a", "b"], True)]


def test_known_value_2x2():
    # Each first-view anchor has its positive at cosine 1 and one in-batch negative at cosine 0.
    e = torch.eye(2)
    assert simcse_loss(Scripted(e, e), ["a", "b"], 1.0).item() == pytest.approx(math.log(1 + 1 / math.e))
    assert simcse_loss(Scripted(e, e), ["a", "b"], 0.5).item() == pytest.approx(math.log(1 + math.exp(-2)))
    # Swapped second view: positives at cosine 0, the negative at 1: -log(1 / (1 + e)).
    assert simcse_loss(Scripted(e, e.flip(0)), ["a", "b"], 1.0).item() == pytest.approx(math.log(1 + math.e))


@pytest.mark.parametrize("b,d", [(2, 3), (4, 8), (7, 16)])
def test_equals_cross_entropy_over_the_cross_view_matrix(b, d):
    g = torch.Generator().manual_seed(b + d)
    z1, z2 = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g)
    sims = torch.nn.functional.normalize(z1, dim=1) @ torch.nn.functional.normalize(z2, dim=1).T / 0.05
    expected = -torch.log_softmax(sims, dim=1).diagonal().mean()
    loss = simcse_loss(Scripted(z1, z2), [str(i) for i in range(b)])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_needs_two_texts():
    with pytest.raises(ValueError, match="at least two"):
        simcse_loss(Scripted(torch.eye(1), torch.eye(1)), ["alone"])


def test_dropout_makes_two_views_with_the_scratch_encoder():
    config = TextTransformerConfig(dim=16, n_heads=2, n_layers=1, vocab_size=64, hash_buckets=8, min_frequency=1,
                                   dropout=0.1)
    encoder = TextTransformerEncoder.from_corpus(TEXTS, config, seed=0)
    torch.manual_seed(0)
    a, b = encoder.encode_tensors(TEXTS, train=True), encoder.encode_tensors(TEXTS, train=True)
    assert not torch.allclose(a, b)  # dropout differs between the two passes
    c, d = encoder.encode_tensors(TEXTS, train=False), encoder.encode_tensors(TEXTS, train=False)
    torch.testing.assert_close(c, d)
    loss = simcse_loss(encoder.encode_tensors, TEXTS)
    loss.backward()
    assert torch.isfinite(loss) and encoder.token_embedding.weight.grad is not None
