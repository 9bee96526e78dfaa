"""Theorems of Marion, Fermanian, Biau, Vert (SCIENCE.md §4) reproduced on simulated networks."""

import math

import numpy as np
import pytest

from resnet_scale_cli.experiments.cell import measure
from resnet_scale_cli.spec import RunSpec


@pytest.mark.slow
def test_iid_beta_half_output_interval_theorem():
    """i.i.d. weights, full model, ReLU, β = 1/2: with probability ≥ 1 − δ,
    exp(3/8 − √(22/(dδ))) − 1 < ‖h_L − h_0‖²/‖h_0‖² < exp(1 + √(10/(dδ))) + 1. At δ = 1/2 at
    least half of 16 samples must fall inside."""
    d, delta = 500, 0.5
    spec = RunSpec(law="iid", model="full", activation="relu", depth=1000, width=d, samples=16, draws=2,
                   betas=(0.5,), gradients=False, device="cpu", dtype="float32", memory_gb=4.0)
    ratio_sq = 10.0 ** (2 * measure(spec).values["output_log10"][0])
    low = math.exp(3 / 8 - math.sqrt(22 / (d * delta))) - 1
    high = math.exp(1 + math.sqrt(10 / (d * delta))) + 1
    inside = np.mean((ratio_sq > low) & (ratio_sq < high))
    assert inside >= 1 - delta, (ratio_sq, low, high)


@pytest.mark.slow
def test_iid_gradient_expectation_theorem_at_beta_half():
    """exp(1/2) − 1 ≤ E ‖p_0 − p_L‖²/‖p_L‖² ≤ exp(4) − 1 at β = 1/2: the sample mean of 32
    samples, allowing 4 standard errors of the mean."""
    spec = RunSpec(depth=1000, width=100, samples=32, betas=(0.5,), device="cpu")
    ratio_sq = 10.0 ** (2 * measure(spec).values["gradient_log10"][0])
    se = ratio_sq.std(ddof=1) / math.sqrt(ratio_sq.size)
    assert math.exp(0.5) - 1 - 4 * se <= ratio_sq.mean() <= math.exp(4) - 1 + 4 * se


@pytest.mark.slow
def test_depth_trend_explosion_below_and_identity_above_critical_beta():
    """β = 1/4 < 1/2: the median log10 ratio rises from L = 100 to 1000; β = 1: it falls (like
    L^{1/2 − β}); for output and gradient ratios alike."""
    medians = {}
    for depth in (100, 1000):
        meas = measure(RunSpec(depth=depth, width=40, samples=16, betas=(0.25, 1.0), device="cpu"))
        medians[depth] = {q: np.median(meas.values[q], axis=1) for q in ("output_log10", "gradient_log10")}
    for q in ("output_log10", "gradient_log10"):
        assert medians[1000][q][0] > medians[100][q][0] + 0.5
        assert medians[1000][q][1] < medians[100][q][1] - 0.25  # L^{-1/2}: −0.5 decade in theory


@pytest.mark.slow
def test_smooth_weights_are_stable_at_beta_one():
    """RBF weights (Lipschitz in depth), β = 1: the network approaches its neural ODE, so the
    median log10 ratio at L = 100 and L = 1000 agree up to O(1/L) and sampling error (4 standard
    errors of the difference of medians, s.e. of a median ≈ 1.2533 σ/√n)."""
    n = 16
    out = {L: measure(RunSpec(law="rbf", lengthscale=0.2, depth=L, width=30, samples=n, betas=(1.0,), gradients=False,
                              device="cpu")).values["output_log10"][0] for L in (100, 1000)}
    se = math.sqrt(sum((1.2533 * v.std(ddof=1) / math.sqrt(n)) ** 2 for v in out.values()))
    assert abs(np.median(out[1000]) - np.median(out[100])) < 4 * se + 0.01
    assert np.all(np.abs(out[1000]) < 1.0)  # stable: neither identity nor explosion
