"""Where a round's files live, how they are written, and when they go.

Layout under `settings.ARTIFACT_ROOT`::

    <project id>/embedding-cache/           shared by all rounds (content hash, encoder version)
    <project id>/<round number>/snapshot.npz  items and frozen labels
                               pretrain/     resumable pretraining checkpoints
                               encoder/      the round's encoder (sentence-transformers dir, safetensors)
                               embeddings.npy, taxonomy.npz, index.faiss, clusters.npz,
                               model.npz, proposals.npz, ranking.npy,
                               metrics.json, learning_curve.png

Every file is written to a temporary name and renamed into place, so a step
killed half-way leaves either the old file or none, never a torn one; a
re-run of the step simply writes it again. Nothing here is ever unpickled:
arrays load with `allow_pickle=False`, encoders are safetensors.

`TrainingRound.artifacts` maps names to paths relative to ARTIFACT_ROOT, so
the root can move without rewriting rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from django.conf import settings

from ssl_engine.files import atomic_directory, atomic_write


def project_dir(project_id: int) -> Path:
    return Path(settings.ARTIFACT_ROOT) / str(int(project_id))


def round_dir(round) -> Path:
    path = project_dir(round.project_id) / str(int(round.number))
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedding_cache_dir(project_id: int) -> Path:
    return project_dir(project_id) / "embedding-cache"


def relative(path: Path) -> str:
    """`path` relative to ARTIFACT_ROOT, as stored in `TrainingRound.artifacts`."""
    return str(Path(path).resolve().relative_to(Path(settings.ARTIFACT_ROOT).resolve()))


def resolve(relative_path: str) -> Path:
    """The absolute path of a stored artifact; refuses paths that leave ARTIFACT_ROOT."""
    root = Path(settings.ARTIFACT_ROOT).resolve()
    path = (root / relative_path).resolve()
    if root not in path.parents:
        raise ValueError(f"artifact path {relative_path!r} is outside ARTIFACT_ROOT")
    return path


def save_array(path: Path, array: np.ndarray) -> Path:
    with atomic_write(path) as f:
        np.save(f, array, allow_pickle=False)
    return path


def load_array(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def save_arrays(path: Path, **arrays: np.ndarray) -> Path:
    with atomic_write(path) as f:
        np.savez(f, allow_pickle=False, **arrays)  # never an object array: they load without pickle
    return path


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def save_json(path: Path, value) -> Path:
    with atomic_write(path, "w") as f:
        f.write(json.dumps(value, indent=2, sort_keys=True))
    return path


def load_json(path: Path):
    return json.loads(Path(path).read_text())


def replace_directory(target: Path, write) -> Path:
    """Write a directory through `write(tmp_dir)` and swap it in whole."""
    with atomic_directory(target) as tmp:
        write(tmp)
    return target


def remove_round_files(round) -> None:
    shutil.rmtree(project_dir(round.project_id) / str(int(round.number)), ignore_errors=True)
