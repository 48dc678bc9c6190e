"""The opt-in int8 sentence encoder (SentenceEncoder(quantize="int8")), loaded offline."""

import re

import numpy as np
import pytest
import torch

from ssl_engine.encoders.text_pretrained import PACKAGED_MODEL, SentenceEncoder
from tests.ssl_engine.test_text_encoder import SENTENCES

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/ssl_engine/conftest.py


@pytest.fixture(scope="module")
def encoders(one_torch_thread):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield SentenceEncoder(batch_size=2), SentenceEncoder(batch_size=2, quantize="int8")


def test_int8_embeddings_are_close_to_float_ones(encoders):
    fp32, int8 = encoders
    a, b = fp32.embed(SENTENCES), int8.embed(SENTENCES)
    assert b.shape == a.shape and b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, rtol=1e-5)
    cosine = (a * b).sum(axis=1)
    # Measured on 13,083 banking77 texts: mean 0.977, 1st percentile 0.957, min 0.912 (bench/results/throughput_banking77.json).
    assert cosine.min() > 0.94 and cosine.mean() > 0.96
    assert not np.allclose(a, b, atol=1e-4)  # the Linear layers really are quantised
    sim = b @ b.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[3, 4] > sim[3, 2] + 0.3  # still a sentence encoder


def test_int8_version_never_collides_with_the_float_one(encoders):
    fp32, int8 = encoders
    assert re.fullmatch(rf"{PACKAGED_MODEL}@[0-9a-f]{{12}}\+int8", int8.version)
    assert int8.version == f"{fp32.version}+int8"
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized.dynamic") for m in int8.module.modules())
    assert not any(type(m) is torch.nn.Linear for m in int8.module.modules())


def test_int8_is_for_inference_only(encoders, tmp_path):
    _, int8 = encoders
    with pytest.raises(ValueError, match="inference only"):
        int8.encode_tensors(SENTENCES[:1], train=True)
    with pytest.raises(ValueError, match="cannot be saved"):
        int8.save(tmp_path / "model")


def test_unknown_quantisation_and_gpu_int8_are_rejected():
    with pytest.raises(ValueError, match="quantize must be one of"):
        SentenceEncoder(quantize="int4")
    with pytest.raises(ValueError, match="CPU only"):
        SentenceEncoder(quantize="int8", device="cuda")
