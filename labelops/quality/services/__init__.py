"""The quality rules: what makes a label final and who may trust it.

- answers.py: the receivers of the queue's signals (a submitted answer, a
  dropped item), which call the rules below in the queue's transaction.
- consensus.py: `on_overlap_reached` (majority vote) and `settle` (the
  quality rules and review triggers); agreement.py: agreement with partial
  credit along the taxonomy, majority vote.
- dawid_skene.py: `recompute_dawid_skene` (a batch refinement) and when it runs.
- gold.py: `check_gold`, an answer on a gold item against the known one.
- review.py: `send_to_review`, `next_review` (leased review tasks), `decide`.
- bulk.py: bulk labels of a cluster or selection, verified on a sample.
- metrics.py: agreement metrics (kappas, alphas, bootstrap intervals) and
  their stored snapshot; dashboard.py: the lead dashboard's figures.

Their tables are the `annotation` app's models (the queue reads and writes
them too). Each service states its locking in its docstring, in the lock
order of `labelops.annotation.services.leases`.
"""
