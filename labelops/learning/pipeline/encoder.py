"""Steps 2 and 3, `pretrain` and `embed`: the round's encoder and the embeddings.

Which encoder a round uses:

- it starts from the encoder of the project's active model (so adaptation
  accumulates round after round), or, before any model, from the base
  encoder: the project's `text_encoder` (the packaged MiniLM by default) for
  text, a small CNN from scratch for images (which therefore needs
  pretraining in its first round);
- `pretrain` adapts it self-supervised on the pool and gold items (never the
  holdout, which stays untouched): SimCSE dropout views for text, SimCLR for
  images, within `pretraining_minutes`, resumably (checkpoints under
  `pretrain/`; a step re-run after a crash continues from the newest one);
- with `fine_tune = "contrastive"` and at least two labelled classes, text
  encoders are then fine-tuned with SupCon on the approved labels. That
  happens here, not in `train`, because the embeddings depend on it;
- the result is saved as `encoder/` (safetensors) only if either ran;
  otherwise the round reuses the encoder it started from, and `embed` finds
  every unchanged item in the embedding cache;
- an adapted encoder is only a candidate: `embed` embeds with it and with
  the encoder it started from, and the adoption guard keeps it only when it
  beats the other on cross-validation over the approved labels by more than
  noise (`ssl_engine.ssl.adoption`); the round's metrics say which and why.

`embed` embeds every item of the snapshot through the project's embedding
cache (content hash, encoder version), so only new items or a new encoder
cost time, and writes `embeddings.npy` aligned with the snapshot's ids; for
text projects it also embeds the taxonomy's label descriptions
(`taxonomy.npz`), which zero-shot proposals score items against.
"""

from __future__ import annotations

import logging

import numpy as np

from labelops.items.files import item_file_path
from labelops.items.models import Item, Split
from labelops.learning import artifacts
from labelops.learning.models import ModelVersion
from labelops.learning.pipeline.snapshot import Snapshot
from labelops.projects.models import Label, Modality

logger = logging.getLogger(__name__)

EMBED_CHUNK = 1024


class EncoderSpec:
    """Where the round's encoder comes from: `kind` is "text" or "image";
    `source` is a model name or a folder relative to ARTIFACT_ROOT."""

    def __init__(self, kind: str, source: str, saved: bool):
        self.kind, self.source, self.saved = kind, source, saved

    def to_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source, "saved": self.saved}

    @classmethod
    def from_dict(cls, data: dict) -> EncoderSpec:
        return cls(data["kind"], data["source"], data["saved"])

    def load(self):
        if self.kind == "text":
            from ssl_engine.encoders.text_pretrained import SentenceEncoder

            return SentenceEncoder(str(artifacts.resolve(self.source)) if self.saved else self.source)
        from ssl_engine.encoders.image_cnn import ImageCNNEncoder

        if not self.saved:
            raise RuntimeError("an image project has no trained encoder yet: run a round with pretraining on")
        return ImageCNNEncoder.load(artifacts.resolve(self.source))


def starting_encoder(ctx) -> EncoderSpec:
    """The active model's encoder when it used the same base, else the base encoder."""
    kind = "image" if ctx.config["modality"] == Modality.IMAGE else "text"
    active = ModelVersion.objects.filter(project=ctx.project, is_active=True).select_related("round").first()
    if active is not None:
        spec = active.round.config.get("encoder")
        same_base = kind == "image" or active.round.config.get("text_encoder") == ctx.config["text_encoder"]
        if spec and same_base and (not spec["saved"] or artifacts.resolve(spec["source"]).exists()):
            return EncoderSpec.from_dict(spec)
    return EncoderSpec(kind, ctx.config["text_encoder"] if kind == "text" else "cnn", saved=False)


def read_inputs(ctx, ids: np.ndarray, kind: str) -> list:
    """Texts, or image file paths, of `ids` in that order."""
    if kind == "text":
        texts = dict(Item.objects.filter(pk__in=ids.tolist()).values_list("id", "text"))
        return [texts[int(i)] for i in ids]
    items = {item.pk: item for item in Item.objects.filter(pk__in=ids.tolist()).only("id", "file")}
    paths = []
    for i in ids:
        path = item_file_path(items[int(i)])
        if path is None:
            raise RuntimeError(f"item {int(i)}: its image file is missing")
        paths.append(str(path))
    return paths


def pretrain(ctx) -> None:
    spec = starting_encoder(ctx)
    snapshot = Snapshot.load(ctx)
    fine_tune = ctx.config["fine_tune"] == "contrastive" and spec.kind == "text" and _n_classes(snapshot) >= 2
    if not ctx.config["pretraining"] and not fine_tune:
        if spec.kind == "image" and not spec.saved:
            raise RuntimeError("an image project's first round needs pretraining (no encoder exists yet)")
        ctx.add_metrics(pretraining={"ran": False})
        _store_spec(ctx, spec)
        return

    if spec.kind == "image" and not spec.saved:
        from ssl_engine.encoders.image_cnn import ImageCNNEncoder

        encoder = ImageCNNEncoder(seed=ctx.config["seed"])
    else:
        encoder = spec.load()
    summary: dict = {"ran": bool(ctx.config["pretraining"]), "started_from": spec.to_dict()}
    if ctx.config["pretraining"]:
        summary.update(_self_supervised(ctx, encoder, spec.kind, snapshot, share=0.8 if fine_tune else 1.0))
    if fine_tune:
        summary["contrastive"] = _contrastive(ctx, encoder, snapshot)
    target = ctx.path("encoder")
    artifacts.replace_directory(target, lambda tmp: encoder.save(tmp))
    ctx.add_artifact("encoder", target)
    ctx.add_metrics(pretraining=summary)
    # The encoder it started from is kept as the alternative the adoption
    # guard (in `embed`) compares against; an image project's first encoder,
    # trained from scratch, has none and is adopted as it is.
    comparable = spec.kind == "text" or spec.saved
    _store_spec(ctx, EncoderSpec(spec.kind, artifacts.relative(target), saved=True),
                before=spec if comparable else None)


def _store_spec(ctx, spec: EncoderSpec, *, before: EncoderSpec | None = None) -> None:
    """Record the round's encoder in its config (what `embed` and the next
    round start from) and, after an adaptation, the encoder it came from."""
    ctx.round.refresh_from_db(fields=["config"])
    config = {key: value for key, value in ctx.round.config.items() if key != "encoder_before"}
    config["encoder"] = spec.to_dict()
    if before is not None:
        config["encoder_before"] = before.to_dict()
    ctx.update_round(config=config)
    ctx.round.config = config


def _self_supervised(ctx, encoder, kind: str, snapshot: Snapshot, share: float) -> dict:
    from ssl_engine.ssl.trainer import PretrainConfig
    from ssl_engine.ssl.trainer import pretrain as run_pretrain

    ids = snapshot.ids[snapshot.splits != Split.HOLDOUT]
    data = read_inputs(ctx, ids, kind)
    if kind == "image":
        from ssl_engine.encoders.image_cnn import images_to_tensor

        data = images_to_tensor(data, encoder.config.image_size)
        objective, batch_size, lr = "simclr", 256, 1e-3
    else:
        objective, batch_size, lr = "simcse", 64, 3e-5
    config = PretrainConfig(
        objective=objective, epochs=ctx.config["pretraining_epochs"] or 1,
        batch_size=max(2, min(batch_size, len(ids))), lr=lr, warmup_steps=10, seed=ctx.config["seed"],
        max_minutes=ctx.config["pretraining_minutes"], checkpoint_dir=str(ctx.path("pretrain")),
        checkpoint_every_steps=50, monitor_size=min(256, len(ids)),
    )
    result = run_pretrain(encoder, data, config,
                          on_progress=lambda step, total, loss: ctx.report(share * step / max(total, 1),
                                                                           f"pretraining step {step}/{total}"))
    last = result.history[-1] if result.history else {}
    return {"objective": objective, "items": len(ids), "steps": result.steps, "total_steps": result.total_steps,
            "stopped_reason": result.stopped_reason, "seconds": round(result.elapsed_seconds, 1),
            "collapsed": result.collapsed, "rankme": last.get("rankme")}


def _contrastive(ctx, encoder, snapshot: Snapshot) -> dict:
    from ssl_engine.finetune.contrastive import ContrastiveConfig, ContrastiveFineTuner

    ids = np.asarray(sorted(snapshot.train_labels), dtype=np.int64)
    texts = read_inputs(ctx, ids, "text")
    labels = [snapshot.train_labels[int(i)][0] for i in ids]
    tuner = ContrastiveFineTuner(encoder, ContrastiveConfig(epochs=1, max_minutes=ctx.config["pretraining_minutes"],
                                                            seed=ctx.config["seed"]), copy=False)
    tuner.fit(texts, labels)
    ctx.report(1.0, "contrastive fine-tuning done")
    return {"steps": tuner.n_steps_, "stopped_reason": tuner.stopped_reason_,
            "seconds": round(tuner.elapsed_seconds_, 1)}


def _n_classes(snapshot: Snapshot) -> int:
    return len({labels[0] for labels in snapshot.train_labels.values() if len(labels) == 1})


# The last encoder this process embedded with, kept loaded: a round without
# new pretraining then starts embedding at once instead of loading the model
# again. Only `embed` uses it, and never trains it (pretraining loads its own).
_loaded: dict[tuple, object] = {}


def encoder_for_embedding(spec: EncoderSpec):
    key = (spec.kind, spec.source, spec.saved)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = spec.load()
    return _loaded[key]


def embed(ctx) -> None:
    """Embed the items (and, for text, the taxonomy) with the round's encoder.

    When `pretrain` adapted an encoder, the encoder it started from embeds
    them too (mostly from the cache) and the adoption guard
    (`proposer.compare_encoders`, `ssl_engine.ssl.adoption`) decides which
    one the round keeps: the adapted one only if it beats the other on the
    same cross-validation over the approved labels by more than noise."""
    snapshot = Snapshot.load(ctx)
    spec = EncoderSpec.from_dict(ctx.round.config["encoder"])
    before = ctx.round.config.get("encoder_before")
    share = 0.45 if before else 0.9
    X, taxonomy, figures = embed_with(ctx, spec, snapshot, progress=(0.0, share))
    if before:
        from labelops.learning.pipeline.proposer import compare_encoders

        spec_before = EncoderSpec.from_dict(before)
        X_before, taxonomy_before, figures_before = embed_with(ctx, spec_before, snapshot, progress=(share, 2 * share))
        decision = compare_encoders(ctx, snapshot, before=(X_before, taxonomy_before), after=(X, taxonomy))
        ctx.add_metrics(adaptation={**decision.to_dict(), "adapted_encoder": spec.to_dict(),
                                    "starting_encoder": spec_before.to_dict()})
        if not decision.adopt:
            X, taxonomy, figures = X_before, taxonomy_before, figures_before
            _store_spec(ctx, spec_before)
    path = artifacts.save_array(ctx.path("embeddings.npy"), X)
    ctx.add_artifact("embeddings", path)
    if taxonomy is not None:
        from labelops.learning.pipeline.proposer import TAXONOMY

        path = artifacts.save_arrays(ctx.path(TAXONOMY), embeddings=taxonomy[0], classes=taxonomy[1])
        ctx.add_artifact("taxonomy", path)
    ctx.add_metrics(embedding=figures)


def embed_with(ctx, spec: EncoderSpec, snapshot: Snapshot, *, progress: tuple[float, float]):
    """(embeddings (N, d) of every snapshot item, the taxonomy's (embeddings,
    classes) or None, figures for the metrics) under `spec`, through the
    project's embedding cache (content hash, encoder version)."""
    from ssl_engine.encoders.cache import EmbeddingCache, embed_with_cache

    encoder = encoder_for_embedding(spec)
    cache = EmbeddingCache(artifacts.embedding_cache_dir(ctx.project.pk))
    n = len(snapshot.ids)
    out = np.empty((n, encoder.dim), dtype=np.float32)
    cached_before = cache.count(encoder.version)
    low, high = progress
    for start in range(0, n, EMBED_CHUNK):
        ids = snapshot.ids[start:start + EMBED_CHUNK]
        inputs = read_inputs(ctx, ids, spec.kind)
        out[start:start + len(ids)] = embed_with_cache(encoder, inputs, snapshot.hashes[start:start + len(ids)], cache)
        ctx.report(low + (high - low) * (start + len(ids)) / max(n, 1), f"embedded {start + len(ids)}/{n}")
    taxonomy = embed_taxonomy(ctx, encoder) if spec.kind == "text" else None
    figures = {"encoder_version": encoder.version, "dim": int(encoder.dim), "items": n,
               "newly_embedded": max(0, cache.count(encoder.version) - cached_before),
               "taxonomy_texts": 0 if taxonomy is None else len(taxonomy[1])}
    return out, taxonomy, figures


def embed_taxonomy(ctx, encoder) -> tuple[np.ndarray, np.ndarray] | None:
    """The round's taxonomy (each label's name, path, guideline and examples:
    `ssl_engine.proposals.zero_shot.taxonomy_texts`) embedded by the same
    encoder as the items: (embeddings (M, d), the label key of each row), or
    None for a version without labels. What zero-shot proposals score items
    against. A few hundred short texts: not cached, embedded again each round."""
    from ssl_engine.proposals.zero_shot import taxonomy_texts

    labels = [label.to_dict() for label in
              Label.objects.filter(version=ctx.round.taxonomy_version).select_related("parent")]
    if not labels:
        return None
    texts, classes = taxonomy_texts(labels)
    return np.asarray(encoder.embed(texts), dtype=np.float32), np.asarray(classes, dtype=str)


def load_embeddings(ctx) -> np.ndarray:
    return artifacts.load_array(ctx.path("embeddings.npy"))
