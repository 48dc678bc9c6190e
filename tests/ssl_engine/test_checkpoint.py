"""Checkpoints: safetensors + JSON round trips, atomicity, pruning, digests."""

import json

import pytest
import torch

from ssl_engine.ssl.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    state_dict_digest,
)

torch.set_num_threads(1)


def trained_pair(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).square().mean().backward()
        optimizer.step()
    return model, optimizer


def test_round_trip_restores_model_optimizer_rng_and_state(tmp_path):
    model, optimizer = trained_pair()
    generator = torch.Generator().manual_seed(5)
    path = save_checkpoint(tmp_path, 7, model_state=model.state_dict(), optimizer_state=optimizer.state_dict(),
                           rng_states={"torch": torch.get_rng_state(), "generator": generator.get_state()},
                           state={"history": [{"loss": 1.5}], "pair": (1, 2)})
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "state.json", "training.safetensors"]
    ckpt = load_checkpoint(path)
    assert ckpt.step == 7 and ckpt.state == {"history": [{"loss": 1.5}], "pair": (1, 2)}
    for name, tensor in model.state_dict().items():
        assert torch.equal(ckpt.model_state[name], tensor)
    fresh, fresh_optimizer = trained_pair(seed=1)
    fresh.load_state_dict(ckpt.model_state)
    fresh_optimizer.load_state_dict(ckpt.optimizer_state)
    assert fresh_optimizer.param_groups[0]["betas"] == (0.8, 0.95)
    restored, original = fresh_optimizer.state_dict(), optimizer.state_dict()
    for pid, entries in original["state"].items():
        for name, value in entries.items():
            assert torch.equal(restored["state"][pid][name], value)
    assert torch.equal(ckpt.rng_states["generator"], generator.get_state())


def test_latest_ignores_half_written_and_keep_prunes(tmp_path):
    model, optimizer = trained_pair()
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model_state=model.state_dict(), optimizer_state=optimizer.state_dict(),
                        rng_states={}, keep=2)
    (tmp_path / "step-000000009").mkdir()  # a crash before state.json was written
    (tmp_path / ".step-000000010.tmp").mkdir()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000000002", "step-000000003"]
    assert latest_checkpoint(tmp_path).name == "step-000000003"
    assert latest_checkpoint(tmp_path / "missing") is None


def test_shared_tensors_are_stored_as_copies(tmp_path):
    model = torch.nn.Linear(2, 2, bias=False)
    state = {"a": model.weight, "b": model.weight}  # tied weights share storage
    path = save_checkpoint(tmp_path, 0, model_state=state, optimizer_state={"state": {}, "param_groups": []},
                           rng_states={})
    loaded = load_checkpoint(path).model_state
    assert torch.equal(loaded["a"], loaded["b"])


def test_rejects_non_tensor_state_and_unknown_format(tmp_path):
    with pytest.raises(TypeError, match="not a tensor"):
        save_checkpoint(tmp_path, 0, model_state={"x": 3}, optimizer_state={"state": {}, "param_groups": []},
                        rng_states={})
    assert list_checkpoints(tmp_path) == []  # nothing half-written left behind
    path = save_checkpoint(tmp_path, 1, model_state={}, optimizer_state={"state": {}, "param_groups": []},
                           rng_states={})
    payload = json.loads((path / "state.json").read_text())
    (path / "state.json").write_text(json.dumps({**payload, "format": 99}))
    with pytest.raises(ValueError, match="format"):
        load_checkpoint(path)


def test_digest_follows_every_bit():
    model, _ = trained_pair()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    digest = state_dict_digest(state)
    assert digest == state_dict_digest({k: v.clone() for k, v in state.items()})
    assert digest != state_dict_digest(state, "another config")
    state["0.weight"][0, 0] = torch.nextafter(state["0.weight"][0, 0], torch.tensor(1e9))
    assert digest != state_dict_digest(state)
