"""One thread where more would cost or change numbers.

`one_thread_below`: one intra-op thread for small products. A product of a few million
multiply-adds gains nothing from a second CPU thread, and on a busy machine the threads only
wait on each other after every operation (measured: 5 ms instead of 70 µs per layer product in
`limit`, 4–5× slower training steps on two threads than on one while another process held a
core). `one_blas_thread`: numpy's and scipy's LAPACK on one thread. OpenBLAS's blocked Cholesky
rounds differently with different thread counts, and a seeded draw of the RBF law must give
the same numbers on every machine."""

from __future__ import annotations

import functools
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


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block's numpy/scipy BLAS and LAPACK calls on one thread (threadpoolctl, which ships
    with scikit-learn): the same factor bit for bit whatever the machine's core count."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    """One threadpoolctl controller (finding the BLAS libraries is the slow part), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()
