"""Zero-shot from the taxonomy: the texts a taxonomy gives, cosine prototypes, the temperature."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from ssl_engine.proposals.temperature import softmax
from ssl_engine.proposals.zero_shot import DEFAULT_TEMPERATURE, TaxonomyZeroShot, taxonomy_texts

TAXONOMY = [
    {"key": "cards", "name": "Cards", "parent": None, "guideline": "", "examples": []},
    {"key": "lost", "name": "Lost card", "parent": "cards", "guideline": "Card lost or stolen.",
     "examples": ["I lost my card", "  "]},
    {"key": "refund", "name": "", "parent": None},
]


def test_taxonomy_texts_gives_name_path_guideline_examples_per_label_in_order():
    texts, classes = taxonomy_texts(TAXONOMY)
    assert texts == ["Cards", "Lost card", "Cards > Lost card", "Card lost or stolen.", "I lost my card", "refund"]
    assert classes.tolist() == ["cards", "lost", "lost", "lost", "lost", "refund"]


def test_taxonomy_texts_parts_choose_the_rows_and_a_label_keeps_at_least_its_name():
    texts, classes = taxonomy_texts(TAXONOMY, parts=("guideline",))
    assert texts == ["Cards", "Card lost or stolen.", "refund"]
    assert classes.tolist() == ["cards", "lost", "refund"]


@pytest.mark.parametrize("labels, message", [
    ([{"key": "a", "name": "A"}, {"key": "a", "name": "B"}], "twice"),
    ([{"key": "a", "name": "A", "parent": "zz"}], "unknown ancestor"),
    ([{"key": "a", "name": "A", "parent": "b"}, {"key": "b", "name": "B", "parent": "a"}], "cycle"),
    ([{"name": "A"}], "key"),
])
def test_taxonomy_texts_refuses_broken_taxonomies(labels, message):
    with pytest.raises(ValueError, match=message):
        taxonomy_texts(labels)


def synthetic(seed=0, n_per_class=20, dim=16, n_classes=3, noise=0.3):
    """Class directions, noisy items around them, and two noisy descriptions per class."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * np.eye(n_classes, dim)  # orthogonal class directions
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[y] + noise * rng.normal(size=(y.size, dim))
    y_desc = np.repeat(np.arange(n_classes), 2)
    x_desc = centres[y_desc] + noise * rng.normal(size=(y_desc.size, dim))
    return x, y, x_desc, y_desc


def test_predict_proba_is_softmax_of_cosine_to_the_mean_description_direction_over_t():
    x_desc = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 1.0]])
    zs = TaxonomyZeroShot(temperature=0.5).fit(x_desc, np.array(["a", "b", "b"]))
    np.testing.assert_allclose(zs.prototypes_, [[1.0, 0.0], [0.0, 1.0]])
    item = np.array([[3.0, 4.0]])  # unit (0.6, 0.8): cosines 0.6 and 0.8
    np.testing.assert_allclose(zs.cosine(item), [[0.6, 0.8]])
    np.testing.assert_allclose(zs.predict_proba(item), softmax(np.array([[0.6, 0.8]]) / 0.5))
    assert zs.predict(item).tolist() == ["b"]
    assert zs.n_descriptions_.tolist() == [1, 2]
    assert zs.temperature_ == 0.5 and not zs.calibrated_


@pytest.mark.parametrize("n_classes, dim", [(2, 4), (3, 16), (7, 32)])
def test_zero_shot_separates_synthetic_classes_from_their_descriptions(n_classes, dim):
    x, y, x_desc, y_desc = synthetic(n_classes=n_classes, dim=dim)
    zs = TaxonomyZeroShot().fit(x_desc, y_desc)
    probs = zs.predict_proba(x)
    assert probs.shape == (y.size, n_classes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (zs.predict(x) == y).mean() > 0.9
    assert zs.temperature_ == DEFAULT_TEMPERATURE


def test_calibrate_refits_t_by_nll_ignoring_unknown_labels_and_never_moves_the_argmax():
    x, y, x_desc, y_desc = synthetic(noise=1.5)
    zs = TaxonomyZeroShot(temperature=0.001).fit(x_desc, y_desc)  # absurdly sharp prior
    before = zs.predict(x)
    labels = np.where(np.arange(y.size) % 10 == 0, 99, y)  # 99: a label the taxonomy lacks
    zs.calibrate(x, labels)
    assert zs.calibrated_ and zs.n_calibration_ == int((labels != 99).sum())
    assert zs.temperature_ > 0.001
    np.testing.assert_array_equal(zs.predict(x), before)
    unchanged = zs.temperature_
    zs.calibrate(x[:3], np.array([99, 99, 99]))  # nothing usable: T is kept
    assert zs.temperature_ == unchanged


def test_unfitted_and_bad_parameters_raise():
    with pytest.raises(NotFittedError):
        TaxonomyZeroShot().predict_proba(np.ones((1, 2)))
    with pytest.raises(ValueError, match="temperature"):
        TaxonomyZeroShot(temperature=0).fit(np.eye(2), [0, 1])


def test_a_name_spelt_like_a_key_is_read_as_words():
    from ssl_engine.proposals.zero_shot import taxonomy_texts

    texts, _ = taxonomy_texts([{"key": "card_arrival", "name": "card_arrival"}, {"key": "top_up"}])
    assert texts == ["card arrival", "top up"]
