"""BERT masking (15%, 80/10/10) and the MLM loss: proportions, exclusions, determinism, known values."""

import doctest
import math

import pytest
import torch

from ssl_engine.encoders.text_scratch import TextTransformerConfig, TextTransformerEncoder
from ssl_engine.ssl import mlm
from ssl_engine.ssl.mlm import IGNORE_INDEX, MaskedLanguageModel, mask_tokens, masked_lm_step, mlm_loss

torch.set_num_threads(1)

PAD, UNK, MASK = 0, 1, 2
SPECIAL = (PAD, UNK, MASK)


def batch(b, t, vocab=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (b, t), generator=g)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    attention = torch.arange(t)[None, :] < lengths[:, None]
    return ids.masked_fill(~attention, PAD), attention


def corrupt(ids, attention, seed=0, **kw):
    return mask_tokens(ids, attention, mask_token_id=MASK, vocab_size=50, special_token_ids=SPECIAL,
                       generator=torch.Generator().manual_seed(seed), **kw)


@pytest.mark.parametrize("b,t", [(1, 1), (3, 7), (8, 32)])
def test_shapes_labels_and_untouched_positions(b, t):
    ids, attention = batch(b, t)
    inputs, labels = corrupt(ids, attention)
    assert inputs.shape == labels.shape == (b, t) and inputs.dtype == labels.dtype == torch.long
    picked = labels != IGNORE_INDEX
    assert picked.any()  # at least one position, even for a single token
    torch.testing.assert_close(labels[picked], ids[picked])  # labels are the original tokens
    torch.testing.assert_close(inputs[~picked], ids[~picked])  # the rest is untouched
    assert not picked[~attention].any()  # padding is never picked


def test_rates_are_15_percent_then_80_10_10():
    ids, attention = torch.randint(3, 50, (200, 100), generator=torch.Generator().manual_seed(1)), None
    attention = torch.ones_like(ids, dtype=torch.bool)
    inputs, labels = corrupt(ids, attention, seed=2)
    picked = labels != IGNORE_INDEX
    n = picked.sum().item()
    assert n / ids.numel() == pytest.approx(0.15, abs=0.01)
    masked = (inputs[picked] == MASK).sum().item() / n
    kept = (inputs[picked] == ids[picked]).sum().item() / n  # includes random draws of the same id (1/47)
    assert masked == pytest.approx(0.8, abs=0.02)
    assert kept == pytest.approx(0.1 + 0.1 / 47, abs=0.02)
    assert not torch.isin(inputs[picked & (inputs != MASK)], torch.tensor([PAD, UNK])).any()


def test_special_tokens_are_never_picked():
    ids = torch.tensor([[UNK, 5, MASK, 6, UNK, 7]] * 50)
    inputs, labels = corrupt(ids, torch.ones_like(ids, dtype=torch.bool), mlm_probability=1.0)
    assert (labels[:, [0, 2, 4]] == IGNORE_INDEX).all()
    assert (labels[:, [1, 3, 5]] != IGNORE_INDEX).all()


def test_same_generator_state_same_corruption():
    ids, attention = batch(4, 16)
    a, b = corrupt(ids, attention, seed=3), corrupt(ids, attention, seed=3)
    c = corrupt(ids, attention, seed=4)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a[1], c[1])


def test_rejects_bad_arguments():
    ids, attention = batch(2, 4)
    with pytest.raises(ValueError, match="mlm_probability"):
        corrupt(ids, attention, mlm_probability=0.0)
    with pytest.raises(ValueError, match="must both be"):
        corrupt(ids, attention[:, :2])


def test_loss_known_values():
    # Uniform logits: cross-entropy log(V) whatever the labels.
    labels = torch.tensor([[4, IGNORE_INDEX, 2], [IGNORE_INDEX, 0, IGNORE_INDEX]])
    assert mlm_loss(torch.zeros(2, 3, 7), labels).item() == pytest.approx(math.log(7))
    # Two labelled positions, V = 2: logits (0, ln 3) for label 1 -> -log(3/4); (0, 0) for label 0 -> log 2.
    logits = torch.tensor([[[0.0, math.log(3)], [5.0, 5.0]]])
    labels = torch.tensor([[1, 0]])
    assert mlm_loss(logits, labels).item() == pytest.approx((-math.log(0.75) + math.log(2)) / 2)
    with pytest.raises(ValueError, match="no masked position"):
        mlm_loss(torch.zeros(1, 2, 3), torch.full((1, 2), IGNORE_INDEX))


def test_step_with_the_scratch_encoder_learns():
    # One sentence: a masked word is fixed by its position, so the loss can fall towards 0.
    texts = ["alpha beta gamma delta epsilon zeta eta theta"] * 8
    config = TextTransformerConfig(dim=16, n_heads=2, n_layers=1, vocab_size=40, hash_buckets=4, min_frequency=1,
                                   dropout=0.0)
    encoder = TextTransformerEncoder.from_corpus(texts, config)
    assert isinstance(encoder, MaskedLanguageModel)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-2)
    losses = []
    for step in range(25):
        loss = masked_lm_step(encoder, texts, torch.Generator().manual_seed(step), mlm_probability=0.3)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(encoder.vocab_size), rel=0.1)  # starts near uniform
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]


def test_docstring_example():
    assert doctest.testmod(mlm).failed == 0
