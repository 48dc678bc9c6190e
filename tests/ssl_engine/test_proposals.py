"""Label proposers: accuracy on separable blobs, the estimator contract, calibration."""

import faiss
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from ssl_engine.evaluation.metrics import expected_calibration_error
from ssl_engine.proposals import (
    PROPOSERS,
    CalibratedHead,
    GraphLabelSpreading,
    KNNVote,
    SelfTraining,
    confidence,
    make_proposer,
    predicted_labels,
    propose,
)
from ssl_engine.proposals.propagation import fit_distribution_temperature, temper_distributions
from ssl_engine.proposals.temperature import fit_temperature, nll, softmax

# Tiny problems: a second BLAS/OpenMP thread only adds start-up and
# spin-waiting on a busy 2-core machine.
faiss.omp_set_num_threads(1)


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with threadpool_limits(limits=1):
        yield


LABELS = np.array(["refund", "card", "atm"], dtype=object)  # deliberately not sorted


def blobs(n_per_class, *, seed, n_classes=3, dim=8, spread=1.0, scale=4.0):
    """Gaussian blobs around fixed random centres (the same centres for every seed)."""
    centres = np.random.default_rng(1234).normal(size=(n_classes, dim)) * scale
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[codes] + spread * rng.normal(size=(codes.size, dim))
    return x.astype(np.float32), codes


@pytest.fixture(scope="module")
def data():
    x, codes = blobs(20, seed=0)
    x_pool, pool_codes = blobs(50, seed=1)
    return x, LABELS[codes], x_pool, LABELS[pool_codes]


@pytest.mark.parametrize("method", sorted(PROPOSERS))
def test_each_proposer_is_accurate_on_separable_blobs(data, method):
    x, y, x_pool, y_pool = data
    probs, classes = propose(x, y, x_pool, method=method, random_state=0)
    assert classes.tolist() == ["atm", "card", "refund"]  # sorted, as np.unique gives them
    assert probs.shape == (x_pool.shape[0], 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)
    assert (probs >= 0).all()
    assert (predicted_labels(probs, classes) == y_pool).mean() >= 0.97


@pytest.mark.parametrize("method", sorted(PROPOSERS))
def test_contract_fit_returns_self_and_columns_follow_classes(data, method):
    x, y, x_pool, y_pool = data
    estimator = make_proposer(method)
    fit_y = y
    if method in ("propagation", "self_training"):
        fit_y = y.copy()
        fit_y[::4] = -1  # some unlabelled rows
    assert estimator.fit(x, fit_y) is estimator
    probs = estimator.predict_proba(x_pool)
    # The column of each row's true class is the largest one.
    true_column = np.searchsorted(estimator.classes_, y_pool)
    assert (probs.argmax(axis=1) == true_column).mean() >= 0.97
    np.testing.assert_array_equal(estimator.predict(x_pool), estimator.classes_[probs.argmax(axis=1)])
    assert estimator.n_features_in_ == x.shape[1]
    clone(estimator)  # get_params/set_params round trip


@pytest.mark.parametrize("method", sorted(PROPOSERS))
def test_not_fitted_raises(data, method):
    with pytest.raises(NotFittedError):
        make_proposer(method).predict_proba(data[0])


@pytest.mark.parametrize("method", sorted(PROPOSERS))
def test_wrong_width_is_rejected(data, method):
    x, y, x_pool, _ = data
    estimator = make_proposer(method).fit(x, y)
    with pytest.raises(ValueError, match="features"):
        estimator.predict_proba(x_pool[:, :4])


@pytest.mark.parametrize("method", ["head", "propagation", "self_training"])
def test_same_random_state_same_probabilities(method):
    # Overlapping classes, so the result depends on the folds and the clusters.
    x, codes = blobs(25, seed=3, spread=3.0)
    x_pool, _ = blobs(20, seed=4, spread=3.0)
    first, _ = propose(x, codes, x_pool, method=method, random_state=7)
    second, _ = propose(x, codes, x_pool, method=method, random_state=7)
    np.testing.assert_array_equal(first, second)


def test_knn_needs_no_random_state_and_propose_drops_it(data):
    x, y, x_pool, _ = data
    assert "random_state" not in KNNVote().get_params()
    propose(x, y, x_pool, method="knn", random_state=0)


def test_propose_rejects_unknown_method_and_unlabelled_markers(data):
    x, y, x_pool, _ = data
    with pytest.raises(ValueError, match="unknown proposal method"):
        propose(x, y, x_pool, method="oracle")
    marked = y.copy()
    marked[0] = -1
    with pytest.raises(ValueError, match="unlabelled marker"):
        propose(x, marked, x_pool, method="propagation")


def test_fewer_than_two_classes_is_an_error(data):
    x = data[0]
    for method in PROPOSERS:
        with pytest.raises(ValueError, match="at least 2 classes"):
            make_proposer(method).fit(x[:5], np.array(["card"] * 5, dtype=object))


# -- CalibratedHead ---------------------------------------------------------

def test_temperature_nll_matches_a_hand_computed_case():
    z = np.array([[2.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 0])
    # -[log(e^2 / (e^2 + 1)) + log(1 / (1 + e))] / 2
    expected = -(np.log(np.e**2 / (np.e**2 + 1)) + np.log(1 / (1 + np.e))) / 2
    assert nll(z, y) == pytest.approx(expected)
    assert nll(z, y, temperature=2.0) == pytest.approx(nll(z / 2, y))


@pytest.mark.parametrize("true_t", [0.5, 2.0])
def test_fit_temperature_recovers_the_temperature_labels_were_drawn_with(true_t):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(4000, 5))
    p = softmax(z / true_t)
    y = (p.cumsum(axis=1) > rng.random((4000, 1))).argmax(axis=1)  # one draw per row
    assert fit_temperature(z, y) == pytest.approx(true_t, rel=0.1)


def test_calibration_lowers_ece_of_an_underconfident_head():
    # A heavily regularised logistic regression is underconfident on
    # overlapping classes; out-of-fold temperature scaling sharpens it.
    x, codes = blobs(100, seed=5, spread=2.5)
    x_test, test_codes = blobs(200, seed=6, spread=2.5)
    raw = CalibratedHead(C=0.01, calibration=None).fit(x, codes)
    calibrated = CalibratedHead(C=0.01, random_state=0).fit(x, codes)
    assert calibrated.calibrated_ and calibrated.temperature_ < 1.0 and raw.temperature_ == 1.0
    ece_raw = expected_calibration_error(raw.predict_proba(x_test), test_codes)
    ece_calibrated = expected_calibration_error(calibrated.predict_proba(x_test), test_codes)
    assert ece_calibrated < ece_raw
    assert ece_calibrated < 0.06
    # Dividing logits by T never changes the predicted class.
    np.testing.assert_array_equal(raw.predict(x_test), calibrated.predict(x_test))


def test_classes_with_one_or_two_examples_are_trained_on_but_not_held_out(data):
    x, y, x_pool, y_pool = data
    keep = np.concatenate([np.flatnonzero(y == "atm")[:1], np.flatnonzero(y == "card")[:2],
                           np.flatnonzero(y == "refund")])
    head = CalibratedHead(random_state=0).fit(x[keep], y[keep])
    # Only "refund" has >= cv examples, so folds drop to 2 and "card" (2) joins it.
    assert head.calibrated_ and head.n_calibration_ == 20 + 2
    assert (head.predict(x_pool) == y_pool).mean() >= 0.9  # "atm" from a single example


def test_calibration_rows_limit_what_is_held_out(data):
    x, y, _, _ = data
    mask = np.zeros(y.size, dtype=bool)
    mask[::2] = True
    head = CalibratedHead(random_state=0).fit(x, y, calibration_rows=mask)
    assert head.calibrated_ and head.n_calibration_ == mask.sum()
    with pytest.raises(ValueError, match="calibration_rows"):
        CalibratedHead().fit(x, y, calibration_rows=mask[:5])


def test_head_with_single_examples_stays_uncalibrated(data):
    x, y, x_pool, _ = data
    keep = [np.flatnonzero(y == label)[0] for label in LABELS]
    head = CalibratedHead(random_state=0).fit(x[keep], y[keep])
    assert not head.calibrated_ and head.temperature_ == 1.0 and head.n_calibration_ == 0
    np.testing.assert_allclose(head.predict_proba(x_pool).sum(axis=1), 1.0)


def test_binary_head(data):
    x, y, x_pool, y_pool = data
    binary = y != "atm"
    head = CalibratedHead(random_state=0).fit(x[binary], y[binary])
    probs = head.predict_proba(x_pool[y_pool != "atm"])
    assert probs.shape[1] == 2
    assert (head.classes_[probs.argmax(axis=1)] == y_pool[y_pool != "atm"]).all()
    # decision_function in scikit-learn's binary shape, the logit of classes_[1]; logits keeps (N, 2).
    z = head.logits(x_pool)
    assert z.shape == (len(x_pool), 2) and (z[:, 0] == 0).all()
    np.testing.assert_array_equal(head.decision_function(x_pool), z[:, 1])
    np.testing.assert_allclose(softmax(z / head.temperature_), head.predict_proba(x_pool))


def test_class_weight_dict_is_keyed_by_label(data):
    x, y, x_pool, _ = data
    heavy = CalibratedHead(calibration=None, class_weight={"atm": 50.0}).fit(x, y)
    plain = CalibratedHead(calibration=None).fit(x, y)
    atm = list(heavy.classes_).index("atm")
    assert heavy.predict_proba(x_pool)[:, atm].mean() > plain.predict_proba(x_pool)[:, atm].mean()
    with pytest.raises(ValueError, match="not in y"):
        CalibratedHead(class_weight={"loan": 2.0}).fit(x, y)


def test_multilabel_head_predicts_each_label_independently():
    # Two independent yes/no attributes, each along its own axis.
    rng = np.random.default_rng(0)
    flags = rng.integers(0, 2, size=(160, 2)).astype(bool)
    x = (np.where(flags, 3.0, -3.0) @ np.eye(2, 6) + rng.normal(size=(160, 6))).astype(np.float32)
    y = [[name for name, on in zip(("urgent", "billing"), row) if on] for row in flags]
    head = CalibratedHead(multilabel=True, random_state=0).fit(x[:120], y[:120])
    assert head.classes_.tolist() == ["billing", "urgent"]
    probs = head.predict_proba(x[120:])
    assert probs.shape == (40, 2) and ((probs >= 0) & (probs <= 1)).all()
    assert not np.allclose(probs.sum(axis=1), 1.0)  # independent sigmoids
    predicted = head.predict(x[120:])
    assert [sorted(p) for p in predicted] == [sorted(t) for t in y[120:]]
    assert predicted_labels(probs, head.classes_, multilabel=True) == predicted
    assert head.calibrated_
    assert (confidence(probs, multilabel=True) >= 0.5).all()


def test_multilabel_label_constant_in_training_gets_a_constant_probability():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    y = [["spam"] if i % 2 else ["spam", "ham"] for i in range(30)]  # "spam" on every row
    head = CalibratedHead(multilabel=True, random_state=0).fit(x, y)
    spam = head.predict_proba(x)[:, head.classes_.tolist().index("spam")]
    assert np.ptp(spam) == 0
    assert spam[0] == pytest.approx(31 / 32)  # (positives + 1) / (n + 2), not temperature-scaled


# -- KNNVote ----------------------------------------------------------------

def test_knn_vote_matches_a_hand_computed_vote():
    x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    knn = KNNVote(n_neighbors=2, temperature=0.5, smoothing=0.0).fit(x, np.array(["a", "b", "b"]))
    probs = knn.predict_proba(np.array([[1.0, 0.0]], dtype=np.float32))
    # Neighbours: row 0 (cos 1.0, "a"), row 1 (cos 0.8, "b").
    w_a, w_b = np.exp(1.0 / 0.5), np.exp(0.8 / 0.5)
    np.testing.assert_allclose(probs, [[w_a / (w_a + w_b), w_b / (w_a + w_b)]], rtol=1e-5)


def test_knn_smoothing_and_neighbour_cap(data):
    x, y, x_pool, _ = data
    probs = KNNVote(n_neighbors=500, smoothing=0.3).fit(x, y).predict_proba(x_pool)  # k capped at 60
    assert probs.min() >= 0.1 - 1e-12  # every class keeps smoothing / C


# -- GraphLabelSpreading ---------------------------------------------------

def unit_circle(degrees):
    radians = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    return np.column_stack([np.cos(radians), np.sin(radians)]).astype(np.float32)


def test_label_spreading_follows_graph_components():
    # 1-NN graph: {0, 10}, {80, 90} and an unlabelled {180, 190} no label reaches.
    x = unit_circle([0, 10, 80, 90, 180, 190])
    y = np.array(["a", -1, -1, "b", -1, -1], dtype=object)
    model = GraphLabelSpreading(n_neighbors=1).fit(x, y)
    np.testing.assert_allclose(model.label_distributions_[:4], [[1, 0], [1, 0], [0, 1], [0, 1]])
    np.testing.assert_allclose(model.label_distributions_[4:], 0.5)  # uniform: unreachable
    assert model.transduction_[:4].tolist() == ["a", "a", "b", "b"]


def test_label_spreading_splits_evenly_between_symmetric_labels():
    # Every point is the other two's neighbour: the middle one is equally a and b.
    x = unit_circle([0, 45, 90])
    model = GraphLabelSpreading(n_neighbors=2, alpha=0.5).fit(x, np.array([0, -1, 1]))
    np.testing.assert_allclose(model.label_distributions_[1], [0.5, 0.5])
    # A labelled point keeps most of its own label but hears its neighbours.
    assert 0.5 < model.label_distributions_[0, 0] < 1.0


def test_label_spreading_reaches_unlabelled_blobs_and_predicts_new_rows():
    x, codes = blobs(40, seed=7)
    y = np.full(codes.size, -1)
    for c in range(3):  # two labels per class
        y[np.flatnonzero(codes == c)[:2]] = c
    model = GraphLabelSpreading(random_state=0).fit(x, y)
    assert model.label_distributions_.shape == (x.shape[0], 3)
    np.testing.assert_allclose(model.label_distributions_.sum(axis=1), 1.0)
    assert (model.transduction_ == codes).mean() >= 0.97
    x_new, new_codes = blobs(10, seed=8)
    assert (model.predict(x_new) == new_codes).mean() >= 0.97


def test_temper_distributions_hand_computed():
    p = np.array([[0.75, 0.25, 0.0], [0.5, 0.5, 0.0], [0.2, 0.0, 0.8]])
    # T = 0.5 squares: [0.5625, 0.0625] / 0.625 = [0.9, 0.1]; a tie stays a tie; zeros stay zero.
    np.testing.assert_allclose(temper_distributions(p, 0.5), [[0.9, 0.1, 0], [0.5, 0.5, 0], [1 / 17, 0, 16 / 17]])
    # T = 2 takes square roots: [sqrt 3, 1] / (sqrt 3 + 1).
    np.testing.assert_allclose(temper_distributions(p, 2.0)[0, :2], [3**0.5 / (3**0.5 + 1), 1 / (3**0.5 + 1)])
    np.testing.assert_allclose(temper_distributions(p, 1.0), p)
    assert np.isfinite(temper_distributions(p, 0.01)).all()  # p ** 100 would underflow; the log domain does not
    with pytest.raises(ValueError, match="positive"):
        temper_distributions(p, 0.0)


def test_fit_distribution_temperature_hand_computed():
    # Every row says [0.75, 0.25] and 9 rows in 10 are class 0: the NLL optimum gives the
    # tempered top class probability 0.9, i.e. 3 ** (1/T) = 9, T = 0.5.
    p = np.tile([0.75, 0.25], (10, 1))
    y = np.array([0] * 9 + [1])
    assert fit_distribution_temperature(p, y) == pytest.approx(0.5, abs=1e-3)
    # Right 3 times in 4, exactly as confident as it says: T = 1.
    assert fit_distribution_temperature(p[6:], y[6:]) == pytest.approx(1.0, abs=1e-3)
    # A row giving its true class 0 has likelihood 0 for every T: it is left out.
    with_zero = np.vstack([p, [[1.0, 0.0]]])
    assert fit_distribution_temperature(with_zero, np.append(y, 1)) == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="positive probability"):
        fit_distribution_temperature([[1.0, 0.0]], [1])


# -- SelfTraining -----------------------------------------------------------

def test_self_training_adopts_confident_pseudo_labels_with_string_classes():
    x, codes = blobs(30, seed=9)
    y = LABELS[codes].astype(object)
    y[np.arange(codes.size) % 3 != 0] = -1
    model = SelfTraining(threshold=0.8, max_iter=3).fit(x, y)
    assert model.pseudo_labelled_.sum() > 0
    assert not model.pseudo_labelled_[y != -1].any()
    adopted = model.pseudo_labelled_
    assert (model.transduction_[adopted] == LABELS[codes][adopted]).all()
    assert model.termination_condition_ in {"all_labeled", "no_change", "max_iter"}
    assert model.labeled_iter_[y != -1].tolist() == [0] * int((y != -1).sum())
    # The head's temperature was fitted on human labels only.
    assert model.estimator_.n_calibration_ == (y != -1).sum()


def test_self_training_with_an_impossible_threshold_adds_nothing(data):
    x, y, x_pool, _ = data
    y_all = np.concatenate([y, np.full(x_pool.shape[0], -1, dtype=object)])
    model = SelfTraining(estimator=KNNVote(), threshold=1.0).fit(np.vstack([x, x_pool]), y_all)
    assert model.termination_condition_ == "no_change" and model.n_iter_ == 1
    assert not model.pseudo_labelled_.any()


def test_confidence_and_predicted_labels_helpers():
    probs = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])
    np.testing.assert_allclose(confidence(probs), [0.7, 0.5])
    assert predicted_labels(probs, ["a", "b", "c"]).tolist() == ["b", "a"]
    multi = np.array([[0.9, 0.6, 0.1]])
    np.testing.assert_allclose(confidence(multi, multilabel=True), [0.6])
    assert predicted_labels(multi, ["a", "b", "c"], multilabel=True) == [["a", "b"]]
    with pytest.raises(ValueError, match="classes"):
        predicted_labels(probs, ["a", "b"])
