"""Weight laws against theory: covariances, moments, and the `fbm` package as an oracle.

Every statistical assertion compares an estimate with theory at a tolerance of Z standard
errors, the standard error estimated from independent paths; Z = 4.5 keeps the family-wise
false-alarm rate of the whole file below 1e-3 (Bonferroni over < 200 comparisons).
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from resnet_scale_cli import seeding
from resnet_scale_cli.analysis.autocorrelation import autocovariance, hurst_estimate
from resnet_scale_cli.laws.fbm import _circulant_sqrt_eigenvalues
from resnet_scale_cli.laws import (fgn_autocovariance, rbf_kernel_matrix, sample_fgn,
                                   sample_paths, sample_weights)

Z = 4.5


def gens(n, device="cpu", base=0):
    return [seeding.generator(1234, (base, i), device) for i in range(n)]


def paths_2d(tensor):
    """(draws, L, n_paths) -> (draws·n_paths, L) float64 numpy."""
    return tensor.transpose(1, 2).reshape(-1, tensor.shape[1]).double().cpu().numpy()


@pytest.mark.parametrize("hurst", [0.2, 0.5, 0.8])
def test_fgn_autocovariance_matches_theory(hurst, device):
    paths = paths_2d(sample_fgn(hurst, 512, 2000, gens(2, device), dtype=torch.float64, device=device))
    emp, se = autocovariance(paths, 5)
    theory = fgn_autocovariance(hurst, np.arange(6))
    assert np.all(np.abs(emp - theory) < Z * se), (emp, theory, se)


def test_fgn_real_and_imaginary_paths_are_independent():
    from resnet_scale_cli.laws import PATH_CHUNK

    n = PATH_CHUNK  # one chunk per draw: path j and j + n/2 are the real and imaginary parts of one FFT
    raw = sample_fgn(0.7, 256, n, gens(8), dtype=torch.float64).numpy()  # (draws, L, n)
    real, imag = raw[:, :, : n // 2], raw[:, :, n // 2:]
    cross = (real * imag).mean(axis=1).ravel()  # per pair, lag-0 cross covariance, mean 0 if independent
    assert abs(cross.mean()) < Z * cross.std(ddof=1) / math.sqrt(cross.size)


@pytest.mark.parametrize("hurst", [0.3, 0.7])
def test_fgn_two_sample_test_against_fbm_package(hurst):
    """Kolmogorov–Smirnov on two path statistics: the endpoint B_L / L^H ~ N(0, 1) and the
    lag-1 autocovariance estimate; Bonferroni over 4 tests at family level 1 %."""
    depth, n = 256, 400
    ours = paths_2d(sample_paths("fbm", depth, n, gens(1), hurst=hurst, dtype=torch.float64))
    ref = paths_2d(sample_paths("fbm", depth, n, gens(1, base=1), hurst=hurst, fbm_backend="fbm", dtype=torch.float64))
    for stat in (lambda p: p.sum(axis=1) / depth**hurst, lambda p: (p[:, 1:] * p[:, :-1]).mean(axis=1)):
        assert stats.ks_2samp(stat(ours), stat(ref)).pvalue > 0.01 / 4


def test_fbm_package_reference_has_unit_variance_and_known_lag1():
    paths = paths_2d(sample_paths("fbm", 128, 300, gens(1), hurst=0.8, fbm_backend="fbm", dtype=torch.float64))
    emp, se = autocovariance(paths, 1)
    assert np.all(np.abs(emp - fgn_autocovariance(0.8, [0, 1])) < Z * se)


@pytest.mark.parametrize("hurst", [0.95, 0.99])
def test_fgn_high_hurst_is_exact_by_fft(hurst):
    """Where the `fbm` package falls back to an O(L²) method, the embedding with γ(L) stays
    non-negative definite: the FFT sampler works and matches theory."""
    for depth in (10, 100, 1000, 4096):
        assert np.all(np.isfinite(_circulant_sqrt_eigenvalues(hurst, depth)))
    paths = paths_2d(sample_fgn(hurst, 4096, 512, gens(1), dtype=torch.float64))
    emp, se = autocovariance(paths, 5)
    assert np.all(np.abs(emp - fgn_autocovariance(hurst, np.arange(6))) < Z * se)


def test_hurst_estimate_recovers_h():
    """Over 8 seeds at L = 1024 with 1600 paths, Ĥ had standard deviation ≤ 0.0022 and bias
    ≤ 0.0011 for H ∈ {0.2, 0.5, 0.8}: 0.01 is about 4 standard deviations."""
    for hurst in (0.2, 0.5, 0.8):
        paths = paths_2d(sample_fgn(hurst, 1024, 1600, gens(1), dtype=torch.float64))
        assert abs(hurst_estimate(paths) - hurst) < 0.01


def test_rbf_covariance_matches_kernel():
    depth, n, ell = 48, 20000, 0.1
    paths = paths_2d(sample_paths("rbf", depth, n, gens(1), lengthscale=ell, dtype=torch.float64))
    emp = paths.T @ paths / n
    kernel = rbf_kernel_matrix(depth, ell)
    # Gaussian: Var(x_i x_j) = K_ii K_jj + K_ij²; Bonferroni over depth² entries at level 1e-3
    se = np.sqrt((np.outer(np.diag(kernel), np.diag(kernel)) + kernel**2) / n)
    z = stats.norm.isf(1e-3 / (2 * depth**2))
    assert np.all(np.abs(emp - kernel) < z * se)


@pytest.mark.parametrize("dist,fourth,sixth", [("gaussian", 3.0, 15.0), ("rademacher", 1.0, 1.0), ("uniform", 9 / 5, 27 / 7)])
def test_iid_moments(dist, fourth, sixth, device):
    d = 20
    w = sample_weights("iid", 200, d, gens(4, device), dist=dist, dtype=torch.float64, device=device)
    x = (w * math.sqrt(d)).flatten().cpu().numpy()
    n = x.size
    assert abs(x.mean()) < Z / math.sqrt(n)  # mean 0, unit variance of √d V
    assert abs((x**2).mean() - 1.0) <= Z * math.sqrt((fourth - 1.0) / n) + 1e-12  # variance 1/d per entry of V
    assert abs((x**3).mean()) < Z * math.sqrt(sixth / n)  # symmetric: third moment 0
    if dist == "rademacher":
        assert np.allclose(np.abs(x), 1.0)
    if dist == "uniform":
        assert np.abs(x).max() <= math.sqrt(3.0)


@pytest.mark.parametrize("law", ["iid", "rbf", "fbm"])
def test_weights_shape_and_variance(law):
    d, depth = 16, 256
    w = sample_weights(law, depth, d, gens(3), hurst=0.7, lengthscale=0.2, dtype=torch.float64)
    assert w.shape == (3, depth, d, d)
    # entries of √d V have unit variance. Paths are correlated across depth: at ℓ = 0.2 a path of
    # 256 values holds ≥ 5 independent ones, so 768 paths give sd ≤ √(2 / 3840) ≈ 0.023 for the
    # variance estimate (less for iid and fbm): 0.1 is over 4 sd
    assert abs((w**2).mean().item() * d - 1.0) < 0.1


@pytest.mark.parametrize("law", ["iid", "rbf", "fbm"])
def test_a_draw_does_not_depend_on_its_batch(law):
    both = sample_weights(law, 64, 5, gens(2), hurst=0.3, dtype=torch.float64)
    alone = sample_weights(law, 64, 5, gens(2)[1:], hurst=0.3, dtype=torch.float64)
    assert torch.allclose(both[1], alone[0], rtol=1e-12, atol=1e-14)
