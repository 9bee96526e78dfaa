"""Empirical checks of a weight law across depth: autocovariance per lag and a Hurst estimate.

Entry paths have known mean 0 and unit variance, so autocovariances use the known mean:
γ̂(k) = mean over paths p and t of x_{p,t} x_{p,t+k} (subtracting the sample mean would bias
long-memory laws by about L^{2H−2}).
"""

from __future__ import annotations

import numpy as np


def autocovariance(paths: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """γ̂(k) for k = 0..max_lag over paths (N, L), with its standard error across paths."""
    n_paths, depth = paths.shape
    max_lag = min(max_lag, depth - 1)
    per_path = np.stack([(paths[:, : depth - k] * paths[:, k:]).mean(axis=1) for k in range(max_lag + 1)], axis=1)
    return per_path.mean(axis=0), per_path.std(axis=0, ddof=1) / np.sqrt(n_paths) if n_paths > 1 else np.zeros(max_lag + 1)


def hurst_estimate(paths: np.ndarray) -> float:
    """H from E S_n² = n^{2H} (partial sums over non-overlapping blocks of n = 1, 2, 4, … ≤ L/8).

    Exact for unit-variance fGn in expectation; i.i.d. paths give ≈ 1/2, smooth paths ≈ 1.
    """
    depth = paths.shape[1]
    sizes = [2**j for j in range(int(np.log2(max(depth // 8, 1))) + 1)]
    if len(sizes) < 2:
        sizes = [1, max(depth // 2, 2)]
    second_moments = []
    for n in sizes:
        blocks = depth // n
        sums = paths[:, : blocks * n].reshape(paths.shape[0], blocks, n).sum(axis=2)
        second_moments.append(np.mean(sums**2))
    slope = np.polyfit(np.log(sizes), np.log(second_moments), 1)[0]
    return float(slope / 2.0)
