"""ImageCNNEncoder: the Encoder protocol, shapes, inputs, versioning, save/load."""

import doctest

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_engine.encoders import image_cnn
from ssl_engine.encoders.base import Encoder
from ssl_engine.encoders.image_cnn import ImageCNNConfig, ImageCNNEncoder, images_to_tensor

torch.set_num_threads(1)

TINY = ImageCNNConfig(width=4, projection_dim=8)


def test_follows_the_encoder_protocol():
    encoder = ImageCNNEncoder(TINY)
    assert isinstance(encoder, Encoder)
    assert encoder.dim == 16 and encoder.version.startswith("image-cnn-")


@pytest.mark.parametrize("n,side", [(1, 32), (5, 32), (3, 20)])
def test_embed_shapes_dtype_and_unit_norm(n, side):
    encoder = ImageCNNEncoder(TINY)
    x = torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(n))
    z = encoder.embed(x, batch_size=2)
    assert z.shape == (n, 16) and z.dtype == np.float32 and z.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)


def test_embed_is_batch_independent_and_uses_the_backbone():
    encoder = ImageCNNEncoder(TINY)
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(encoder.embed(x, batch_size=6), encoder.embed(x, batch_size=4), atol=1e-6)
    with torch.no_grad():
        h = encoder.encode_tensors(x, train=False)  # (6, 16) backbone features
        assert encoder.project(h).shape == (6, 8)  # the SimCLR head, for the loss only
    np.testing.assert_allclose(encoder.embed(x), torch.nn.functional.normalize(h, dim=1).numpy(), atol=1e-6)


def test_inputs_in_every_usual_form(tmp_path):
    rng = np.random.default_rng(0)
    arrays = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    paths = []
    for i, a in enumerate(arrays):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(a).save(paths[-1])
    expected = torch.from_numpy(arrays).permute(0, 3, 1, 2).float() / 255
    torch.testing.assert_close(images_to_tensor(arrays, 32), expected)
    torch.testing.assert_close(images_to_tensor(torch.from_numpy(arrays).permute(0, 3, 1, 2), 32), expected)
    torch.testing.assert_close(images_to_tensor(paths, 32), expected)  # PNG is lossless
    torch.testing.assert_close(images_to_tensor([Image.fromarray(a) for a in arrays], 32), expected)
    assert images_to_tensor([Image.fromarray(arrays[0]).resize((50, 40))], 32).shape == (1, 3, 32, 32)
    encoder = ImageCNNEncoder(TINY)
    np.testing.assert_allclose(encoder.embed(paths), encoder.embed(arrays), atol=1e-6)
    assert encoder.embed([]).shape == (0, 16)
    with pytest.raises(ValueError, match="3, H, W"):
        images_to_tensor(torch.rand(2, 1, 8, 8), 32)


def test_same_seed_same_weights_and_version_follows_the_weights():
    a, b, c = ImageCNNEncoder(TINY, seed=0), ImageCNNEncoder(TINY, seed=0), ImageCNNEncoder(TINY, seed=1)
    assert a.version == b.version != c.version
    before = a.version
    with torch.no_grad():
        a.backbone.stem[0].weight[0, 0, 0, 0] += 1e-3
    assert a.version != before


def test_construction_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ImageCNNEncoder(TINY, seed=5)
    torch.testing.assert_close(torch.rand(3), expected)


def test_train_flag_switches_batchnorm_mode():
    encoder = ImageCNNEncoder(TINY)
    x = torch.rand(4, 3, 16, 16)
    encoder.encode_tensors(x, train=True)
    assert encoder.training
    encoder.encode_tensors(x, train=False)
    assert not encoder.training


def test_save_and_load_round_trip(tmp_path):
    encoder = ImageCNNEncoder(TINY, seed=3)
    encoder.encode_tensors(torch.rand(4, 3, 16, 16), train=True)  # move the BatchNorm running stats
    encoder.save(tmp_path / "enc")
    loaded = ImageCNNEncoder.load(tmp_path / "enc")
    assert loaded.version == encoder.version and loaded.config == encoder.config
    x = torch.rand(2, 3, 32, 32)
    np.testing.assert_array_equal(loaded.embed(x), encoder.embed(x))


def test_docstring_example():
    assert doctest.testmod(image_cnn).failed == 0
