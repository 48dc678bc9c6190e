"""The CIFAR linear-probe measurement runs end to end (on a dozen tiny JPEGs, not CIFAR)."""

import json

import numpy as np
import torch
from PIL import Image

from ssl_engine.bench import cifar_probe

torch.set_num_threads(1)


def write_split(root, n_per_class, seed):
    rng = np.random.default_rng(seed)
    for label, colour in (("red", 0), ("blue", 2)):
        (root / label).mkdir(parents=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, 80, size=(8, 8, 3), dtype=np.uint8)
            pixels[..., colour] = 200
            Image.fromarray(pixels).save(root / label / f"{i:04d}.jpg")


def test_runs_and_reports_both_encoders(tmp_path):
    write_split(tmp_path / "data" / "train", 6, seed=0)
    write_split(tmp_path / "data" / "test", 3, seed=1)
    out = tmp_path / "summary.json"
    summary = cifar_probe.main(["--data", str(tmp_path / "data"), "--minutes", "0.005", "--width", "2",
                                "--batch-size", "4", "--threads", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == summary
    assert summary["pretrain"]["steps"] >= 1
    for name in ("random_init", "simclr"):
        assert 0.0 <= summary[name]["linear_probe_test_acc"] <= 1.0
