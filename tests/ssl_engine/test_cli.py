"""``python -m ssl_engine``: every subcommand on tiny generated data (no real model)."""

import hashlib
import json
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import ssl_engine.__main__ as cli


@pytest.fixture(autouse=True)
def one_blas_thread():
    """lbfgs on tiny matrices: a second BLAS thread on a busy 2-core machine is much slower."""
    with threadpool_limits(limits=1):
        yield


class HashingEncoder:
    """Bag of hashed characters: a deterministic Encoder that needs no model."""

    version = "hashing-16"
    dim = 16

    def __init__(self):
        self.calls = 0

    def embed(self, batch):
        self.calls += 1
        x = np.zeros((len(batch), self.dim), dtype=np.float32)
        for i, text in enumerate(batch):
            for ch in text:
                x[i, int(hashlib.md5(ch.encode()).hexdigest(), 16) % self.dim] += 1
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@pytest.fixture
def encoder(monkeypatch):
    instance = HashingEncoder()
    monkeypatch.setattr(cli, "_text_encoder", lambda model, batch_size=64: instance)
    return instance


def test_embed_writes_vectors_and_hashes_and_uses_the_cache(tmp_path, encoder, capsys):
    src = tmp_path / "items.csv"
    src.write_text("id,text\n1,card declined\n2,where is my refund\n3,card declined\n")
    out = tmp_path / "emb" / "items.npy"
    args = ["embed", str(src), "--out", str(out), "--cache", str(tmp_path / "cache")]
    assert cli.main(args) == 0
    x = np.load(out)
    assert x.shape == (3, 16) and np.allclose(x[0], x[2])
    meta = json.loads(out.with_suffix(".hashes.json").read_text())
    assert meta["hashes"][0] == hashlib.sha256(b"card declined").hexdigest()
    assert meta["encoder_version"] == "hashing-16"
    assert cli.main(args) == 0 and encoder.calls == 1  # second run: all from the cache
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text('{"body": "a"}\n{"body": "b"}\n')
    assert cli.main(["embed", str(jsonl), "--out", str(tmp_path / "j.npy"), "--text-column", "body",
                     "--cache", ""]) == 0
    assert np.load(tmp_path / "j.npy").shape == (2, 16)


def test_cluster_writes_assignments(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(5, 0.1, (20, 4)), rng.normal(-5, 0.1, (20, 4))]).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "clusters.json"
    assert cli.main(["cluster", str(tmp_path / "x.npy"), "--k", "2", "--out", str(out),
                     "--centroids", str(tmp_path / "c.npy")]) == 0
    result = json.loads(out.read_text())
    a = np.array(result["assignments"])
    assert result["n_clusters"] == 2 and sorted(result["sizes"]) == [20, 20]
    assert len(set(a[:20])) == 1 and a[0] != a[-1]
    assert np.load(tmp_path / "c.npy").shape == (2, 4)
    assert cli.main(["cluster", str(tmp_path / "x.npy"), "--k", "99", "--out", str(out)]) == 2


@pytest.mark.parametrize("method", ["head", "knn"])
def test_propose_writes_probabilities(tmp_path, method):
    rng = np.random.default_rng(0)
    centres = np.eye(3, 5) * 4
    y = np.repeat(np.arange(3), 6)
    np.save(tmp_path / "l.npy", centres[y] + rng.normal(0, 0.3, (18, 5)))
    np.save(tmp_path / "p.npy", centres[[0, 1, 2, 2]] + rng.normal(0, 0.3, (4, 5)))
    (tmp_path / "labels.json").write_text(json.dumps([f"k{v}" for v in y]))
    out = tmp_path / "probs.json"
    assert cli.main(["propose", "--labelled", str(tmp_path / "l.npy"), "--labels", str(tmp_path / "labels.json"),
                     "--pool", str(tmp_path / "p.npy"), "--method", method, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["classes"] == ["k0", "k1", "k2"] and result["predicted"] == ["k0", "k1", "k2", "k2"]
    assert np.allclose(np.sum(result["probabilities"], axis=1), 1, atol=1e-4)
    (tmp_path / "short.txt").write_text("k0\nk1\n")
    assert cli.main(["propose", "--labelled", str(tmp_path / "l.npy"), "--labels", str(tmp_path / "short.txt"),
                     "--pool", str(tmp_path / "p.npy"), "--out", str(out)]) == 2


def test_pretrain_without_the_trainer_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ssl_engine.ssl.trainer", None)  # import raises ImportError
    (tmp_path / "t.csv").write_text("text\na\nb\n")
    assert cli.main(["pretrain", "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "enc")]) == 2
    assert "ssl_engine.ssl.trainer" in capsys.readouterr().err


def test_bench_dispatches_to_the_module(monkeypatch):
    seen = {}
    monkeypatch.setattr("ssl_engine.bench.label_efficiency.main", lambda argv: seen.setdefault("argv", argv))
    assert cli.main(["bench", "label-efficiency", "--data", "x", "--seeds", "5"]) == 0
    assert seen["argv"] == ["--data", "x", "--seeds", "5"]
    with pytest.raises(SystemExit):
        cli.main(["bench", "nope"])


def test_missing_input_is_an_error(tmp_path, capsys):
    assert cli.main(["cluster", str(tmp_path / "none.npy"), "--out", str(tmp_path / "o.json")]) == 2
    assert capsys.readouterr().err.startswith("error:")
