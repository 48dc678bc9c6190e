"""Self-supervised pretraining: objectives, augmentations, the schedule and the trainer.

One module per piece, each citing its paper:

- ``ntxent``: NT-Xent / InfoNCE on two views (SimCLR; the cross-view form is SimCSE's).
- ``simcse``: unsupervised SimCSE, the same texts encoded twice with dropout on.
- ``mlm``: BERT-style masked-token prediction for the from-scratch text transformer.
- ``augment``: SimCLR image augmentations in plain torch, seeded by a ``torch.Generator``.
- ``schedule``: the cosine learning-rate schedule with linear warm-up.
- ``collapse``: the collapse monitor (std of normalised embeddings, RankMe).
- ``checkpoint``: complete, resumable checkpoints (safetensors + JSON, never pickle).
- ``trainer``: ``PretrainConfig`` and ``pretrain``, which ties them together.

The package is named after the technique (``ssl_engine.ssl``); it never shadows
the standard library's ``ssl`` as long as code imports it by its full name and
no script is run from inside ``ssl_engine/`` (use ``python -m``).
"""
