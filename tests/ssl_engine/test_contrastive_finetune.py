"""Contrastive fine-tuning on a tiny real torch text encoder (hashed bag of words + dropout)."""

import hashlib
import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from torch import nn

from ssl_engine.encoders.base import Encoder
from ssl_engine.finetune.contrastive import (
    ContrastiveClassifier,
    ContrastiveConfig,
    ContrastiveFineTuner,
    NonFiniteLossError,
    class_balanced_batches,
)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny matrices: thread start-up costs more than it saves on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TinyTextEncoder(nn.Module):
    """Mean of hashed word embeddings, dropout, a linear layer: the Encoder protocol plus
    ``encode_tensors(texts, train)``, like ``SentenceEncoder`` but a thousand times smaller."""

    def __init__(self, buckets: int = 64, dim: int = 8, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.buckets, self.dim = buckets, dim
        self.embedding = nn.EmbeddingBag(buckets, dim, mode="mean")
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(dim, dim)

    @property
    def version(self) -> str:
        digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in self.parameters()))
        return f"tiny-{digest.hexdigest()[:12]}"

    def _ids(self, texts):
        ids, offsets = [], []
        for text in texts:
            offsets.append(len(ids))
            ids += [int(hashlib.md5(w.encode()).hexdigest(), 16) % self.buckets for w in text.split()] or [0]
        return torch.tensor(ids), torch.tensor(offsets)

    def encode_tensors(self, texts, train: bool) -> torch.Tensor:
        self.train(train)
        return self.linear(self.dropout(self.embedding(*self._ids(list(texts)))))  # (N, dim)

    def embed(self, batch) -> np.ndarray:
        with torch.inference_mode():
            z = nn.functional.normalize(self.encode_tensors(list(batch), train=False), dim=1)
        return z.numpy().astype(np.float32)


def toy_data(n_per_class: int = 6, seed: int = 0):
    """Three classes whose texts share class words, mixed with shared noise words."""
    rng = np.random.default_rng(seed)
    vocab = {"card": ["card", "declined", "pin"], "refund": ["refund", "money", "back"],
             "travel": ["abroad", "travel", "currency"]}
    noise = ["please", "help", "my", "the", "now", "why"]
    texts, labels = [], []
    for label, words in vocab.items():
        for _ in range(n_per_class):
            texts.append(" ".join(rng.choice(words, 2).tolist() + rng.choice(noise, 3).tolist()))
            labels.append(label)
    return texts, np.array(labels)


def test_tiny_encoder_follows_the_protocol():
    encoder = TinyTextEncoder()
    assert isinstance(encoder, Encoder)
    x = encoder.embed(["a b", "c"])
    assert x.shape == (2, 8) and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("per_class, batch_size", [(1, 4), (2, 4), (4, 8), (3, 64)])
def test_class_balanced_batches_cover_every_item_once(per_class, batch_size):
    y = np.repeat(np.arange(5), [1, 2, 3, 7, 4])
    batches = class_balanced_batches(y, batch_size, per_class, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(y)))
    assert all(len(b) < batch_size + per_class for b in batches)
    if per_class > 1 and batch_size >= 8:  # classes with >= 2 items come with a positive
        for b in batches:
            counts = np.bincount(y[b])
            assert (counts[counts > 0] >= min(2, per_class)).any()


def test_fit_changes_a_copy_and_its_version_and_pulls_classes_together():
    texts, y = toy_data()
    encoder = TinyTextEncoder()
    before_version, before = encoder.version, encoder.embed(texts)
    config = ContrastiveConfig(epochs=10, batch_size=9, per_class=3, views=2, lr=1e-1, temperature=0.2, seed=0)
    tuner = ContrastiveFineTuner(encoder, config).fit(texts, y)
    assert encoder.version == before_version  # the original is untouched
    assert tuner.encoder_.version != before_version
    assert tuner.stopped_reason_ == "completed" and tuner.n_steps_ == tuner.total_steps_ > 0
    losses = [h["loss"] for h in tuner.history_]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-4:]) < np.mean(losses[:4])

    def separation(x):  # mean within-class minus between-class cosine similarity
        s = x @ x.T
        same = y[:, None] == y[None, :]
        return s[same & ~np.eye(len(y), dtype=bool)].mean() - s[~same].mean()

    assert separation(tuner.encoder_.embed(texts)) > separation(before) + 0.1
    summary = tuner.summary()
    assert summary["encoder_version"] == tuner.encoder_.version and summary["steps"] == tuner.n_steps_


def test_one_label_per_class_trains_through_the_dropout_views():
    texts, y = toy_data(n_per_class=1)
    tuner = ContrastiveFineTuner(TinyTextEncoder(), ContrastiveConfig(epochs=3, batch_size=3, views=2)).fit(texts, y)
    assert tuner.n_steps_ == 3 and all(h["loss"] > 0 for h in tuner.history_)


def test_same_seed_same_weights():
    texts, y = toy_data()
    config = ContrastiveConfig(epochs=2, batch_size=6, per_class=2, lr=1e-2, seed=3)
    a = ContrastiveFineTuner(TinyTextEncoder(), config).fit(texts, y).encoder_
    b = ContrastiveFineTuner(TinyTextEncoder(), config).fit(texts, y).encoder_
    assert a.version == b.version


def test_budget_stops_at_a_step_boundary():
    texts, y = toy_data()
    ticks = iter(range(1000))
    tuner = ContrastiveFineTuner(TinyTextEncoder(), ContrastiveConfig(epochs=50, batch_size=6, max_minutes=3 / 60))
    tuner.fit(texts, y, clock=lambda: float(next(ticks)))
    assert tuner.stopped_reason_ == "budget" and 0 < tuner.n_steps_ < tuner.total_steps_


def test_non_finite_loss_aborts_before_the_step():
    texts, y = toy_data()
    encoder = TinyTextEncoder()
    with torch.no_grad():
        encoder.linear.weight[0, 0] = float("nan")
    tuner = ContrastiveFineTuner(encoder, ContrastiveConfig(epochs=1, batch_size=6), copy=False)
    weights = {k: v.clone() for k, v in encoder.state_dict().items()}
    with pytest.raises(NonFiniteLossError):
        tuner.fit(texts, y)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value.isnan(), weights[key].isnan())
        assert torch.equal(value.nan_to_num(), weights[key].nan_to_num())


def test_classifier_fits_a_calibrated_head_on_the_new_embeddings():
    texts, y = toy_data(n_per_class=8)
    clf = ContrastiveClassifier(TinyTextEncoder(), ContrastiveConfig(epochs=8, batch_size=12, per_class=4, lr=1e-1))
    clf.fit(texts, y)
    probs = clf.predict_proba(texts)
    assert probs.shape == (len(texts), 3) and np.allclose(probs.sum(axis=1), 1)
    assert (clf.predict(texts) == y).mean() >= 0.9
    assert clf.head_.n_features_in_ == 8 and clf.encoder_ is clf.tuner_.encoder_


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"lr": float("nan")}, {"temperature": 0}, {"views": 0},
                                 {"warmup_fraction": 1.0}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        ContrastiveConfig(**bad)


def test_fit_needs_two_classes():
    with pytest.raises(ValueError):
        ContrastiveFineTuner(TinyTextEncoder()).fit(["a", "b"], ["x", "x"])


def test_text_estimators_keep_the_parts_of_the_scikit_learn_contract_that_apply():
    # scikit-learn's checks feed numeric arrays (see test_estimator_contract.py); these take texts.
    texts, y = toy_data(n_per_class=4)
    encoder, config = TinyTextEncoder(), ContrastiveConfig(epochs=1, batch_size=6)
    version = encoder.version
    clf = ContrastiveClassifier(encoder, config)
    assert vars(clf) == {"encoder": encoder, "config": config, "head": None}  # __init__ stores parameters only
    assert clone(clf).get_params()["config"] == config
    for call in (clf.predict, clf.predict_proba, clf.embed):
        with pytest.raises(NotFittedError):
            call(texts)
    with pytest.raises(NotFittedError):
        ContrastiveFineTuner(encoder, config).summary()
    assert clf.fit(texts, y) is clf
    assert clf.get_params()["encoder"] is encoder and clf.get_params()["config"] is config
    assert encoder.version == version  # fit tuned a copy
    tuner = ContrastiveFineTuner(encoder, config)
    assert tuner.fit(texts, y) is tuner and tuner.summary()["steps"] == tuner.n_steps_
