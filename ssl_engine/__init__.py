"""ssl_engine: the pure-Python ML engine of LabelOps (no Django imports).

Data hygiene, encoders, self-supervised objectives, FAISS indexes and
clustering, label proposals, active-learning strategies, fine-tuning and
evaluation. Importing the package is cheap: heavy dependencies (torch, faiss)
are imported by the submodules that need them.
"""

__version__ = "0.1.0"
