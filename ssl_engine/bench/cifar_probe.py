"""Measurement: SimCLR pretraining of the small CNN on CIFAR-10-mini, then a linear probe.

Not a test. Pretrains ``ImageCNNEncoder`` from scratch with SimCLR on the
train split within a wall-clock budget, then fits a logistic regression on
frozen, L2-normalised backbone embeddings of the train split and scores it on
the test split, for the pretrained encoder and for the same encoder at its
random initialisation (same seed). A k-NN (k=20, cosine) accuracy is reported
beside it.

The budget covers pretraining only. So that the cosine schedule anneals
within it, the number of steps is estimated from the median time of three
calibration steps (on a throwaway copy of the encoder, plus 10%);
``max_minutes`` still stops the run at a step boundary if the machine gets
slower, and a machine that gets faster finishes early.

Data layout: ``<data>/{train,test}/<class>/*.jpg`` (32x32 RGB), read with Pillow.

Usage::

    python -m ssl_engine.bench.cifar_probe --data ../shared/data/cifar10-mini --minutes 10
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ssl_engine.encoders.image_cnn import ImageCNNConfig, ImageCNNEncoder
from ssl_engine.ssl.trainer import PretrainConfig, pretrain


def load_split(root: Path) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """(N, 3, 32, 32) uint8 images, (N,) int labels and the class names (sorted folder names)."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).glob("*.jpg")):
            with Image.open(path) as img:
                images.append(np.asarray(img.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)))
            labels.append(label)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return x, np.asarray(labels), classes


def probe(encoder: ImageCNNEncoder, train: tuple[torch.Tensor, np.ndarray], test: tuple[torch.Tensor, np.ndarray],
          seed: int) -> dict[str, float]:
    """Linear-probe and k-NN accuracies of frozen embeddings."""
    t0 = time.monotonic()
    z_train, z_test = encoder.embed(train[0]), encoder.embed(test[0])
    embed_seconds = time.monotonic() - t0
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    clf.fit(z_train, train[1])
    knn = KNeighborsClassifier(n_neighbors=min(20, len(z_train)), metric="cosine").fit(z_train, train[1])
    return {"linear_probe_test_acc": float(clf.score(z_test, test[1])),
            "linear_probe_train_acc": float(clf.score(z_train, train[1])),
            "knn20_test_acc": float(knn.score(z_test, test[1])),
            "embed_seconds": round(embed_seconds, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with train/ and test/")
    parser.add_argument("--minutes", type=float, default=10.0, help="pretraining budget")
    parser.add_argument("--width", type=int, default=32, help="CNN width (embedding dim = 4 * width)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", default=None, help="resumable checkpoints (default: none)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON summary here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    t0 = time.monotonic()
    x_train, y_train, classes = load_split(args.data / "train")
    x_test, y_test, _ = load_split(args.data / "test")
    print(f"loaded {len(x_train)} train / {len(x_test)} test images, {len(classes)} classes "
          f"in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)

    config = ImageCNNConfig(width=args.width)
    random_init = ImageCNNEncoder(config, seed=args.seed)
    encoder = copy.deepcopy(random_init)

    # Calibrate: time four steps on a throwaway copy (the first warms up), size the run to the budget.
    stamps = []
    pretrain(copy.deepcopy(random_init), x_train,
             PretrainConfig(objective="simclr", batch_size=args.batch_size, max_steps=4, warmup_steps=0),
             on_progress=lambda step, total, loss: stamps.append(time.monotonic()))
    seconds_per_step = 1.1 * float(np.median(np.diff(stamps)))
    steps_per_epoch = len(x_train) // args.batch_size
    budget_steps = max(1, int(args.minutes * 60 / seconds_per_step))
    epochs = max(1, -(-budget_steps // steps_per_epoch))
    print(f"~{seconds_per_step:.2f}s/step -> {budget_steps} steps (~{budget_steps / steps_per_epoch:.1f} epochs)",
          file=sys.stderr, flush=True)

    pretrain_config = PretrainConfig(
        objective="simclr", epochs=epochs, max_steps=budget_steps, batch_size=args.batch_size, lr=args.lr,
        min_lr=args.lr * 1e-3, weight_decay=1e-4, warmup_steps=min(50, budget_steps // 10),
        temperature=args.temperature, seed=args.seed, max_minutes=args.minutes,
        checkpoint_dir=args.checkpoint_dir, checkpoint_every_steps=50 if args.checkpoint_dir else 0,
        monitor_size=1024)
    last_print = [0.0]

    def report(step: int, total: int, loss: float) -> None:
        if time.monotonic() - last_print[0] > 30 or step == total:
            last_print[0] = time.monotonic()
            print(f"step {step}/{total} loss {loss:.4f}", file=sys.stderr, flush=True)

    result = pretrain(encoder, x_train, pretrain_config, on_progress=report)

    summary = {
        "command": "python -m ssl_engine.bench.cifar_probe " + " ".join(sys.argv[1:] if argv is None else argv),
        "threads": args.threads,
        "encoder": {"width": args.width, "dim": config.dim,
                    "parameters": sum(p.numel() for p in encoder.backbone.parameters())},
        "pretrain": {"budget_minutes": args.minutes, "steps": result.steps, "total_steps": result.total_steps,
                     "epochs": round(result.steps / result.steps_per_epoch, 2),
                     "stopped_reason": result.stopped_reason, "seconds": round(result.elapsed_seconds, 1),
                     "first_loss": result.losses[0], "last_loss": float(np.mean(result.losses[-10:])),
                     "batch_size": args.batch_size, "lr": args.lr, "temperature": args.temperature},
        "collapse_monitor": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in entry.items()}
                             for entry in result.history],
        "random_init": probe(random_init, (x_train, y_train), (x_test, y_test), args.seed),
        "simclr": probe(encoder, (x_train, y_train), (x_test, y_test), args.seed),
    }
    text = json.dumps(summary, indent=1)
    print(text, flush=True)
    if args.out:
        args.out.write_text(text)
    return summary


if __name__ == "__main__":
    main()
