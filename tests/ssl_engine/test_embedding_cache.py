"""EmbeddingCache: only missing items are embedded, and a partial write is never visible."""

import hashlib
import os
import re
import zlib

import numpy as np
import pytest

from ssl_engine.encoders import cache as cache_module
from ssl_engine.encoders.base import Encoder, l2_normalise
from ssl_engine.encoders.cache import EmbeddingCache, embed_with_cache


class HashingBagOfWords:
    """A real, tiny encoder: words hashed into ``dim`` signed buckets (the
    hashing trick), L2-normalised. Counts the items it is asked to embed."""

    def __init__(self, dim: int = 16, salt: str = ""):
        self.dim = dim
        self.salt = salt
        self.version = f"hashing-bow-{dim}{'-' + salt if salt else ''}"
        self.calls: list[int] = []

    def embed(self, batch):
        self.calls.append(len(batch))
        out = np.zeros((len(batch), self.dim), dtype=np.float32)
        for row, text in enumerate(batch):
            for word in re.findall(r"\w+", text.lower()) or ["<empty>"]:
                h = zlib.crc32((self.salt + word).encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        out[np.abs(out).sum(axis=1) == 0, 0] = 1.0  # never a zero row
        return l2_normalise(out)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


TEXTS = ["card arrived late", "refund my purchase", "atm ate my card", "change my pin", "top up failed"]


def test_fake_encoder_follows_the_protocol():
    assert isinstance(HashingBagOfWords(), Encoder)


def test_only_missing_items_are_embedded(tmp_path):
    encoder, cache = HashingBagOfWords(), EmbeddingCache(tmp_path)
    first = embed_with_cache(encoder, TEXTS[:3], [content_hash(t) for t in TEXTS[:3]], cache)
    assert encoder.calls == [3]
    # A later round: two new items among the old ones, one of them twice.
    texts = TEXTS + [TEXTS[4]]
    second = embed_with_cache(encoder, texts, [content_hash(t) for t in texts], cache)
    assert encoder.calls == [3, 2]  # the duplicate is embedded once
    np.testing.assert_array_equal(second[:3], first)
    np.testing.assert_array_equal(second, HashingBagOfWords().embed(texts))
    assert cache.count(encoder.version) == 5
    # Everything cached: no encoder call at all.
    third = embed_with_cache(encoder, texts, [content_hash(t) for t in texts], cache)
    assert encoder.calls == [3, 2]
    np.testing.assert_array_equal(third, second)


def test_a_new_encoder_version_embeds_everything_again(tmp_path):
    cache = EmbeddingCache(tmp_path)
    hashes = [content_hash(t) for t in TEXTS]
    embed_with_cache(HashingBagOfWords(), TEXTS, hashes, cache)
    retrained = HashingBagOfWords(salt="round-2")
    x = embed_with_cache(retrained, TEXTS, hashes, cache)
    assert retrained.calls == [5]
    np.testing.assert_array_equal(x, HashingBagOfWords(salt="round-2").embed(TEXTS))


def test_misses_are_embedded_and_stored_in_chunks(tmp_path):
    encoder, cache = HashingBagOfWords(), EmbeddingCache(tmp_path)
    texts = [f"ticket number {i}" for i in range(10)]
    embed_with_cache(encoder, texts, [content_hash(t) for t in texts], cache, chunk_size=4)
    assert encoder.calls == [4, 4, 2]
    assert cache.count(encoder.version) == 10


def test_get_many_returns_found_rows_in_input_order(tmp_path):
    cache = EmbeddingCache(tmp_path)
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert cache.put_many(["a", "b", "c"], vectors, version="v1") == 3
    assert cache.put_many(["c", "d"], vectors[:2] + 100, version="v1") == 1  # "c" keeps its first vector
    found_vectors, found = cache.get_many(["d", "x", "a", "c", "a"], version="v1")
    assert found.tolist() == [True, False, True, True, True]
    np.testing.assert_array_equal(found_vectors, np.stack([vectors[1] + 100, vectors[0], vectors[2], vectors[0]]))
    assert found_vectors.dtype == np.float32
    empty, none_found = cache.get_many(["a"], version="never-stored")
    assert empty.shape == (0, 0) and not none_found.any()


def test_versions_with_odd_characters_are_kept_apart(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many(["a"], np.ones((1, 2)), version="org/model@abc")
    cache.put_many(["a"], np.zeros((1, 2)), version="org_model@abc")
    assert cache.get_many(["a"], version="org/model@abc")[0].tolist() == [[1.0, 1.0]]
    assert cache.get_many(["a"], version="org_model@abc")[0].tolist() == [[0.0, 0.0]]


def test_rejects_bad_input(tmp_path):
    cache = EmbeddingCache(tmp_path)
    with pytest.raises(ValueError, match="shape"):
        cache.put_many(["a", "b"], np.ones((3, 2)), version="v")
    with pytest.raises(ValueError, match="NaN"):
        cache.put_many(["a"], np.array([[np.nan, 1.0]]), version="v")
    with pytest.raises(TypeError, match="hashes"):
        cache.put_many([b"a"], np.ones((1, 2)), version="v")
    cache.put_many(["a"], np.ones((1, 2)), version="v")
    with pytest.raises(ValueError, match="2-d"):
        cache.put_many(["b"], np.ones((1, 3)), version="v")
    with pytest.raises(ValueError, match="items but"):
        embed_with_cache(HashingBagOfWords(), ["x"], ["h1", "h2"], cache)


def test_crash_while_writing_the_shard_leaves_nothing_visible(tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path)
    cache.put_many(["old"], np.ones((1, 4)), version="v")

    def crash_mid_write(file, array, allow_pickle):
        file.write(b"\x93NUMPY half a header")  # a torn write, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module.np, "save", crash_mid_write)
    with pytest.raises(KeyboardInterrupt):
        cache.put_many(["new"], np.zeros((1, 4)), version="v")
    monkeypatch.undo()

    vectors, found = cache.get_many(["old", "new"], version="v")
    assert found.tolist() == [True, False] and vectors.tolist() == [[1.0] * 4]
    shards = os.listdir(next(tmp_path.iterdir()) / "shards")
    assert len(shards) == 1 and not any(name.endswith(".tmp") for name in shards)


def test_crash_between_shard_and_index_leaves_nothing_visible(tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path)
    real_transaction = cache_module._transaction
    transactions = []

    def dying_transaction(db):
        transactions.append(db)
        if len(transactions) == 1:  # put_many's first transaction creates the schema
            return real_transaction(db)
        db.execute("BEGIN IMMEDIATE")
        raise SystemExit("killed before COMMIT")  # the second one enters the rows

    monkeypatch.setattr(cache_module, "_transaction", dying_transaction)
    with pytest.raises(SystemExit):
        cache.put_many(["a", "b"], np.ones((2, 4)), version="v")
    monkeypatch.setattr(cache_module, "_transaction", real_transaction)

    # The renamed shard exists, but no index row points at it.
    assert len(os.listdir(next(tmp_path.iterdir()) / "shards")) == 1
    assert cache.count("v") == 0
    _, found = cache.get_many(["a", "b"], version="v")
    assert not found.any()
    # The cache is still usable: the same put succeeds afterwards.
    assert cache.put_many(["a", "b"], np.full((2, 4), 2.0), version="v") == 2
    assert cache.get_many(["a"], version="v")[0].tolist() == [[2.0] * 4]


def test_shards_are_plain_float32_npy_loaded_without_pickle(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many(["a", "b"], np.eye(2, 3), version="v")
    (shard,) = (next(tmp_path.iterdir()) / "shards").iterdir()
    data = np.load(shard, allow_pickle=False)
    assert data.dtype == np.float32 and data.shape == (2, 3)
