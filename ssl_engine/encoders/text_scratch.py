"""A small transformer text encoder trained from scratch on the project's own corpus.

Vaswani et al., "Attention Is All You Need" (NeurIPS 2017) for the encoder
blocks, written nanoGPT-style (pre-LayerNorm, GELU MLP) but bidirectional:
attention masks padding only. Sentence vectors are the mean of the final
token states over the real (non-padding) tokens, as Sentence-BERT (Reimers &
Gurevych, EMNLP 2019). A BERT-style MLM head (dense, GELU, LayerNorm,
decoder) sits beside the pooled output for ``objective="mlm"``; SimCSE uses
the pooled output directly.

Tokenizer: ``WordVocabulary``, a word vocabulary built from the corpus with
hashed buckets for every other word (the hashing trick, Weinberger et al.,
ICML 2009). Text is NFKC-normalised, lowercased and split into words and
single punctuation marks; the ``vocab_size - 3 - hash_buckets`` most frequent
words seen at least ``min_frequency`` times get their own id (ties broken
alphabetically), any other word shares one of ``hash_buckets`` ids chosen by
a BLAKE2 hash. Why not a WordPiece/BPE from the ``tokenizers`` library: its
trainers break ties in a hash-map order that changes from run to run, so the
same corpus gives different vocabularies, and a round must be reproducible.
This one is deterministic, needs no dependency and serialises to JSON.

Interface for the trainer (``ssl_engine.ssl.trainer``): ``encode_tensors(texts,
train)`` -> (B, dim) pooled states (dropout on when ``train``), and the
``MaskedLanguageModel`` protocol of ``ssl_engine.ssl.mlm`` (``tokenize``,
``mlm_logits``, ``mask_token_id``, ``vocab_size``, ``special_token_ids``).
And the ``Encoder`` protocol: ``embed(texts)`` -> (N, dim) float32, unit rows,
under ``torch.inference_mode`` in batches; ``version`` = ``text-scratch-`` +
a digest of config, vocabulary and weights (recomputed on each access).

Example::

    >>> from ssl_engine.encoders.text_scratch import TextTransformerConfig, TextTransformerEncoder
    >>> texts = ["my card was declined", "where is my refund", "card not working"] * 4
    >>> encoder = TextTransformerEncoder.from_corpus(texts, TextTransformerConfig(dim=32, n_heads=2,
    ...                                               vocab_size=64, hash_buckets=8, min_frequency=1))
    >>> encoder.embed(["refund please"]).shape
    (1, 32)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ssl_engine.ssl.checkpoint import state_dict_digest, tensors_for_safetensors

PAD, UNK, MASK = "[PAD]", "[UNK]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, MASK)  # ids 0, 1, 2
_WORD = re.compile(r"\w+|[^\w\s]")


def split_words(text: str) -> list[str]:
    """NFKC, lowercase, then words (runs of letters/digits/_) and single punctuation marks."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


class WordVocabulary:
    """Deterministic word vocabulary with hashed buckets for the rest; see the module docstring.

    Ids: 0 ``[PAD]``, 1 ``[UNK]`` (used only when ``hash_buckets`` is 0),
    2 ``[MASK]``, then the kept words by falling frequency, then the buckets.
    """

    def __init__(self, words: Sequence[str], hash_buckets: int):
        if hash_buckets < 0:
            raise ValueError(f"hash_buckets must be non-negative, got {hash_buckets}")
        self.words = list(words)
        self.hash_buckets = int(hash_buckets)
        self._ids = {w: i + len(SPECIAL_TOKENS) for i, w in enumerate(self.words)}
        if len(self._ids) != len(self.words):
            raise ValueError("duplicate words in the vocabulary")
        self._first_bucket = len(SPECIAL_TOKENS) + len(self.words)

    @classmethod
    def fit(cls, texts: Iterable[str], *, vocab_size: int, hash_buckets: int, min_frequency: int = 2) -> WordVocabulary:
        """Keep the ``vocab_size - 3 - hash_buckets`` most frequent words (ties alphabetical)."""
        room = vocab_size - len(SPECIAL_TOKENS) - hash_buckets
        if room < 0:
            raise ValueError(f"vocab_size {vocab_size} leaves no room for 3 special ids and {hash_buckets} buckets")
        counts = Counter(w for text in texts for w in split_words(text))
        ranked = sorted((w for w, c in counts.items() if c >= min_frequency), key=lambda w: (-counts[w], w))
        return cls(ranked[:room], hash_buckets)

    @property
    def size(self) -> int:
        return self._first_bucket + self.hash_buckets

    def word_id(self, word: str) -> int:
        if word in self._ids:
            return self._ids[word]
        if self.hash_buckets == 0:
            return SPECIAL_TOKENS.index(UNK)
        bucket = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        return self._first_bucket + bucket % self.hash_buckets

    def encode(self, text: str, max_length: int) -> list[int]:
        return [self.word_id(w) for w in split_words(text)[:max_length]]

    def encode_batch(self, texts: Sequence[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) texts -> ids (B, T) int64 padded with 0, and attention mask (B, T) bool.

        ``T`` is the longest text in tokens (at most ``max_length``). An empty
        text becomes the single token ``[UNK]``, so every row has a token to
        attend to and to pool.
        """
        rows = [self.encode(t, max_length) or [SPECIAL_TOKENS.index(UNK)] for t in texts]
        width = max((len(r) for r in rows), default=1)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, :len(r)] = True
        return ids, mask

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "word-vocabulary", "words": self.words, "hash_buckets": self.hash_buckets}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> WordVocabulary:
        if values.get("kind") != "word-vocabulary":
            raise ValueError(f"not a word vocabulary: kind {values.get('kind')!r}")
        return cls(values["words"], values["hash_buckets"])


@dataclass(frozen=True)
class TextTransformerConfig:
    dim: int = 128
    n_layers: int = 2
    n_heads: int = 4
    ffn_mult: int = 4
    max_length: int = 128  # tokens; longer texts are truncated
    dropout: float = 0.1  # on embeddings, attention and residuals; SimCSE's views come from it
    vocab_size: int = 16_000  # words + buckets + 3 special ids, when built with `from_corpus`
    hash_buckets: int = 1_000
    min_frequency: int = 2

    def __post_init__(self):
        if self.dim % self.n_heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of n_heads ({self.n_heads})")
        if min(self.dim, self.n_layers, self.n_heads, self.ffn_mult, self.max_length) < 1:
            raise ValueError(f"sizes must be positive: {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class SelfAttention(nn.Module):
    def __init__(self, config: TextTransformerConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.dim, 3 * config.dim)
        self.proj = nn.Linear(config.dim, config.dim)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # (B, T, d) each
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
        keys = attention_mask[:, None, None, :]  # (B, 1, 1, T): every query may attend to every real token
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keys, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(b, t, d)  # (B, nh, T, hs) -> (B, T, d)
        return self.proj(y)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: TextTransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.dim)
        self.attn = SelfAttention(config)
        self.ln2 = nn.LayerNorm(config.dim)
        self.mlp = nn.Sequential(nn.Linear(config.dim, config.ffn_mult * config.dim), nn.GELU(),
                                 nn.Linear(config.ffn_mult * config.dim, config.dim))
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), attention_mask))  # (B, T, d)
        return x + self.drop(self.mlp(self.ln2(x)))


class MLMHead(nn.Module):
    """BERT's prediction head: dense -> GELU -> LayerNorm -> vocabulary logits."""

    def __init__(self, dim: int, vocab_size: int):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.decoder = nn.Linear(dim, vocab_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(F.gelu(self.dense(h))))  # (B, T, d) -> (B, T, V)


class TextTransformerEncoder(nn.Module):
    """Small transformer + mean pooling over a corpus-built vocabulary; see the module docstring."""

    mask_token_id = SPECIAL_TOKENS.index(MASK)
    pad_token_id = SPECIAL_TOKENS.index(PAD)

    def __init__(self, vocabulary: WordVocabulary, config: TextTransformerConfig | None = None, *, seed: int = 0):
        super().__init__()
        self.vocabulary = vocabulary
        self.config = config or TextTransformerConfig()
        c = self.config
        with torch.random.fork_rng(devices=[]):  # deterministic init without touching the caller's RNG
            torch.manual_seed(seed)
            self.token_embedding = nn.Embedding(vocabulary.size, c.dim, padding_idx=self.pad_token_id)
            self.position_embedding = nn.Embedding(c.max_length, c.dim)
            self.drop = nn.Dropout(c.dropout)
            self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
            self.ln_f = nn.LayerNorm(c.dim)
            self.mlm_head = MLMHead(c.dim, vocabulary.size)
            for module in self.modules():  # GPT-2/BERT initialisation
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
            with torch.no_grad():
                self.token_embedding.weight[self.pad_token_id].zero_()

    @classmethod
    def from_corpus(cls, texts: Sequence[str], config: TextTransformerConfig | None = None, *,
                    seed: int = 0) -> TextTransformerEncoder:
        """Build the vocabulary from ``texts`` and a randomly initialised model on it."""
        config = config or TextTransformerConfig()
        vocabulary = WordVocabulary.fit(texts, vocab_size=config.vocab_size, hash_buckets=config.hash_buckets,
                                        min_frequency=config.min_frequency)
        return cls(vocabulary, config, seed=seed)

    # -- sizes and identity -------------------------------------------------
    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def vocab_size(self) -> int:
        return self.vocabulary.size

    @property
    def special_token_ids(self) -> tuple[int, ...]:
        return tuple(range(len(SPECIAL_TOKENS)))

    @property
    def version(self) -> str:
        """``text-scratch-<16 hex>``: digest of config, vocabulary and every weight."""
        meta = json.dumps({"config": asdict(self.config), "vocabulary": self.vocabulary.to_dict()}, sort_keys=True)
        return f"text-scratch-{state_dict_digest(self.state_dict(), meta)[:16]}"

    # -- forward passes -----------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) texts -> ids (B, T) int64 and attention mask (B, T) bool."""
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        return self.vocabulary.encode_batch(texts, self.config.max_length)

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> final token states (B, T, dim)."""
        t = input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device)
        x = self.drop(self.token_embedding(input_ids) + self.position_embedding(positions))  # (B, T, d)
        for block in self.blocks:
            x = block(x, attention_mask)
        return self.ln_f(x)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the token states over real tokens: (B, T, d) -> (B, d)."""
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    def encode_tensors(self, texts: Sequence[str], train: bool) -> torch.Tensor:
        """(B,) texts -> (B, dim) pooled states, not normalised; dropout on when ``train``."""
        self.train(train)
        ids, mask = self.tokenize(texts)
        return self.pool(self.hidden_states(ids, mask), mask)

    def mlm_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, train: bool = True) -> torch.Tensor:
        """ids (B, T) -> vocabulary logits (B, T, V)."""
        self.train(train)
        return self.mlm_head(self.hidden_states(input_ids, attention_mask))

    def embed(self, batch: Sequence[str], *, batch_size: int = 128, progress: bool = False) -> np.ndarray:
        """(N,) texts -> (N, dim) float32, rows of unit L2 norm, in input order.

        Texts are batched by length (longest first) so each batch pads little.
        """
        texts = list(batch) if not isinstance(batch, str) else None
        if texts is None:
            raise TypeError("pass a sequence of texts, not a single string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        was_training = self.training
        try:
            starts = range(0, len(texts), batch_size)
            if progress:
                from tqdm.auto import tqdm

                starts = tqdm(starts, desc="embed", unit="batch")
            with torch.inference_mode():
                for start in starts:
                    rows = order[start:start + batch_size]
                    pooled = self.encode_tensors([texts[i] for i in rows], train=False)  # (b, dim)
                    out[rows] = F.normalize(pooled, dim=1).numpy()
        finally:
            self.train(was_training)
        return out

    # -- persistence --------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` (config and vocabulary) and ``model.safetensors``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"kind": "text-scratch", "config": asdict(self.config), "vocabulary": self.vocabulary.to_dict()}
        (directory / "config.json").write_text(json.dumps(meta))
        save_file(tensors_for_safetensors(self.state_dict()), str(directory / "model.safetensors"))
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TextTransformerEncoder:
        directory = Path(directory)
        meta = json.loads((directory / "config.json").read_text())
        if meta.get("kind") != "text-scratch":
            raise ValueError(f"{directory} does not hold a text-scratch encoder")
        encoder = cls(WordVocabulary.from_dict(meta["vocabulary"]), TextTransformerConfig(**meta["config"]))
        encoder.load_state_dict(load_file(str(directory / "model.safetensors")))
        encoder.eval()
        return encoder


__all__ = ["TextTransformerConfig", "TextTransformerEncoder", "WordVocabulary", "split_words"]
