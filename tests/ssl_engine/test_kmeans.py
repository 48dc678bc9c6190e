"""kmeans and the n_clusters heuristic."""

import faiss
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from ssl_engine.index import kmeans, suggest_n_clusters

# Arrays here are tiny: OpenMP start-up and spin-waiting on a busy 2-core
# machine cost far more than a second thread saves.
faiss.omp_set_num_threads(1)


def blobs(n_per_blob, centres, spread, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.asarray(centres, dtype=np.float64)
    x = np.repeat(centres, n_per_blob, axis=0) + spread * rng.normal(size=(n_per_blob * len(centres), centres.shape[1]))
    truth = np.repeat(np.arange(len(centres)), n_per_blob)
    return x.astype(np.float32), truth


@pytest.mark.parametrize("n,d,k", [(10, 2, 1), (60, 5, 3), (200, 32, 7)])
@pytest.mark.parametrize("spherical", [True, False])
def test_shapes_and_types(n, d, k, spherical):
    x = np.random.default_rng(0).normal(size=(n, d))
    centroids, assignments, inertia = kmeans(x, k, random_state=0, spherical=spherical)
    assert centroids.shape == (k, d) and centroids.dtype == np.float32
    assert assignments.shape == (n,) and assignments.dtype == np.int64
    assert assignments.min() >= 0 and assignments.max() < k
    assert isinstance(inertia, float) and inertia >= 0


def test_recovers_well_separated_blobs():
    x, truth = blobs(30, [[0, 0], [10, 0], [0, 10]], spread=0.5)
    _, assignments, _ = kmeans(x, 3, random_state=0, spherical=False)
    assert adjusted_rand_score(truth, assignments) == 1.0


def test_spherical_clusters_by_direction_and_keeps_unit_centroids():
    # Same directions at very different lengths: cosine k-means ignores length.
    x, truth = blobs(20, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], spread=0.05)
    x *= np.random.default_rng(1).uniform(0.1, 100, size=(x.shape[0], 1)).astype(np.float32)
    centroids, assignments, _ = kmeans(x, 3, random_state=0, spherical=True)
    assert adjusted_rand_score(truth, assignments) == 1.0
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("spherical", [True, False])
def test_inertia_is_the_sum_of_squared_distances(spherical):
    x = np.random.default_rng(2).normal(size=(50, 4)).astype(np.float32)
    centroids, assignments, inertia = kmeans(x, 4, random_state=0, spherical=spherical)
    points = x / np.linalg.norm(x, axis=1, keepdims=True) if spherical else x
    np.testing.assert_allclose(inertia, ((points - centroids[assignments]) ** 2).sum(), rtol=1e-4)


def test_same_random_state_gives_the_same_clusters():
    x = np.random.default_rng(3).normal(size=(300, 8))
    first = kmeans(x, 6, random_state=42)
    second = kmeans(x, 6, random_state=42)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_n_clusters_none_uses_the_heuristic():
    x = np.random.default_rng(4).normal(size=(200, 3))
    centroids, _, _ = kmeans(x, None, random_state=0)
    assert centroids.shape[0] == suggest_n_clusters(200) == 10


@pytest.mark.parametrize("n,expected", [(1, 1), (2, 1), (100, 7), (100_000, 224)])
def test_suggest_n_clusters(n, expected):
    assert suggest_n_clusters(n) == expected


def test_bad_input_is_rejected():
    x = np.random.default_rng(5).normal(size=(5, 2))
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(x, 6, random_state=0)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(x, 0, random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        kmeans(np.array([[np.nan, 1.0], [1.0, 1.0]]), 1, random_state=0)
    with pytest.raises(ValueError, match="zero rows"):
        kmeans(np.zeros((3, 2)), 1, random_state=0, spherical=True)
    with pytest.raises(ValueError):
        suggest_n_clusters(0)
