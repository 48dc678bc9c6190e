"""Suspected label errors by confident learning (ssl_engine.evaluation.label_errors)."""

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import ssl_engine.__main__ as cli
from ssl_engine.evaluation import SuspectedLabelError, find_label_errors, out_of_fold_probabilities
from ssl_engine.evaluation.label_errors import FILTERS, OutOfFold, suspects_from_probabilities

CLASSES = ["card_lost", "refund", "top_up", "transfer"]


@pytest.fixture(autouse=True)
def one_blas_thread():
    """lbfgs on tiny matrices: a second BLAS thread on a busy 2-core machine is much slower."""
    with threadpool_limits(limits=1):
        yield


def clusters(per_class=50, d=8, spread=0.35, seed=0):
    """Well-separated Gaussian clusters, one per class, as unit-norm float32 rows (like embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    codes = np.repeat(np.arange(len(CLASSES)), per_class)
    x = centres[codes] + spread * rng.normal(size=(codes.size, d)) / np.sqrt(d)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), [CLASSES[c] for c in codes]


def flip(labels, n, seed=1):
    """``labels`` with ``n`` random items moved to another random class; returns (noisy, flipped rows)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(labels), n, replace=False))
    noisy = list(labels)
    for i in rows:
        noisy[i] = rng.choice([c for c in CLASSES if c != labels[i]]).item()
    return noisy, set(rows.tolist())


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_flips_are_found_with_few_false_alarms(seed):
    x, truth = clusters(seed=seed)
    noisy, flipped = flip(truth, 10, seed=seed + 10)  # 5% of 200

    suspects = find_label_errors(x, noisy, random_state=seed)

    found = {s.index for s in suspects}
    assert len(found & flipped) >= 9  # recall >= 0.9
    assert len(found - flipped) <= 3  # at most 3 false alarms among 190 clean items
    for s in suspects:
        assert isinstance(s, SuspectedLabelError)
        assert s.given_label == noisy[s.index] != s.suggested_label
        if s.index in flipped:
            assert s.suggested_label == truth[s.index]  # the suggestion is the original label
    qualities = [s.label_quality for s in suspects]
    assert qualities == sorted(qualities)  # most suspect first
    # Every planted flip ranks above every clean item that was flagged.
    ranks = [s.index in flipped for s in suspects]
    assert ranks == sorted(ranks, reverse=True)


def test_clean_data_gives_almost_no_suspects():
    x, labels = clusters(seed=2)
    assert len(find_label_errors(x, labels, random_state=0)) <= 2


def test_same_seed_same_result_and_a_custom_classifier():
    x, truth = clusters(seed=3)
    noisy, flipped = flip(truth, 10, seed=4)
    first = find_label_errors(x, noisy, random_state=5)
    assert find_label_errors(x, noisy, random_state=5) == first

    calls = []

    def plain_logistic():
        calls.append(1)
        return LogisticRegression(C=10.0, max_iter=1000)

    suspects = find_label_errors(x, noisy, classifier=plain_logistic, cv=3, random_state=0)
    assert len(calls) == 3  # one classifier per fold
    found = {s.index for s in suspects}
    assert len(found & flipped) >= 9 and len(found - flipped) <= 3


def test_out_of_fold_probabilities_never_come_from_a_model_that_saw_the_item():
    # Two identical points with different labels: any model that trained on
    # one of them would give it high probability. Out of fold, each one is
    # predicted from the other's (wrong) label, far more than in-sample.
    x, labels = clusters(per_class=20, seed=6)
    x = np.vstack([x, x[:1], x[:1]])
    labels = labels + ["refund", "transfer"]
    oof = out_of_fold_probabilities(x, labels, classifier=lambda: LogisticRegression(C=1e4, max_iter=2000),
                                    cv=2, random_state=0)
    np.testing.assert_allclose(np.nansum(oof.probabilities, axis=1), 1.0, rtol=1e-6)
    refund, transfer = list(oof.classes).index("refund"), list(oof.classes).index("transfer")
    assert oof.probabilities[-2, refund] < 0.5 and oof.probabilities[-1, transfer] < 0.5


def test_rare_classes_keep_every_fold_complete_and_singletons_are_not_assessed():
    x, labels = clusters(per_class=12, seed=7)
    rng = np.random.default_rng(0)
    x = np.vstack([x, rng.normal(size=(3, x.shape[1])).astype(np.float32)])
    labels = labels + ["chargeback", "chargeback", "lonely"]  # a class of 2 and a class of 1, cv=5

    oof = out_of_fold_probabilities(x, labels, cv=5, random_state=0)

    assert oof.n_splits == 5  # a small class does not reduce the folds
    assert oof.unassessed.tolist() == [len(labels) - 1]
    assert np.isnan(oof.probabilities[-1]).all() and np.isfinite(oof.probabilities[:-1]).all()
    assert all(s.index != len(labels) - 1 for s in find_label_errors(x, labels, cv=5, out_of_fold=oof))


def test_folds_drop_to_the_largest_class_when_every_class_is_small():
    x, labels = clusters(per_class=3, seed=8)
    assert out_of_fold_probabilities(x, labels, cv=5, random_state=0).n_splits == 3


def test_hand_made_probabilities():
    # Three classes, items 0-3 labelled a, 4-7 b, 8-11 c. Item 3 is given "a"
    # but the classifier is sure it is "c"; everything else is predicted right.
    p = np.array([[0.9, 0.05, 0.05]] * 3 + [[0.05, 0.05, 0.9]]
                 + [[0.05, 0.9, 0.05]] * 4 + [[0.05, 0.05, 0.9]] * 4)
    codes = np.repeat(np.arange(3), 4)
    oof = OutOfFold(p, np.array(["a", "b", "c"], dtype=object), codes, np.array([], dtype=int), 2)
    for filter_by in FILTERS:
        assert suspects_from_probabilities(oof, filter_by=filter_by) == [
            SuspectedLabelError(index=3, given_label="a", suggested_label="c", label_quality=0.05,
                                suggested_probability=0.9)]


@pytest.mark.parametrize("make_input,message", [
    (lambda x, y: (x[:-1], y), "embedding rows but"),
    (lambda x, y: (x, ["refund"] * len(y)), "single class"),
    (lambda x, y: (np.where(np.arange(len(x))[:, None] == 3, np.nan, x), y), "NaN or infinite values"),
    (lambda x, y: (x, [[label] for label in y]), "multi-label"),
    (lambda x, y: (x[0], y[:1]), "2-D"),
    (lambda x, y: (x, [None] * len(y)), "str or int"),
    (lambda x, y: (x, y[:-2] + [1, 2]), "mix strings and integers"),
    (lambda x, y: (x[:3], ["a", "b", "c"]), "at least 2 classes with 2 or more items"),
])
def test_bad_input_names_the_problem(make_input, message):
    x, labels = clusters(per_class=5, seed=9)
    embeddings, given = make_input(x, labels)
    with pytest.raises(ValueError, match=message):
        find_label_errors(embeddings, given)


def test_bad_options_are_rejected():
    x, labels = clusters(per_class=5, seed=9)
    with pytest.raises(ValueError, match="cv must be"):
        find_label_errors(x, labels, cv=1)
    with pytest.raises(ValueError, match="filter_by"):
        find_label_errors(x, labels, filter_by="vibes")


def test_cli_writes_suspects_most_suspect_first(tmp_path, capsys):
    x, truth = clusters(seed=10)
    noisy, flipped = flip(truth, 8, seed=11)
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"text": f"item {i}", "intent": label}) + "\n"
                            for i, label in enumerate(noisy)))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "suspects.json"

    assert cli.main(["label-errors", "--data", str(data), "--embeddings", str(tmp_path / "x.npy"),
                     "--out", str(out), "--top", "5"]) == 0

    result = json.loads(out.read_text())
    assert result["items"] == 200 and result["folds"] == 5 and result["suspects_found"] >= 7
    assert len(result["suspects"]) == 5
    assert all(s["index"] in flipped and s["text"] == f"item {s['index']}" for s in result["suspects"])
    assert json.loads(capsys.readouterr().out)["suspects"] == result["suspects_found"]


def test_cli_rejects_mismatched_embeddings(tmp_path, capsys):
    data = tmp_path / "items.csv"
    data.write_text("text,label\na,x\nb,y\n")
    np.save(tmp_path / "x.npy", np.zeros((3, 4), dtype=np.float32))
    assert cli.main(["label-errors", "--data", str(data), "--embeddings", str(tmp_path / "x.npy"),
                     "--out", str(tmp_path / "o.json")]) == 2
    assert "3 rows but" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_bench_plants_exactly_the_asked_flips_and_scores_them():
    from ssl_engine.bench.label_errors import one_seed, plant_flips

    x, truth = clusters(seed=12)
    labels = np.array(truth, dtype=object)
    noisy, rows = plant_flips(labels, 0.05, seed=3)
    assert rows.size == 10 and (noisy[rows] != labels[rows]).all()
    assert (np.delete(noisy, rows) == np.delete(labels, rows)).all()
    again, same_rows = plant_flips(labels, 0.05, seed=3)
    assert (again == noisy).all() and (same_rows == rows).all()

    run = one_seed(x, labels, [f"item {i}" for i in range(len(labels))], fraction=0.05, seed=3, cv=5,
                   filter_by="prune_by_class")
    assert run["flipped"] == 10 and run["recall"] >= 0.8  # the recall thresholds are tested above
    assert [k["k"] for k in run["top_k"]] == [5, 10, 20]
    assert run["top_k"][0]["precision"] == 1.0  # the five most suspect are all planted flips
    assert set(run["other_filters"]) == set(FILTERS) - {"prune_by_class"}
