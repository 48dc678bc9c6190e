"""Saving and loading a fitted ``CalibratedHead`` without pickle.

A round's classifier head is an artifact on disk that a later process loads
(to propose, or to serve). Pickle would run arbitrary code from that file, so
the head is stored as plain arrays in safetensors plus a JSON header:

- ``coef/<j>`` (C, d) or (1, d) and ``intercept/<j>`` for each fitted
  ``LogisticRegression`` (one for a single-label head, one per label for a
  multi-label head; a label with no model has no entry);
- the header: classes, temperature, ``multilabel``, which labels are
  modelled, the constant logits of the others, the solver's iteration count
  and the head's parameters.

Loading rebuilds ``LogisticRegression`` objects from those arrays; the
rebuilt head gives the same ``predict_proba`` as the saved one (tested).

Example::

    >>> from ssl_engine.proposals.head_io import load_head, save_head
    >>> # save_head(head, "artifacts/7/3/head.safetensors")
    >>> # probs = load_head("artifacts/7/3/head.safetensors").predict_proba(X)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ssl_engine.files import atomic_write_path
from ssl_engine.proposals.head import CalibratedHead

FORMAT = "labelops-calibrated-head/1"
# Head parameters kept in the header so the loaded head reports the same get_params().
_PARAMS = ("C", "class_weight", "multilabel", "calibration", "cv", "max_iter", "tol", "random_state")


def save_head(head: CalibratedHead, path: str | os.PathLike) -> Path:
    """Write a fitted head to ``path`` (a safetensors file), atomically."""
    check_is_fitted(head)
    classes = head.classes_.tolist()
    if not all(isinstance(c, str) for c in classes):
        # Label keys are strings in LabelOps; numbers would come back as strings.
        raise ValueError("save_head stores string class labels only")
    tensors: dict[str, np.ndarray] = {}
    modelled = []
    for j, model in enumerate(head.estimators_):
        modelled.append(model is not None)
        if model is not None:
            tensors[f"coef/{j}"] = np.ascontiguousarray(model.coef_)  # keep the fitted dtype: float32 X gives float32 coef
            tensors[f"intercept/{j}"] = np.ascontiguousarray(model.intercept_)
            tensors[f"model_classes/{j}"] = np.asarray(model.classes_, dtype=np.int64)
    if head.multilabel:
        tensors["constant_logits"] = np.asarray(head.constant_logits_, dtype=np.float64)
    header = {
        "format": FORMAT,
        "classes": classes,
        "temperature": float(head.temperature_),
        "calibrated": bool(head.calibrated_),
        "n_calibration": int(head.n_calibration_),
        "n_features_in": int(head.n_features_in_),
        "n_iter": int(head.n_iter_),
        "modelled": modelled,
        "params": _json_params(head),
    }
    path = Path(path)
    with atomic_write_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"header": json.dumps(header)})
    return path


def _json_params(head: CalibratedHead) -> dict:
    params = {name: getattr(head, name) for name in _PARAMS}
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None  # a RandomState object has no JSON form; only refitting would use it
    json.dumps(params)  # a class_weight that is not JSON fails here, before anything is written
    return params


def load_head(path: str | os.PathLike) -> CalibratedHead:
    """The head saved at ``path``; raises ``ValueError`` naming what is wrong
    when the file is not a saved head."""
    from safetensors import safe_open

    path = Path(path)
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata() or {}
    try:
        header = json.loads(metadata["header"])
    except (KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a saved classifier head (no header)") from error
    if header.get("format") != FORMAT:
        raise ValueError(f"{path} has format {header.get('format')!r}, expected {FORMAT!r}")
    tensors = load_file(str(path))
    head = CalibratedHead(**header["params"])
    estimators: list[LogisticRegression | None] = []
    for j, is_modelled in enumerate(header["modelled"]):
        if not is_modelled:
            estimators.append(None)
            continue
        model = LogisticRegression(C=head.C, max_iter=head.max_iter, tol=head.tol)
        model.coef_ = tensors[f"coef/{j}"]
        model.intercept_ = tensors[f"intercept/{j}"]
        model.classes_ = tensors[f"model_classes/{j}"]
        model.n_features_in_ = model.coef_.shape[1]
        estimators.append(model)
    head.estimators_ = estimators
    head.classes_ = np.asarray(header["classes"])  # same dtype as np.unique gave at fit
    head.temperature_ = header["temperature"]
    head.calibrated_ = header["calibrated"]
    head.n_calibration_ = header["n_calibration"]
    head.n_features_in_ = header["n_features_in"]
    head.n_iter_ = header.get("n_iter", 0)  # 0: saved before the header recorded it
    if head.multilabel:
        head.constant_logits_ = tensors["constant_logits"]
    return head
