"""The packaged MiniLM sentence encoder, loaded offline (HF_HUB_OFFLINE=1)."""

import hashlib
import re

import numpy as np
import pytest
import torch

from ssl_engine.encoders.base import Encoder
from ssl_engine.encoders.text_pretrained import (
    PACKAGED_MODEL,
    ModelNotAvailableError,
    SentenceEncoder,
    packaged_model_dir,
)

# sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2 as
# published on the Hugging Face hub: the package ships the official weights.
OFFICIAL_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

SENTENCES = [
    "How do I top up my card?",
    "What is the way to add money to my card?",
    "The weather in Paris is sunny today.",
    "My card payment was declined at the shop.",
    "Why was my card refused when I paid?",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/ssl_engine/conftest.py


@pytest.fixture(scope="module")
def encoder(one_torch_thread):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield SentenceEncoder(batch_size=2)


@pytest.fixture(scope="module")
def embeddings(encoder):
    return encoder.embed(SENTENCES)


def test_packaged_weights_are_the_official_ones():
    digest = hashlib.sha256((packaged_model_dir() / "model.safetensors").read_bytes()).hexdigest()
    assert digest == OFFICIAL_WEIGHTS_SHA256


def test_follows_the_encoder_protocol(encoder, embeddings):
    assert isinstance(encoder, Encoder)
    assert encoder.dim == 384
    assert embeddings.shape == (len(SENTENCES), 384) and embeddings.dtype == np.float32
    assert embeddings.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)


def test_paraphrases_are_closer_than_unrelated_sentences(embeddings):
    sim = embeddings @ embeddings.T
    assert sim[0, 1] > sim[0, 2] + 0.3  # top up ~ add money, far from the weather
    assert sim[3, 4] > sim[3, 2] + 0.3  # declined ~ refused
    assert sim[0, 1] > sim[0, 3] and sim[3, 4] > sim[3, 0]


def test_deterministic_and_independent_of_batching(encoder, embeddings):
    np.testing.assert_array_equal(encoder.embed(SENTENCES), embeddings)
    one_by_one = np.vstack([encoder.embed([s]) for s in SENTENCES])
    np.testing.assert_allclose(one_by_one, embeddings, atol=1e-5)


def test_version_names_the_model_and_its_weights(encoder):
    assert re.fullmatch(rf"{PACKAGED_MODEL}@[0-9a-f]{{12}}", encoder.version)
    assert encoder.version == encoder.version
    encoder.embed(SENTENCES[:1])  # inference does not touch the weights
    assert encoder.version == SentenceEncoder().version


def test_version_changes_when_weights_change():
    encoder = SentenceEncoder()
    before = encoder.version
    with torch.no_grad():
        next(encoder.module.parameters())[0, 0] += 1.0  # what an optimiser step does, in place
    assert encoder.version != before


def test_encode_tensors_for_training(encoder, embeddings):
    first = encoder.encode_tensors(SENTENCES[:2], train=True)
    second = encoder.encode_tensors(SENTENCES[:2], train=True)
    assert first.shape == (2, 384) and first.requires_grad
    assert not torch.allclose(first, second)  # dropout: two views of the same texts
    first.sum().backward()
    assert next(encoder.transformer.parameters()).grad is not None
    encoder.module.zero_grad(set_to_none=True)

    frozen = encoder.encode_tensors(SENTENCES[:2], train=False)
    assert not encoder.module.training
    pooled = torch.nn.functional.normalize(frozen.detach(), dim=1).numpy()
    np.testing.assert_allclose(pooled, embeddings[:2], atol=1e-5)
    assert frozen.norm(dim=1).min() > 1.5  # pooled, not yet normalised
    assert encoder.tokenizer("card")["input_ids"][0] == encoder.tokenizer.cls_token_id


def test_save_and_load_a_local_directory(encoder, embeddings, tmp_path):
    path = encoder.save(tmp_path / "round-1")
    reloaded = SentenceEncoder(str(path))
    assert reloaded.version.startswith("round-1@")
    assert reloaded.version.split("@")[1] == encoder.version.split("@")[1]
    np.testing.assert_allclose(reloaded.embed(SENTENCES), embeddings, atol=1e-6)


def test_unknown_model_fails_at_once_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="HF_HUB_OFFLINE"):
        SentenceEncoder("no-such-org/no-such-model")


def test_rejects_what_is_not_a_list_of_texts(encoder):
    assert encoder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match="sequence of texts"):
        encoder.embed("a single string")
    with pytest.raises(TypeError, match="must be str"):
        encoder.embed(["ok", None])
