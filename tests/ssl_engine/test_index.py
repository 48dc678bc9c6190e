"""VectorIndex: exact and IVF search, ids, persistence and input checks."""

import doctest

import faiss
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from ssl_engine import index as index_module
from ssl_engine.index import VectorIndex, as_float32_matrix, l2_normalise, suggest_nlist

# Arrays here are tiny: OpenMP start-up and spin-waiting on a busy 2-core
# machine cost far more than a second thread saves.
faiss.omp_set_num_threads(1)


def random_vectors(n, d, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def blobs(n_per_blob=50, n_blobs=8, d=16, spread=0.05, seed=0):
    """Well-separated clusters: unit-norm random centres plus small noise."""
    rng = np.random.default_rng(seed)
    centres = l2_normalise(rng.normal(size=(n_blobs, d)))
    x = np.repeat(centres, n_per_blob, axis=0) + spread * rng.normal(size=(n_blobs * n_per_blob, d))
    return x.astype(np.float32)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("n,d", [(5, 2), (40, 8), (120, 33)])
def test_exact_index_finds_each_vector_itself(metric, n, d):
    x = random_vectors(n, d)
    index = VectorIndex(metric=metric).fit(x)

    scores, ids = index.search(x, k=min(3, n))

    assert index.kind_ == "flat" and index.ntotal == n and index.dim_ == d
    assert scores.shape == ids.shape == (n, min(3, n))
    np.testing.assert_array_equal(ids[:, 0], np.arange(n))
    expected_self = 1.0 if metric == "cosine" else 0.0
    np.testing.assert_allclose(scores[:, 0], expected_self, atol=1e-5)


def test_cosine_scores_are_cosine_similarities():
    x = np.array([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]])
    index = VectorIndex(metric="cosine").fit(x)
    scores, ids = index.search(np.array([[5.0, 0.0]]), k=3)
    np.testing.assert_array_equal(ids[0], [0, 2, 1])
    np.testing.assert_allclose(scores[0], [1.0, np.sqrt(0.5), 0.0], atol=1e-6)


def test_l2_scores_are_squared_distances():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    scores, ids = VectorIndex(metric="l2").fit(x).search(np.array([[0.0, 0.0]]), k=2)
    np.testing.assert_array_equal(ids[0], [0, 1])
    np.testing.assert_allclose(scores[0], [0.0, 25.0])


def test_database_ids_go_through_the_id_map():
    x = random_vectors(30, 4)
    ids = np.arange(30) * 7 + 1000
    index = VectorIndex(metric="l2").fit(x, ids=ids)
    index.add(random_vectors(2, 4, seed=1), ids=[5, 6])

    _, found = index.search(x[[0, 29]], k=1)
    np.testing.assert_array_equal(found[:, 0], [1000, 1000 + 29 * 7])
    assert index.ntotal == 32


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_exact_and_ivf_agree_on_top1_for_well_separated_data(metric):
    x = blobs()
    queries = x[::7] + 0.01
    exact = VectorIndex(metric=metric).fit(x)
    ivf = VectorIndex(metric=metric, ivf_threshold=100, nlist=8, nprobe=2, random_state=0).fit(x)

    assert ivf.kind_ == "ivf"
    np.testing.assert_array_equal(exact.search(queries, 1)[1], ivf.search(queries, 1)[1])


def test_ivf_is_deterministic_under_random_state():
    x = blobs(seed=1)
    a = VectorIndex(metric="cosine", ivf_threshold=1, nlist=8, nprobe=1, random_state=3).fit(x)
    b = VectorIndex(metric="cosine", ivf_threshold=1, nlist=8, nprobe=1, random_state=3).fit(x)
    np.testing.assert_array_equal(a.search(x, 5)[1], b.search(x, 5)[1])


def test_missing_ivf_results_are_minus_one_with_infinite_scores():
    x = blobs()
    for metric, fill in [("cosine", -np.inf), ("l2", np.inf)]:
        index = VectorIndex(metric=metric, ivf_threshold=1, nlist=8, nprobe=1, random_state=0).fit(x)
        scores, ids = index.search(x[:2], k=index.ntotal)  # one list cannot hold them all
        missing = ids == -1
        assert missing.any() and (~missing).any()
        assert (scores[missing] == fill).all() and np.isfinite(scores[~missing]).all()


def test_nprobe_can_change_after_fit():
    x = blobs()
    index = VectorIndex(metric="l2", ivf_threshold=1, nlist=8, nprobe=1, random_state=0).fit(x)
    index.set_params(nprobe=8)  # every list: as exact as a flat index
    _, ids = index.search(x[:2], k=index.ntotal)
    assert (ids >= 0).all()


@pytest.mark.parametrize("ivf", [False, True])
def test_save_load_round_trip(tmp_path, ivf):
    x = blobs()
    index = VectorIndex(metric="cosine", ivf_threshold=1 if ivf else 10_000, nlist=8, nprobe=3,
                        random_state=0).fit(x, ids=np.arange(400) + 10)
    path = tmp_path / "pool.faiss"
    index.save(path)

    loaded = VectorIndex.load(path)

    assert (loaded.metric, loaded.kind_, loaded.dim_, loaded.ntotal) == ("cosine", index.kind_, 16, 400)
    if ivf:
        assert (loaded.nlist, loaded.nprobe) == (8, 3)
    for a, b in zip(index.search(x[:10], 4), loaded.search(x[:10], 4), strict=True):
        np.testing.assert_array_equal(a, b)


def test_float64_and_non_contiguous_input_is_converted():
    x = np.asfortranarray(random_vectors(20, 5).astype(np.float64))
    index = VectorIndex(metric="l2").fit(x)
    _, ids = index.search(x[::2], 1)
    np.testing.assert_array_equal(ids[:, 0], np.arange(0, 20, 2))


def test_fit_returns_self_and_stores_parameters_only():
    index = VectorIndex(metric="l2", nprobe=3)
    assert index.get_params()["nprobe"] == 3 and not hasattr(index, "index_")
    assert index.fit(random_vectors(4, 2)) is index


@pytest.mark.parametrize("call", [
    lambda ix: ix.search(np.zeros((1, 2)), 1),
    lambda ix: ix.add(np.zeros((1, 2)), [0]),
    lambda ix: ix.ntotal,
    lambda ix: ix.save("unused.faiss"),
])
def test_unfitted_index_raises(call):
    with pytest.raises(NotFittedError):
        call(VectorIndex())


@pytest.mark.parametrize("vectors,error", [
    (np.zeros(4), ValueError),                      # 1-D
    (np.zeros((2, 2, 2)), ValueError),              # 3-D
    (np.zeros((0, 4)), ValueError),                 # empty
    (np.array([["a", "b"]]), TypeError),            # not numeric
    (np.array([[1.0, np.nan]]), ValueError),        # NaN
    (np.array([[1.0, np.inf]]), ValueError),        # inf
])
def test_bad_vectors_are_rejected(vectors, error):
    with pytest.raises(error):
        VectorIndex(metric="l2").fit(vectors)


def test_bad_calls_are_rejected():
    x = random_vectors(10, 4)
    index = VectorIndex(metric="cosine").fit(x)
    with pytest.raises(ValueError, match="dimension 3"):
        index.search(np.ones((1, 3)), 1)
    with pytest.raises(ValueError, match="larger than"):
        index.search(x[:1], 11)
    with pytest.raises(ValueError, match="already in the index"):
        index.add(x[:1], ids=[3])
    with pytest.raises(ValueError, match="zero rows"):
        index.add(np.zeros((1, 4)), ids=[99])
    with pytest.raises(ValueError, match="metric"):
        VectorIndex(metric="dot").fit(x)
    with pytest.raises(ValueError, match="non-negative"):
        VectorIndex(metric="l2").fit(x, ids=np.arange(10) - 1)
    with pytest.raises(ValueError, match="unique"):
        VectorIndex(metric="l2").fit(x, ids=np.zeros(10, dtype=int))


def test_helpers():
    assert as_float32_matrix([[1, 2]]).dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(l2_normalise(random_vectors(5, 3)), axis=1), 1.0, rtol=1e-6)
    assert suggest_nlist(10) == 1
    assert suggest_nlist(1_000_000) == 4000


def test_docstring_examples():
    failures, attempted = doctest.testmod(index_module)
    assert attempted and not failures
