"""A saved classifier head loads back without pickle and predicts the same."""

import numpy as np
import pytest

from ssl_engine.proposals import CalibratedHead
from ssl_engine.proposals.head_io import load_head, save_head


def blobs(n_per_class=20, n_classes=3, d=8, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(n_classes, d)) * 3
    X = np.vstack([c + rng.normal(size=(n_per_class, d)) for c in centres]).astype(np.float32)
    y = np.repeat([f"label-{i}" for i in range(n_classes)], n_per_class)
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_single_label_round_trip(tmp_path, n_classes):
    X, y = blobs(n_classes=n_classes)
    head = CalibratedHead(random_state=0).fit(X, y)
    loaded = load_head(save_head(head, tmp_path / "head.safetensors"))
    np.testing.assert_allclose(loaded.predict_proba(X), head.predict_proba(X), rtol=1e-12, atol=1e-15)
    assert loaded.classes_.tolist() == head.classes_.tolist()
    assert loaded.temperature_ == head.temperature_ and loaded.get_params() == head.get_params()
    assert loaded.n_iter_ == head.n_iter_ >= 1
    assert list(loaded.predict(X[:5])) == list(head.predict(X[:5]))


def test_multilabel_round_trip_keeps_constant_labels(tmp_path):
    X, y = blobs(n_classes=3)
    # "always" is on every row: a label with no model, only a constant logit.
    labels = [[label, "always"] for label in y]
    head = CalibratedHead(multilabel=True, random_state=0).fit(X, labels)
    loaded = load_head(save_head(head, tmp_path / "head.safetensors"))
    np.testing.assert_allclose(loaded.predict_proba(X), head.predict_proba(X), rtol=1e-12, atol=1e-15)
    assert loaded.predict(X[:3]) == head.predict(X[:3])


def test_a_file_that_is_not_a_head_is_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3)}, str(path))
    with pytest.raises(ValueError, match="not a saved classifier head"):
        load_head(path)


def test_unfitted_head_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save_head(CalibratedHead(), tmp_path / "head.safetensors")
