"""analysis.autocorrelation on small inputs with hand-computed answers: the known-mean
autocovariance per lag with its standard error across paths, the lag range clipped to the depth,
and the Hurst estimate's block sizes (1, 2, 4, … ≤ L/8, or 1 and L/2 for short paths).
The statistical behaviour on fGn paths is in tests/laws/test_laws.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_scale_cli.analysis.autocorrelation import autocovariance, hurst_estimate


def test_autocovariance_of_two_short_paths_by_hand():
    """Paths (1, 2, 3, 4) and (0, 1, −1, 2): per-path means of x_t x_{t+k} are 7.5, 20/3, 11/2, 4
    and 3/2, −1, 1, 0; the estimate is their mean, the s.e. |a − b|/2 (std with ddof 1 over two
    paths, divided by √2). A max_lag past the depth is clipped to L − 1."""
    paths = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, -1.0, 2.0]])
    first, second = np.array([7.5, 20 / 3, 5.5, 4.0]), np.array([1.5, -1.0, 1.0, 0.0])
    emp, se = autocovariance(paths, 2)
    np.testing.assert_allclose(emp, ((first + second) / 2)[:3], rtol=1e-14)
    np.testing.assert_allclose(se, (np.abs(first - second) / 2)[:3], rtol=1e-14)
    emp, se = autocovariance(paths, 10)
    assert emp.shape == se.shape == (4,)
    np.testing.assert_allclose(emp, (first + second) / 2, rtol=1e-14)
    np.testing.assert_allclose(se, np.abs(first - second) / 2, rtol=1e-14)


def test_autocovariance_of_three_paths_uses_the_sample_standard_deviation():
    paths = np.array([[1.0, -1.0, 2.0], [0.5, 0.5, 0.5], [-2.0, 1.0, 0.0]])
    lag0 = np.array([2.0, 0.25, 5 / 3])
    lag1 = np.array([-1.5, 0.25, -1.0])
    emp, se = autocovariance(paths, 1)
    np.testing.assert_allclose(emp, [lag0.mean(), lag1.mean()], rtol=1e-14)
    expected = [math.sqrt(((v - v.mean()) ** 2).sum() / 2) / math.sqrt(3) for v in (lag0, lag1)]
    np.testing.assert_allclose(se, expected, rtol=1e-14)


def test_autocovariance_of_one_path_has_zero_standard_errors():
    emp, se = autocovariance(np.array([[1.0, 2.0, 3.0, 4.0]]), 2)
    np.testing.assert_allclose(emp, [7.5, 20 / 3, 5.5], rtol=1e-14)
    assert se.tolist() == [0.0, 0.0, 0.0]


def _hurst_by_hand(paths: np.ndarray, sizes: list[int]) -> float:
    """Half the least-squares slope of log M(n) on log n, M(n) the mean over paths and whole
    blocks of the squared sum of n consecutive entries (explicit loops)."""
    logs_n, logs_m = [], []
    for n in sizes:
        squares = [paths[p, b * n:(b + 1) * n].sum() ** 2 for p in range(paths.shape[0])
                   for b in range(paths.shape[1] // n)]
        logs_n.append(math.log(n))
        logs_m.append(math.log(sum(squares) / len(squares)))
    x, y = np.array(logs_n), np.array(logs_m)
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum() / 2)


@pytest.mark.parametrize("depth,sizes", [(64, [1, 2, 4, 8]), (70, [1, 2, 4, 8]), (127, [1, 2, 4, 8]),
                                         (128, [1, 2, 4, 8, 16]), (12, [1, 6]), (3, [1, 2])])
def test_hurst_estimate_block_sizes_by_hand(depth, sizes):
    """Block sizes n = 1, 2, 4, … up to L/8 (70 → 8, 127 → 8, 128 → 16); fewer than two such
    sizes: n = 1 and L/2 (at least 2). Checked on paths whose second moments are not a power of
    n, so each size changes the answer."""
    rng = np.random.default_rng(depth)
    paths = rng.standard_normal((3, depth)) + np.linspace(0.0, 1.5, depth)
    assert hurst_estimate(paths) == pytest.approx(_hurst_by_hand(paths, sizes), rel=1e-12)


def test_hurst_estimate_closed_forms():
    """Constant paths: S_n = n c, so E S_n² ∝ n² and H = 1 exactly."""
    assert hurst_estimate(np.full((2, 64), 0.7)) == pytest.approx(1.0, abs=1e-12)
