"""Complete, resumable training checkpoints: safetensors for tensors, JSON for the rest.

Never pickle: a checkpoint is data, and loading one must not run code. After
nanoGPT's ``train.py`` and DINO's ``utils.restart_from_checkpoint``, a
checkpoint holds everything a run needs to continue exactly where it stopped:

    <checkpoint_dir>/step-000001200/
        model.safetensors      the encoder's state_dict (weights and buffers)
        training.safetensors   optimizer tensors ("optim.<param>.<name>") and RNG states ("rng.<name>")
        state.json             step, config, optimizer hyper-parameters, history, anything JSON

A checkpoint is written to a temporary directory and renamed into place, so a
crash while saving leaves the previous checkpoint as the latest one.

Example::

    >>> # path = save_checkpoint(d, 100, model_state=m.state_dict(), optimizer_state=opt.state_dict(),
    >>> #                        rng_states={"torch": torch.get_rng_state()}, state={"config": {...}})
    >>> # ckpt = load_checkpoint(latest_checkpoint(d)); m.load_state_dict(ckpt.model_state)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ssl_engine.files import atomic_directory

FORMAT_VERSION = 1
_STEP_DIR = re.compile(r"^step-(\d{9})$")


@dataclass
class Checkpoint:
    """A checkpoint read back from disk."""

    path: Path
    step: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    rng_states: dict[str, torch.Tensor]
    state: dict[str, Any] = field(default_factory=dict)


def tensors_for_safetensors(tensors: dict[str, Any], *, what: str = "state_dict") -> dict[str, torch.Tensor]:
    """Detached, contiguous, unshared CPU copies (safetensors refuses shared storage)."""
    out = {}
    for name, value in tensors.items():
        if not torch.is_tensor(value):
            raise TypeError(f"{what} entry {name!r} is a {type(value).__name__}, not a tensor; "
                            "it cannot be stored without pickle")
        out[name] = value.detach().to("cpu").clone().contiguous()
    return out


def state_dict_digest(state_dict: dict[str, torch.Tensor], *extra: str) -> str:
    """Hex SHA-256 over the names, dtypes, shapes and bytes of a state_dict, plus ``extra`` strings.

    Two encoders share a digest only if every weight is bit-identical: this is
    what an encoder's ``version`` (and so the embedding cache key) is built on.
    """
    h = hashlib.sha256()
    for text in extra:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())  # raw bytes
    return h.hexdigest()


def _to_json(value: Any) -> Any:
    """JSON-able copy that keeps tuples distinguishable from lists."""
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint's JSON: {value!r}")


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _split_optimizer_state(optimizer_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """torch optimizer state_dict -> (tensors for safetensors, the rest for JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, entries in optimizer_state["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optim.{param_id}.{name}"] = value
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    return tensors, {"param_groups": optimizer_state["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, param_id, name = key.split(".", 2)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in meta["scalars"].items():
        state.setdefault(int(param_id), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(directory: str | os.PathLike, step: int, *, model_state: dict[str, torch.Tensor],
                    optimizer_state: dict[str, Any], rng_states: dict[str, torch.Tensor],
                    state: dict[str, Any] | None = None, keep: int | None = None) -> Path:
    """Write ``<directory>/step-<step>/`` atomically and return its path.

    ``keep`` (if given) deletes all but the newest ``keep`` checkpoints afterwards.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step:09d}"
    optim_tensors, optim_meta = _split_optimizer_state(optimizer_state)
    training = {**{k: v for k, v in optim_tensors.items()}, **{f"rng.{k}": v for k, v in rng_states.items()}}
    payload = {"format": FORMAT_VERSION, "step": step, "optimizer": optim_meta, "state": state or {}}

    with atomic_directory(final) as tmp:
        tmp.mkdir(mode=0o700)  # private, as tempfile.mkdtemp made it before
        save_file(tensors_for_safetensors(model_state), str(tmp / "model.safetensors"))
        save_file(tensors_for_safetensors(training, what="optimizer state"), str(tmp / "training.safetensors"))
        (tmp / "state.json").write_text(json.dumps(_to_json(payload), indent=1, allow_nan=False))
    if keep is not None:
        for old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest first (half-written ones are ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir()
             if (m := _STEP_DIR.match(p.name)) and (p / "state.json").is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint in ``directory``, or ``None``."""
    checkpoints = list_checkpoints(directory)
    return checkpoints[-1] if checkpoints else None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint`` (no pickle involved)."""
    path = Path(path)
    payload = _from_json(json.loads((path / "state.json").read_text()))
    if payload.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format {payload.get('format')!r}, expected {FORMAT_VERSION}")
    training = load_file(str(path / "training.safetensors"))
    optim_tensors = {k: v for k, v in training.items() if k.startswith("optim.")}
    rng_states = {k[len("rng."):]: v for k, v in training.items() if k.startswith("rng.")}
    return Checkpoint(path=path, step=int(payload["step"]), model_state=load_file(str(path / "model.safetensors")),
                      optimizer_state=_join_optimizer_state(optim_tensors, payload["optimizer"]),
                      rng_states=rng_states, state=payload["state"])
