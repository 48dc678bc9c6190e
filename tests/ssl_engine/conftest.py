"""Fixtures shared by the engine's tests. Opt-in: a test module asks for them."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """A handful of sentences: a second intra-op thread only spins on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
