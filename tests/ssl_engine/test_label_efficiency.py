"""The label-efficiency simulation end to end on a tiny synthetic dataset, and the dataset loaders."""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from ssl_engine.active import STRATEGIES
from ssl_engine.bench.datasets import LabelledData, load_labelled
from ssl_engine.bench.label_efficiency import (
    LabelEfficiencyConfig,
    label_schedule,
    run,
    simulate,
    summarise,
)


@pytest.fixture(autouse=True)
def one_blas_thread():
    """lbfgs on tiny matrices: a second BLAS thread on a busy 2-core machine is 20x slower."""
    with threadpool_limits(limits=1):
        yield


class LookupEncoder:
    """Texts "item-<i>" -> row i of a fixed matrix: an Encoder with no model behind it."""

    version = "lookup-1"

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.dim = vectors.shape[1]
        self.calls = 0

    def embed(self, batch):
        self.calls += 1
        return self.vectors[[int(t.split("-")[1]) for t in batch]].astype(np.float32)


def blobs(n_classes=4, per_class=40, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_classes, dim)) * 3
    y = np.repeat(np.arange(n_classes), per_class)
    return centres[y] + rng.normal(0, 1, (len(y), dim)), np.array([f"c{c}" for c in y], dtype=object)


@pytest.fixture
def tiny():
    x, y = blobs()
    test = np.arange(len(y)) % 4 == 0
    texts = [f"item-{i}" for i in range(len(y))]
    data = LabelledData("blobs", "text", [t for t, s in zip(texts, test) if not s], y[~test],
                        [t for t, s in zip(texts, test) if s], y[test], "given")
    return data, LookupEncoder(x)


def test_every_strategy_end_to_end_writes_json_and_png(tiny, tmp_path):
    data, encoder = tiny
    config = LabelEfficiencyConfig(data="blobs", strategies=sorted(STRATEGIES), adapt=["none", "simclr"], seeds=2,
                                   rounds=2, budget=4, cache=str(tmp_path / "cache"), out=str(tmp_path / "out"))
    report = run(config, data=data, encoder=encoder, log=lambda message: None)
    assert report["label_schedule"] == [4, 8]  # cold start = one per class
    assert "does not apply" in report["skipped"]["simclr"] and report["skipped"]["simcse"]
    arm = report["arms"]["none"]
    assert set(arm["strategies"]) == set(STRATEGIES)
    for strategy, result in arm["strategies"].items():
        assert len(result["runs"]) == 2 and len(result["runs"][0]) == 2
        summary = result["summary"]
        assert summary["n_labels"] == [4, 8]
        assert all(0 <= a <= 1 for a in summary["accuracy"]["mean"])
        assert 0 <= summary["accuracy_auc"]["mean"] <= 1
        first = result["runs"][0][0]["selected_by"]
        assert first == ("random" if strategy in {"margin", "entropy", "least_confidence", "cluster_margin"}
                         else "typiclust" if strategy == "auto" else strategy)
    assert arm["strategies"]["random"]["summary"]["accuracy"]["mean"][-1] > 0.6  # separable blobs
    saved = json.loads((tmp_path / "out" / "label_efficiency.json").read_text())
    assert saved["table"]["none"]["random"]["8 labels"] and saved["machine"]["torch"]
    assert (tmp_path / "out" / "label_efficiency.png").read_bytes()[:4] == b"\x89PNG"

    calls = encoder.calls  # a second run reads the cache, the encoder is not called
    config.strategies, config.seeds, config.rounds = ["random"], 1, 2
    run(config, data=data, encoder=encoder, log=lambda message: None)
    assert encoder.calls == calls


def test_simulate_is_reproducible_and_never_buys_twice(tiny):
    data, encoder = tiny
    x_pool, x_test = encoder.embed(data.train_items), encoder.embed(data.test_items)
    kwargs = dict(strategy="margin", schedule=[4, 10, 16], seed=1)
    a = simulate(x_pool, data.train_labels, x_test, data.test_labels, **kwargs)
    b = simulate(x_pool, data.train_labels, x_test, data.test_labels, **kwargs)
    strip = [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in a]
    assert strip == [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in b]
    assert [r["n_labels"] for r in a] == [4, 10, 16]


def test_one_class_bought_still_scores(tiny):
    data, encoder = tiny
    x = encoder.embed(data.train_items)
    y = np.where(np.arange(len(x)) < 100, "a", "b").astype(object)
    rounds = simulate(x, y, x[:10], y[:10], strategy="random", schedule=[1], seed=0)
    assert rounds[0]["classes_seen"] == 1 and rounds[0]["accuracy"] == 1.0


def test_schedule_and_summary():
    assert label_schedule(77, 77, 10, 10_000)[-1] == 770
    assert label_schedule(5, 10, 4, 12) == [5, 12]
    runs = [[{"n_labels": 2, "accuracy": 0.5, "macro_f1": 0.4, "ece": 0.1},
             {"n_labels": 4, "accuracy": 0.7, "macro_f1": 0.6, "ece": 0.1}]] * 2
    summary = summarise(runs)
    assert summary["accuracy"]["mean"] == [0.5, 0.7] and summary["accuracy"]["std"] == [0.0, 0.0]
    assert summary["accuracy_auc"]["mean"] == pytest.approx(0.6)


def test_config_rejects_unknown_names():
    with pytest.raises(ValueError):
        LabelEfficiencyConfig(data="x", strategies=["nope"])
    with pytest.raises(ValueError):
        LabelEfficiencyConfig(data="x", adapt=["dino"])


def test_loaders(tmp_path):
    sms = tmp_path / "SMSSpamCollection"
    sms.write_text("".join(f"{'spam' if i % 5 == 0 else 'ham'}\tmessage {i}\n" for i in range(50)))
    data = load_labelled(sms, test_fraction=0.2, seed=0)
    assert (len(data.train_items), len(data.test_items)) == (40, 10)
    assert (data.test_labels == "spam").sum() == 2  # stratified
    assert load_labelled(sms, seed=0).test_items == data.test_items  # seeded

    folder = tmp_path / "csvs"
    folder.mkdir()
    for split, n in (("train", 6), ("test", 2)):
        (folder / f"{split}.csv").write_text("text,category\n" + "".join(f"t{i},k{i % 2}\n" for i in range(n)))
    data = load_labelled(folder)
    assert data.test_split == "given" and list(data.train_labels[:2]) == ["k0", "k1"]

    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"sentence": f"s{i}", "intent": f"i{i % 2}"}) + "\n" for i in range(10)))
    assert len(load_labelled(jsonl, test_fraction=0.2).test_items) == 2

    from PIL import Image

    for split in ("train", "test"):
        for label in ("cat", "dog"):
            (tmp_path / "img" / split / label).mkdir(parents=True)
            Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "img" / split / label / "0.png")
    data = load_labelled(tmp_path / "img")
    assert data.modality == "image" and list(data.train_labels) == ["cat", "dog"]
    assert len(set(data.hashes(data.train_items))) == 1  # the same bytes, the same content hash
