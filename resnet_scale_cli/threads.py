"""One intra-op thread for small products: a product of a few million multiply-adds gains nothing
from a second CPU thread, and on a busy machine the threads only wait on each other after every
operation (measured: 5 ms instead of 70 µs per layer product in `limit`, 4–5× slower training
steps on two threads than on one while another process held a core)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def one_thread_below(device: Any, work: int, threshold: int) -> Iterator[None]:
    """Run the block on one CPU thread when `work` (multiply-adds per product) is below
    `threshold`; torch's thread count is restored afterwards. Nothing changes on a GPU."""
    import torch

    if device.type != "cpu" or work >= threshold or torch.get_num_threads() == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
