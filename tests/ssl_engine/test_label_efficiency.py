"""The label-efficiency simulation end to end on a tiny synthetic dataset, and the dataset loaders."""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from ssl_engine.active import STRATEGIES
from ssl_engine.bench.datasets import LabelledData, load_labelled
from ssl_engine.bench.label_efficiency import (
    LabelEfficiencyConfig,
    ensemble_params_at,
    knn_graph,
    label_schedule,
    make_encoder,
    prior_coverage,
    proposer_probs,
    run,
    simulate,
    summarise,
    tune_ensemble,
    tune_spreading,
    validation_split,
)
from ssl_engine.proposals.propagation import temper_distributions
from ssl_engine.proposals.zero_shot import TaxonomyZeroShot


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


@pytest.mark.parametrize("strategy", ["auto", "margin", "cluster_margin", "entropy"])
def test_a_single_class_bought_so_far_never_crashes_the_next_batch(tiny, strategy):
    data, encoder = tiny
    x = encoder.embed(data.train_items)
    y = np.where(np.arange(len(x)) < 115, "a", "b").astype(object)  # "b" is rare: the first batches miss it
    rounds = simulate(x, y, x[:10], y[:10], strategy=strategy, schedule=[1, 2, 3, 10], seed=0)
    assert [r["n_labels"] for r in rounds] == [1, 2, 3, 10]


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


def test_a_torchvision_backbone_is_frozen_and_its_weights_file_must_exist(tmp_path):
    with pytest.raises(ValueError, match="frozen"):
        LabelEfficiencyConfig(data="x", image_encoder="torchvision:resnet18:w.safetensors", adapt=["simclr"])
    missing = tmp_path / "r18.safetensors"
    config = LabelEfficiencyConfig(data="x", image_encoder=f"torchvision:resnet18:{missing}")
    with pytest.raises(FileNotFoundError, match="r18.safetensors"):  # read before torchvision is imported
        make_encoder(config, "image")


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


# -- proposers -----------------------------------------------------------------
def test_proposers_become_arms_and_spreading_scores_the_test_rows_transductively(tiny, tmp_path):
    data, encoder = tiny
    config = LabelEfficiencyConfig(data="blobs", strategies=["auto", "random"], proposers=["head", "spreading",
                                   "ensemble"], seeds=2, rounds=2, budget=4, spreading_neighbors=5,
                                   cache=None, out=str(tmp_path / "out"))
    report = run(config, data=data, encoder=encoder, log=lambda message: None)
    arm = report["arms"]["none"]
    assert set(arm["strategies"]) == {f"{s}/{p}" for s in ("auto", "random") for p in ("head", "spreading",
                                                                                        "ensemble")}
    assert arm["spreading"]["n_neighbors"] == 5 and arm["spreading"]["tuning"] is None
    for name, result in arm["strategies"].items():
        assert name == f"{result['strategy']}/{result['proposer']}"
        assert result["summary"]["n_labels"] == [4, 8]
    assert arm["strategies"]["random/spreading"]["summary"]["accuracy"]["mean"][-1] > 0.6  # separable blobs
    assert set(report["table"]["none"]) == set(arm["strategies"])
    assert (tmp_path / "out" / "label_efficiency.png").read_bytes()[:4] == b"\x89PNG"


def test_default_proposer_keeps_the_historical_arm_names(tiny, tmp_path):
    data, encoder = tiny
    config = LabelEfficiencyConfig(data="blobs", strategies=["random"], seeds=1, rounds=1, cache=None,
                                   out=str(tmp_path / "out"))
    arm = run(config, data=data, encoder=encoder, log=lambda message: None)["arms"]["none"]
    assert list(arm["strategies"]) == ["random"] and arm["spreading"] is None


def test_spreading_uses_only_bought_labels_and_ensemble_averages():
    # two tight pairs far apart: pool rows 0, 2 labelled; rows 1, 3 unlabelled; test rows near each pair
    x_pool = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=np.float32)
    x_test = np.array([[0.98, 0.05], [0.05, 0.98]], dtype=np.float32)
    y_pool_idx = np.array([0, 1, 1, 0])  # rows 1 and 3 carry "wrong" hidden labels: never read
    labelled = np.array([True, False, True, False])
    graph = knn_graph(np.vstack([x_pool, x_test]), 2)
    test, pool = proposer_probs("spreading", x_pool, labelled, y_pool_idx, x_test, 3, C=1.0, seed=0,
                                graph=graph, alpha=0.9)
    assert test.shape == (2, 3) and pool.shape == (4, 2)
    assert test.argmax(axis=1).tolist() == [0, 1] and pool.argmax(axis=1).tolist() == [0, 0, 1, 1]
    assert np.allclose(test.sum(axis=1), 1) and np.all(test[:, 2] == 0)  # class 2 never bought
    head_test, _ = proposer_probs("head", x_pool, labelled, y_pool_idx, x_test, 3, C=1.0, seed=0)
    mean_test, _ = proposer_probs("ensemble", x_pool, labelled, y_pool_idx, x_test, 3, C=1.0, seed=0,
                                  graph=graph, alpha=0.9)
    np.testing.assert_array_equal(mean_test, (head_test + test) / 2)  # the default: the plain mean, bit for bit
    with pytest.raises(ValueError, match="graph"):
        proposer_probs("spreading", x_pool, labelled, y_pool_idx, x_test, 3, C=1.0, seed=0)


def test_simulate_with_spreading_builds_its_graph_and_is_reproducible(tiny):
    data, encoder = tiny
    x_pool, x_test = encoder.embed(data.train_items), encoder.embed(data.test_items)
    kwargs = dict(strategy="margin", schedule=[4, 10], seed=1, proposer="spreading", spreading_neighbors=5)
    a = simulate(x_pool, data.train_labels, x_test, data.test_labels, **kwargs)
    b = simulate(x_pool, data.train_labels, x_test, data.test_labels, **kwargs)
    strip = [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in a]
    assert strip == [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in b]
    assert a[-1]["accuracy"] > 0.6


def test_tune_spreading_reads_only_the_pool(tiny):
    data, encoder = tiny
    x_pool = encoder.embed(data.train_items)
    tuning = tune_spreading(x_pool, data.train_labels, label_counts=[4, 12], neighbors=(3, 5), alphas=(0.5, 0.9))
    assert len(tuning["grid"]) == 4 and tuning["validation_rows"] == 24  # 20% of the 120-row pool
    best = max(g["val_accuracy"] for g in tuning["grid"])
    chosen = [g for g in tuning["grid"] if g["val_accuracy"] == best][0]
    assert tuning["chosen"] == {"n_neighbors": chosen["n_neighbors"], "alpha": chosen["alpha"]}


def test_ensemble_weight_one_is_the_head_and_zero_is_tempered_spreading(tiny):
    data, encoder = tiny
    x_pool, x_test = encoder.embed(data.train_items), encoder.embed(data.test_items)
    y_pool_idx = np.unique(data.train_labels, return_inverse=True)[1]
    labelled = np.zeros(len(x_pool), dtype=bool)
    labelled[::15] = True  # 6 labels, every class
    graph = knn_graph(np.vstack([x_pool, x_test]), 5)
    common = dict(C=1.0, seed=0, graph=graph, alpha=0.9)

    def probs(proposer, **kwargs):
        return proposer_probs(proposer, x_pool, labelled, y_pool_idx, x_test, 4, **common, **kwargs)

    head, spread, tempered = probs("head"), probs("spreading"), probs("spreading", temperature=0.3)
    for got, want in zip(probs("ensemble", temperature=0.3, weight=1.0), head):
        np.testing.assert_allclose(got, want, atol=1e-12)
    for got, want in zip(probs("ensemble", temperature=0.3, weight=0.0), tempered):
        np.testing.assert_allclose(got, want, atol=1e-12)
    for got, raw in zip(tempered, spread):  # tempering: same argmax, sharper (T < 1)
        np.testing.assert_allclose(got, temper_distributions(raw, 0.3), atol=1e-12)
        assert (got.argmax(axis=1) == raw.argmax(axis=1)).all() and got.max(axis=1).mean() > raw.max(axis=1).mean()
    mixed = probs("ensemble", temperature=0.3, weight=0.7)[0]
    np.testing.assert_allclose(mixed, 0.7 * head[0] + 0.3 * tempered[0], atol=1e-12)


def test_tune_ensemble_picks_the_best_weight_on_the_pool(tiny):
    data, encoder = tiny
    x_pool = encoder.embed(data.train_items)
    tuning = tune_ensemble(x_pool, data.train_labels, label_counts=[12, 4], n_neighbors=5, alpha=0.9, C=1.0,
                           weights=(0.0, 0.5, 1.0))
    assert tuning["label_counts"] == [4, 12] and tuning["validation_rows"] == 24
    for entry, tuned in zip(tuning["chosen"]["schedule"], tuning["by_count"]):
        assert [g["weight"] for g in tuned["grid"]] == [0.0, 0.5, 1.0]
        best = min(tuned["grid"], key=lambda g: (-g["val_accuracy"], g["val_log_loss"]))
        assert entry == {"n_labels": tuned["n_labels"], "temperature": tuned["temperature"],
                         "ensemble_weight": best["weight"]}
        assert 0.01 <= entry["temperature"] <= 100
    again = tune_ensemble(x_pool, data.train_labels, label_counts=[4, 12], n_neighbors=5, alpha=0.9, C=1.0,
                          weights=(0.0, 0.5, 1.0))
    assert again == tuning  # deterministic


def test_ensemble_params_interpolate_in_log_labels():
    schedule = [{"n_labels": 10, "temperature": 1.0, "ensemble_weight": 0.0},
                {"n_labels": 1000, "temperature": 0.5, "ensemble_weight": 0.4}]
    assert ensemble_params_at(100, schedule) == pytest.approx((0.75, 0.2))  # halfway in log(labels)
    assert ensemble_params_at(3, schedule) == (1.0, 0.0) and ensemble_params_at(5000, schedule) == (0.5, 0.4)
    assert ensemble_params_at(42, schedule[:1]) == (1.0, 0.0)


def test_tuning_never_reads_the_test_labels(tiny, tmp_path):
    data, encoder = tiny
    garbage = LabelledData(data.name, data.modality, data.train_items, data.train_labels, data.test_items,
                           np.array(["zz-not-a-class"] * len(data.test_labels), dtype=object), data.test_split)
    tunings = []
    for i, d in enumerate([data, garbage]):
        config = LabelEfficiencyConfig(data="blobs", strategies=["random"], proposers=["ensemble"], seeds=1,
                                       rounds=2, budget=8, tune_spreading=True, cache=None,
                                       out=str(tmp_path / f"out{i}"))
        spreading = run(config, data=d, encoder=encoder, log=lambda message: None)["arms"]["none"]["spreading"]
        tunings.append({k: v for k, v in spreading.items() if k != "seconds"})
    assert tunings[0] == tunings[1]
    assert tunings[0]["tuning"] is not None and tunings[0]["ensemble_tuning"]["by_count"][0]["grid"]
    assert tunings[0]["schedule"] == tunings[0]["ensemble_tuning"]["chosen"]["schedule"]
    assert [entry["n_labels"] for entry in tunings[0]["schedule"]] == [4, 12]  # first and last round


def test_config_rejects_unknown_proposers():
    with pytest.raises(ValueError):
        LabelEfficiencyConfig(data="x", proposers=["svm"])
    with pytest.raises(ValueError):
        LabelEfficiencyConfig(data="x", proposers=["spreading"], spreading_alpha=1.0)
    with pytest.raises(ValueError):
        LabelEfficiencyConfig(data="x", proposers=["ensemble"], ensemble_weight=1.5)
    with pytest.raises(ValueError):
        LabelEfficiencyConfig(data="x", proposers=["ensemble"], spreading_temperature=0.0)


# -- zero-shot, selection, robustness (issue 14) ------------------------------------------
def small_intents():
    """A small intent set: classes of 20 down to 1 example, several singletons."""
    rng = np.random.default_rng(0)
    counts = [20, 20, 15, 10, 5, 1, 1, 1, 2, 3]
    y = np.concatenate([[f"c{i}"] * n for i, n in enumerate(counts)]).astype(object)
    centres = rng.normal(size=(len(counts), 8)) * 3
    return centres[np.searchsorted(np.unique(y), y)] + rng.normal(size=(y.size, 8)), y


def test_tuning_survives_singleton_classes_and_keeps_them_on_the_fitting_side():
    x, y = small_intents()
    xs, ys, n_fit = validation_split(x, y, seed=0)
    singles = [c for c in np.unique(ys) if (ys == c).sum() == 1]
    assert len(singles) == 3 and not np.isin(ys[n_fit:], singles).any()
    assert sorted(xs.tolist()) == sorted(x.astype(np.float32).tolist())  # a reordering, nothing lost
    tuning = tune_spreading(x, y, label_counts=[10, 40], neighbors=(3,), alphas=(0.9,))
    tune_ensemble(x, y, label_counts=[10, 40], C=1.0, **tuning["chosen"])


def prior_for(data, encoder):
    """A zero-shot prior whose 'label texts' are the class means (classes as positions)."""
    x = encoder.vectors[[int(t.split("-")[1]) for t in data.train_items]]
    classes, codes = np.unique(data.train_labels, return_inverse=True)
    means = np.array([x[codes == c].mean(axis=0) for c in range(classes.size)])
    return TaxonomyZeroShot().fit(means, np.arange(classes.size))


@pytest.mark.parametrize("proposer", ["zero_shot", "selected", "head"])
def test_the_cold_start_round_and_prior_proposers_run_from_zero_labels(tiny, proposer):
    data, encoder = tiny
    x_pool = encoder.vectors[[int(t.split("-")[1]) for t in data.train_items]]
    x_test = encoder.vectors[[int(t.split("-")[1]) for t in data.test_items]]
    rounds = simulate(x_pool, data.train_labels, x_test, data.test_labels, strategy="auto", schedule=[0, 4, 8],
                      seed=0, C=1.0, proposer=proposer, spreading_neighbors=5, prior=prior_for(data, encoder))
    assert [r["n_labels"] for r in rounds] == [0, 4, 8] and rounds[0]["selected_by"] == "none"
    if proposer == "head":
        assert rounds[0]["accuracy"] == pytest.approx(0.25)  # no model: uniform, the first class wins
    else:
        assert rounds[0]["accuracy"] > 0.9  # the prior alone separates the blobs
    if proposer == "selected":
        assert rounds[0]["proposer"]["rule"] == "no labels: zero-shot"
        assert set(rounds[-1]["proposer"]["cv_accuracy"]) == {"zero_shot", "head", "spreading", "ensemble"}


def test_prior_coverage_gives_every_predicted_class_a_label_largest_first():
    probs = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.7, 0.3, 0.0], [0.2, 0.8, 0.0], [0.4, 0.6, 0.0]])
    picks = prior_coverage(probs, np.zeros(5, dtype=bool), 3)
    assert picks.tolist() == [0, 3, 1]  # class 0 (3 items), class 1 (2), then nobody is predicted class 2
    assert prior_coverage(probs, np.array([True, False, False, False, False]), 2).tolist() == [1, 3]


def test_first_batch_prior_covers_classes_and_summary_reports_the_worst_seed(tiny):
    data, encoder = tiny
    x_pool = encoder.vectors[[int(t.split("-")[1]) for t in data.train_items]]
    x_test = encoder.vectors[[int(t.split("-")[1]) for t in data.test_items]]
    runs = [simulate(x_pool, data.train_labels, x_test, data.test_labels, strategy="auto", schedule=[0, 4],
                     seed=seed, C=1.0, proposer="zero_shot", prior=prior_for(data, encoder), first_batch="prior")
            for seed in range(2)]
    assert all(run[1]["selected_by"] == "prior_coverage" and run[1]["classes_seen"] == 4 for run in runs)
    summary = summarise(runs)
    assert summary["accuracy"]["worst"] == [min(run[i]["accuracy"] for run in runs) for i in range(2)]


def test_validation_holdout_never_reads_the_test_split(tiny, tmp_path):
    data, encoder = tiny
    poisoned = LabelledData(data.name, data.modality, data.train_items, data.train_labels,
                            ["item-0"] * 3, np.array(["c0", "c0", "c0"], dtype=object), "given")
    config = LabelEfficiencyConfig(data="blobs", strategies=["random"], proposers=["head", "selected"], seeds=1,
                                   label_counts=[8, 16], holdout="validation", cache=None,
                                   spreading_neighbors=5, out=str(tmp_path / "out"))
    encoder.calls = 0
    report = run(config, data=poisoned, encoder=PriorLookup(encoder), log=lambda message: None)
    assert report["data"]["test_split"].startswith("validation") and report["data"]["test"] == 24
    assert report["arms"]["none"]["strategies"]["random/selected"]["summary"]["n_labels"] == [8, 16]


class PriorLookup:
    """LookupEncoder that embeds label texts ("C0" ...) as the class's mean item."""

    version = "lookup-prior-1"

    def __init__(self, inner):
        self.inner = inner

    def embed(self, batch):
        rows = []
        for text in batch:
            if text.startswith("item-"):
                rows.append(self.inner.embed([text])[0])
            else:
                c = int(text[1:])
                rows.append(self.inner.vectors[c * 40:(c + 1) * 40].mean(axis=0))
        return np.array(rows, dtype=np.float32)
