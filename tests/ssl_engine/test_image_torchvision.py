"""TorchvisionEncoder: a local torchvision backbone behind the Encoder protocol.

The first tests need no torchvision (errors on bad weights files, a missing or
broken torchvision, the spec spelling). The rest build real torchvision models
and skip where torchvision does not import: in the project venv, whose torch
2.13.0 CPU build has no matching torchvision on this machine. They pass in a
venv with torch 2.14.1 and torchvision 0.29.1::

    PYTHONPATH=. /tmp/tvvenv/bin/python -m pytest tests/ssl_engine/test_image_torchvision.py -q \
        --confcutdir=tests/ssl_engine

(``--confcutdir`` keeps pytest from loading ``tests/conftest.py``, which needs Django.)
"""

from __future__ import annotations

import importlib.abc
import shutil
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from ssl_engine.encoders.base import Encoder
from ssl_engine.encoders.image_torchvision import (
    ImagePreprocessing,
    TorchvisionEncoder,
    TorchvisionUnavailableError,
    import_torchvision,
    parse_spec,
    read_weights,
    remove_classifier,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

try:
    tv = import_torchvision()
except TorchvisionUnavailableError:
    tv = None
needs_torchvision = pytest.mark.skipif(
    tv is None, reason=f"torchvision is not importable beside torch {torch.__version__} (the project pins 2.13.0, "
    "which no torchvision on this machine matches); run in a venv with torch 2.14.1 + torchvision 0.29.1")


def tiny_weights(path):
    save_file({"w": torch.zeros(2)}, str(path))
    return path


# -- without torchvision ----------------------------------------------------------------------------
def test_missing_weights_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "resnet18.safetensors"
    with pytest.raises(FileNotFoundError, match=f"weights file {missing} does not exist"):
        TorchvisionEncoder("resnet18", missing)
    with pytest.raises(FileNotFoundError, match="is not a file"):
        TorchvisionEncoder("resnet18", tmp_path)


def test_refuses_files_that_are_not_weights(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not weights")
    with pytest.raises(ValueError, match=r"notes\.txt is not a weights file: expected a \.safetensors, \.pth, \.pt"):
        TorchvisionEncoder("resnet18", notes)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 3)
    with pytest.raises(ValueError, match="cannot read weights from .*garbage.safetensors"):
        read_weights(garbage)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match="truncated.pth"):
        read_weights(truncated)


def test_pth_is_never_unpickled_beyond_tensors(tmp_path):
    pickled = tmp_path / "object.pth"
    torch.save({"w": torch.zeros(2), "scheduler": Image.new("RGB", (1, 1))}, pickled)  # an arbitrary object
    with pytest.raises(ValueError, match="refused .*object.pth: it holds more than tensors"):
        read_weights(pickled)
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"step": 3, "model": {"w": torch.zeros(2)}}, checkpoint)
    with pytest.raises(ValueError, match=r"not a plain state dict: entries \['step', 'model'\]"):
        read_weights(checkpoint)
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        read_weights(tmp_path / "list.pt")


def test_read_weights_digest_is_the_files_sha256(tmp_path):
    import hashlib

    path = tiny_weights(tmp_path / "w.safetensors")
    state, digest = read_weights(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    torch.testing.assert_close(state["w"], torch.zeros(2))
    torch.save({"w": torch.ones(2)}, tmp_path / "w.pth")
    torch.testing.assert_close(read_weights(tmp_path / "w.pth")[0]["w"], torch.ones(2))


def test_missing_torchvision_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # `import torchvision` now raises ImportError
    with pytest.raises(TorchvisionUnavailableError,
                       match=r"torchvision is not importable here \(.*\): install a torchvision matching your torch"):
        TorchvisionEncoder("resnet18", tiny_weights(tmp_path / "w.safetensors"))


class _BrokenTorchvision(importlib.abc.MetaPathFinder):
    """Imports of torchvision fail as they do beside a torch it was not built for."""

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            raise RuntimeError("operator torchvision::nms does not exist")
        return None


def test_torchvision_built_for_another_torch_is_a_clear_error(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_BrokenTorchvision(), *sys.meta_path])
    with pytest.raises(TorchvisionUnavailableError, match=r"\(RuntimeError: operator torchvision::nms does not exist\)"):
        TorchvisionEncoder("resnet18", tiny_weights(tmp_path / "w.safetensors"))
    assert issubclass(TorchvisionUnavailableError, ImportError)


def test_parse_spec():
    assert parse_spec("torchvision:resnet18:/w/r18.safetensors") == ("resnet18", "/w/r18.safetensors")
    assert parse_spec("torchvision:vit_b_16:C:/w/vit.pth") == ("vit_b_16", "C:/w/vit.pth")  # colons in the path
    for bad in ("resnet18:/w.pth", "torchvision:resnet18", "torchvision::/w.pth", "torchvision:resnet18:"):
        with pytest.raises(ValueError, match="expected torchvision:<arch>:<weights file>"):
            parse_spec(bad)


def test_preprocessing_is_validated():
    assert ImagePreprocessing().mean == (0.485, 0.456, 0.406)
    for bad in ({"crop_size": 256, "resize_size": 224}, {"crop_size": 0}, {"interpolation": "lanczos"},
                {"std": (0.2, 0.0, 0.2)}, {"mean": (0.5, 0.5)}):
        with pytest.raises(ValueError):
            ImagePreprocessing(**bad)
    assert ImagePreprocessing().digest() != ImagePreprocessing(crop_size=160).digest()


# -- with torchvision -------------------------------------------------------------------------------
def random_resnet18_state(seed: int) -> dict[str, torch.Tensor]:
    """A resnet18 state dict with random weights and random BatchNorm statistics."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = tv.models.get_model("resnet18", weights=None)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """resnet18 weights: ``a`` as .safetensors and .pth, ``b`` other weights; and ``a``'s state dict."""
    if tv is None:
        pytest.skip("needs torchvision")
    directory = tmp_path_factory.mktemp("weights")
    state_a, state_b = random_resnet18_state(0), random_resnet18_state(1)
    save_file(state_a, str(directory / "a.safetensors"))
    torch.save(state_a, directory / "a.pth")
    save_file(state_b, str(directory / "b.safetensors"))
    return {"a": directory / "a.safetensors", "a_pth": directory / "a.pth", "b": directory / "b.safetensors",
            "state_a": state_a, "dir": directory}


def images(n: int = 3) -> list[Image.Image]:
    """Small RGB images of different sizes and aspect ratios."""
    rng = np.random.default_rng(0)
    sizes = [(40, 30), (64, 64), (50, 70), (33, 45)]
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes[:n]]


@needs_torchvision
def test_embed_follows_the_encoder_protocol(weights):
    encoder = TorchvisionEncoder("resnet18", weights["a"], batch_size=2)
    assert isinstance(encoder, Encoder)
    assert (encoder.dim, encoder.head_name) == (512, "fc")
    x = encoder.embed(images(3))
    assert x.shape == (3, 512) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encoder.embed(images(3)), x)  # deterministic
    assert not np.allclose(x[0], x[1])
    assert encoder.embed([]).shape == (0, 512)
    assert not any(p.requires_grad for p in encoder.model.parameters())


@needs_torchvision
def test_equals_torchvisions_own_model_without_its_head(weights):
    """Loaded weights, torchvision's standard eval transform, fc removed: the same vectors."""
    encoder = TorchvisionEncoder("resnet18", weights["a"])
    pil = images(3)
    # torchvision's own preset for resnet18 (resize 256, crop 224, ImageNet mean/std), on the same pixels.
    preset = tv.models.get_model_weights("resnet18").DEFAULT.transforms()
    tensors = [torch.tensor(np.asarray(img)).permute(2, 0, 1) for img in pil]
    reference_input = torch.stack([preset(t) for t in tensors])  # (3, 3, 224, 224)
    torch.testing.assert_close(encoder.preprocess(pil), reference_input, rtol=0, atol=0)

    model = tv.models.resnet18()
    model.load_state_dict(weights["state_a"])
    model.fc = nn.Identity()
    with torch.inference_mode():
        reference = F.normalize(model.eval()(reference_input), dim=1).numpy()
    np.testing.assert_allclose(encoder.embed(pil), reference, atol=2e-6)


@needs_torchvision
def test_inputs_in_every_form_give_the_same_embeddings(weights, tmp_path):
    encoder = TorchvisionEncoder("resnet18", weights["a"], preprocessing=ImagePreprocessing(64, 72))
    rng = np.random.default_rng(1)
    arrays = rng.integers(0, 256, (3, 48, 40, 3), dtype=np.uint8)  # (N, H, W, 3)
    paths = []
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / f"{i}.png")  # lossless
        paths.append(tmp_path / f"{i}.png")
    expected = encoder.embed(arrays)
    assert expected.shape == (3, 512)
    as_tensor = torch.from_numpy(arrays).permute(0, 3, 1, 2)  # (N, 3, H, W) uint8
    for batch in (list(arrays), paths, [str(p) for p in paths], [Image.fromarray(a) for a in arrays], as_tensor,
                  list(as_tensor)):
        np.testing.assert_allclose(encoder.embed(batch), expected, atol=1e-5)
    # Floats are resized as floats, uint8 is resized and rounded to uint8 (as torchvision does): close, not equal.
    np.testing.assert_allclose(encoder.embed(as_tensor.float() / 255), expected, atol=2e-3)
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) image"):
        encoder.embed([np.zeros((8, 8), dtype=np.uint8)])
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        encoder.embed(np.zeros((8, 8, 3), dtype=np.uint8))


@needs_torchvision
def test_pth_loads_the_same_weights_as_safetensors(weights):
    from_safetensors = TorchvisionEncoder("resnet18", weights["a"]).embed(images(2))
    from_pth = TorchvisionEncoder("resnet18", weights["a_pth"]).embed(images(2))
    np.testing.assert_array_equal(from_pth, from_safetensors)


@needs_torchvision
def test_version_follows_the_weights_file_and_preprocessing(weights, tmp_path):
    a = TorchvisionEncoder("resnet18", weights["a"])
    assert a.version.startswith(f"torchvision-resnet18@{a.weights_sha256[:12]}+pre")
    copy = shutil.copy(weights["a"], tmp_path / "elsewhere.safetensors")
    assert TorchvisionEncoder("resnet18", copy).version == a.version  # the content names it, not the path
    b = TorchvisionEncoder("resnet18", weights["b"])
    assert b.version != a.version
    assert not np.allclose(b.embed(images(1)), a.embed(images(1)))
    smaller = TorchvisionEncoder("resnet18", weights["a"], preprocessing=ImagePreprocessing(64, 72))
    assert smaller.version != a.version
    # The same tensors in another container are other bytes: another version (a cache miss, never a wrong hit).
    assert TorchvisionEncoder("resnet18", weights["a_pth"]).version != a.version


@needs_torchvision
def test_head_weights_are_ignored_and_other_architectures_refused(weights):
    directory = weights["dir"]
    state = dict(weights["state_a"])
    ten_classes = {**state, "fc.weight": torch.zeros(10, 512), "fc.bias": torch.zeros(10)}  # fine-tuned head
    save_file(ten_classes, str(directory / "ten.safetensors"))
    save_file({k: v for k, v in state.items() if not k.startswith("fc.")}, str(directory / "headless.safetensors"))
    expected = TorchvisionEncoder("resnet18", weights["a"]).embed(images(2))
    for name in ("ten", "headless"):
        encoder = TorchvisionEncoder("resnet18", directory / f"{name}.safetensors")
        np.testing.assert_array_equal(encoder.embed(images(2)), expected)

    save_file({k: v for k, v in state.items() if k != "layer1.0.conv1.weight"}, str(directory / "hole.safetensors"))
    with pytest.raises(ValueError, match=r"does not hold resnet18 weights: 1 of the model's tensors are missing"):
        TorchvisionEncoder("resnet18", directory / "hole.safetensors")
    with pytest.raises(ValueError, match="does not hold resnet34 weights"):
        TorchvisionEncoder("resnet34", weights["a"])
    with pytest.raises(ValueError, match="'fasterrcnn_resnet50_fpn' is not a torchvision classification model"):
        TorchvisionEncoder("fasterrcnn_resnet50_fpn", weights["a"])


@needs_torchvision
def test_from_spec_and_the_embedding_cache(weights, tmp_path):
    from ssl_engine.encoders.cache import EmbeddingCache, embed_with_cache

    encoder = TorchvisionEncoder.from_spec(f"torchvision:resnet18:{weights['a']}",
                                           preprocessing=ImagePreprocessing(64, 72))
    assert encoder.arch == "resnet18" and encoder.dim == 512
    cache = EmbeddingCache(tmp_path / "cache")
    items, hashes = images(3), ["h0", "h1", "h2"]
    first = embed_with_cache(encoder, items, hashes, cache)
    assert cache.count(encoder.version) == 3
    encoder.embed = None  # a second pass must not call the encoder
    np.testing.assert_array_equal(embed_with_cache(encoder, items, hashes, cache), first)


# (arch, the family's own classifier, embedding width, input side); vit_b_16 needs its 224.
FAMILIES = [
    ("resnet18", lambda m: m.fc, "fc", 512, 64),
    ("resnet50", lambda m: m.fc, "fc", 2048, 64),
    ("efficientnet_b0", lambda m: m.classifier[1], "classifier.1", 1280, 64),
    ("convnext_tiny", lambda m: m.classifier[2], "classifier.2", 768, 64),
    ("mobilenet_v3_small", lambda m: m.classifier[3], "classifier.3", 1024, 64),
    ("vit_b_16", lambda m: m.heads, "heads.head", 768, 224),
]


@needs_torchvision
@pytest.mark.parametrize("arch, classifier, head_name, dim, side", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_remove_classifier_leaves_what_the_familys_classifier_reads(arch, classifier, head_name, dim, side):
    torch.manual_seed(0)
    model = tv.models.get_model(arch, weights=None).eval()
    seen = {}
    hook = classifier(model).register_forward_hook(lambda module, inputs, output: seen.update(features=inputs[0]))
    x = torch.rand(2, 3, side, side)
    with torch.inference_mode():
        model(x)
        hook.remove()
        assert remove_classifier(model) == (head_name, dim)
        out = model(x)  # (2, dim)
    assert out.shape == (2, dim)
    torch.testing.assert_close(out, seen["features"])


@needs_torchvision
def test_remove_classifier_refuses_a_model_without_a_linear_head():
    model = tv.models.get_model("squeezenet1_1", weights=None)  # ends in a 1x1 convolution
    with pytest.raises(ValueError, match="no nn.Linear classifier"):
        remove_classifier(model)
