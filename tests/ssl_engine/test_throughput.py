"""FLOP counting of the throughput bench (ssl_engine.bench.throughput), by hand."""

import numpy as np

from ssl_engine.bench.throughput import batch_flops


def test_flop_count_by_hand():
    # One layer, d=2, f=4, no pooler; two sequences of 3 and 1 real tokens, padded to T=3.
    shape = {"layers": 1, "hidden": 2, "intermediate": 4, "heads": 1, "pooler": 0}
    per_token = 8 * 2 * 2 + 4 * 2 * 4  # QKV + output projection 4 * 2d^2, feed-forward 2 * 2df = 64
    executed, useful = batch_flops(np.array([3, 1]), shape)
    assert executed == 2 * 3 * per_token + 4 * 2 * 3 * 3 * 2  # B T (...) + 4 B L T^2 d = 384 + 144
    assert useful == (3 + 1) * per_token + 4 * 2 * (9 + 1)  # real tokens only = 256 + 80
    with_pooler = batch_flops(np.array([3, 1]), shape | {"pooler": 1})[0]
    assert with_pooler == executed + 2 * (2 * 2 * 2)  # 2 d^2 per sequence
