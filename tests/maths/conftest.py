"""Shared settings for the maths tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Tiny tensors gain nothing from threads, and on a busy shared machine threads spin-wait.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
