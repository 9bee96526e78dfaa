"""`laws.rbf_bridge` and `rscale limit --law rbf`: the reference's fine path is the same GP path,
refined — it passes through the coarse values, has at the fine times the closed-form conditional
law of the GP given them, and overall the RBF covariance; its window's error bound holds on every
block; the convergence verdict counts the path's error. Expected values come from the kernel
formula in this file's own numpy code; statistical tolerances from the sampling error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resnet_scale_cli.experiments.limit import LimitSpec, _Drive, measure_limit_cell, summarize_limit
from resnet_scale_cli.laws import sample_paths
from resnet_scale_cli.laws.rbf_bridge import bridge_plan, draw_noise, refine_path


@pytest.fixture(autouse=True)
def one_thread():
    """Small products and factorizations: one thread (intra-op threads only add waiting)."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    torch.set_num_threads(threads)


def _k(a: np.ndarray, b: np.ndarray, ell: float) -> np.ndarray:
    """exp(−(s − t)²/(2ℓ²))."""
    return np.exp(-np.subtract.outer(a, b) ** 2 / (2 * ell**2))


def _grids(depth: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coarse times m/L (m = 1..L), all fine times p/(rL) (p = 1..rL), and the mask of the
    non-coarse ones."""
    coarse = np.arange(1, depth + 1) / depth
    fine = np.arange(1, depth * r + 1) / (depth * r)
    return coarse, fine, (np.arange(1, depth * r + 1) % r) != 0


def _conditional(depth: int, r: int, ell: float, theta: np.ndarray):
    """Closed-form law of the GP at the non-coarse fine times given its coarse values θ (no
    nugget: the cases here are well conditioned): mean K_fc K_cc⁻¹ θ, covariance
    K_ff − K_fc K_cc⁻¹ K_cf."""
    tc, tf, inner = _grids(depth, r)
    tf = tf[inner]
    kcc, kfc = _k(tc, tc, ell), _k(tf, tc, ell)
    solved = np.linalg.solve(kcc, kfc.T)  # K_cc⁻¹ K_cf
    return kfc @ np.linalg.solve(kcc, theta), _k(tf, tf, ell) - kfc @ solved


def _refined(depth: int, r: int, ell: float, coarse: torch.Tensor, seed: int) -> np.ndarray:
    plan = bridge_plan(depth, r, ell)
    z, xi = draw_noise(plan, coarse.shape[1], torch.Generator().manual_seed(seed))
    return refine_path(plan, coarse, z, xi).numpy()  # (L·r, N)


def _coarse_draws(depth: int, ell: float, n: int, seed: int) -> torch.Tensor:
    """n coarse paths of the rbf law itself (what `rscale run` and `limit` draw): (L, n)."""
    return sample_paths("rbf", depth, n, [torch.Generator().manual_seed(seed)], lengthscale=ell,
                        dtype=torch.float64)[0]


# ----------------------------------------------------------------------------- (a) the coarse values
@pytest.mark.parametrize("depth,r,ell", [(8, 8, 0.1), (48, 4, 0.02), (200, 4, 0.3)],
                         ids=["exact", "windowed", "jittered"])
def test_the_fine_path_passes_through_the_coarse_values(depth, r, ell):
    coarse = _coarse_draws(depth, ell, 16, seed=3)
    fine = _refined(depth, r, ell, coarse, seed=4).reshape(depth, r, -1)
    assert np.array_equal(fine[:, r - 1], coarse.numpy())  # the ResNet's own weights, bit for bit
    assert np.all(np.isfinite(fine))


def test_the_drives_fine_steps_end_on_the_resnets_weights():
    """In `limit`: the last fine step of each coarse step is L^{-1} V_{k+1} / r, the half grid's
    2 L^{-1} V_{k+1} / r — the coarse weights the ResNet uses."""
    L, r = 16, 4
    spec = LimitSpec(law="rbf", model="full", width=3, depths=(L, 2 * L), refinement=r, samples=2)
    drive = _Drive(spec, L, range(2), torch.device("cpu"), torch.float64)
    for k0, k1 in ((0, 8), (8, 16)):
        coarse, fine, half, (cW, fW, hW) = drive.block(k0, k1)
        torch.testing.assert_close(fine[:, :, r - 1] * r, coarse, rtol=1e-15, atol=0)
        torch.testing.assert_close(half[:, :, -1] * (r / 2), coarse, rtol=1e-15, atol=0)
        assert torch.equal(fW[:, :, r - 1], cW) and torch.equal(hW, fW[:, :, 1::2])
        torch.testing.assert_close(coarse, drive.V[k0:k1].transpose(0, 1) / L, rtol=1e-15, atol=0)


# ----------------------------------------------------------------------------- (b) the conditional law
@pytest.mark.parametrize("depth,r,ell", [(8, 8, 0.1), (48, 4, 0.02)], ids=["exact", "windowed"])
def test_fine_values_have_the_closed_form_conditional_mean_and_variance(depth, r, ell):
    """One fixed set of coarse values, N = 20 000 refinements: at every non-coarse fine time the
    sample mean and variance match K_fc K_cc⁻¹ θ and diag(K_ff − K_fc K_cc⁻¹ K_cf) within 4
    standard errors (σ/√N and σ²√(2/N)); the window moves the law by ≤ its bound (1e-7 here)."""
    n = 20_000
    plan = bridge_plan(depth, r, ell)
    assert plan.exact == (depth == 8) and plan.window_error < 1e-6
    theta = _coarse_draws(depth, ell, 1, seed=5)
    fine = _refined(depth, r, ell, theta.expand(depth, n), seed=6)
    _, _, inner = _grids(depth, r)
    mean, cov = _conditional(depth, r, ell, theta.numpy()[:, 0])
    var = np.diag(cov)
    sample = fine[inner]
    z_mean = np.abs(sample.mean(1) - mean) / np.sqrt(var / n)
    z_var = np.abs(np.mean((sample - mean[:, None]) ** 2, axis=1) - var) / (var * math.sqrt(2 / n))
    assert z_mean.max() < 4.0 and z_var.max() < 4.0, (z_mean.max(), z_var.max())
    assert var.max() > 0.25  # the first step extrapolates: far from any interpolant (its variance is 0)


def test_fine_values_have_the_closed_form_conditional_covariance_across_blocks():
    """The joint law, not only the marginals: every covariance between non-coarse fine values
    (within and across coarse steps and blocks of 8 steps) within 5 standard errors
    √((Σ_ii Σ_jj + Σ_ij²)/N) of K_ff − K_fc K_cc⁻¹ K_cf."""
    depth, r, ell, n = 24, 2, 0.05, 20_000
    theta = _coarse_draws(depth, ell, 1, seed=7)
    fine = _refined(depth, r, ell, theta.expand(depth, n), seed=8)
    _, _, inner = _grids(depth, r)
    mean, cov = _conditional(depth, r, ell, theta.numpy()[:, 0])
    centred = fine[inner] - mean[:, None]
    empirical = centred @ centred.T / n
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.max(np.abs(empirical - cov) / se) < 5.0


def test_singular_coarse_kernel_is_conditioned_with_the_laws_jitter():
    """L ℓ = 60: K_cc is singular to working precision and the law draws chol(K_cc + εI) z. The
    refined path is the conditional mean (K_cc + εI)⁻¹ (by eigenvalues here) up to the law's
    own scale √ε: finite, through the coarse values, within 10⁻⁴ of the mean."""
    depth, r, ell = 200, 4, 0.3
    plan = bridge_plan(depth, r, ell)
    tc, tf, inner = _grids(depth, r)
    assert np.linalg.eigvalsh(_k(tc, tc, ell)).min() < 1e-12 and plan.jitter == 1e-10
    theta = _coarse_draws(depth, ell, 4, seed=9)
    fine = _refined(depth, r, ell, theta, seed=10)
    lam, vec = np.linalg.eigh(_k(tc, tc, ell))
    weights = _k(tf[inner], tc, ell) @ vec @ np.diag(1 / (lam + plan.jitter)) @ vec.T
    assert np.max(np.abs(fine[inner] - weights @ theta.numpy())) < 1e-4
    assert plan.path_error < 1e-4


# ----------------------------------------------------------------------------- (c) the whole path
def _autocovariance_z(fine: np.ndarray, depth: int, r: int, ell: float) -> float:
    """Largest |lag-averaged sample autocovariance − exp(−Δ²/(2ℓ²))| over lags, in single-pair
    standard errors √((1 + k²)/N) (an average of pairs has at most their variance): the fine path,
    zero mean known, unit variance."""
    n_t, n = fine.shape
    worst = 0.0
    for lag in range(n_t):
        products = fine[: n_t - lag] * fine[lag:]
        expected = math.exp(-((lag / (depth * r)) ** 2) / (2 * ell**2))
        worst = max(worst, abs(products.mean() - expected) / math.sqrt((1 + expected**2) / n))
    return worst


def test_the_refined_path_has_the_rbf_covariance_overall():
    """Coarse values from the law, fine values from the bridge: over the coarse draws the whole
    fine path is the GP on the fine grid, autocovariance exp(−Δ²/(2ℓ²)) at every lag."""
    depth, r, ell, n = 8, 4, 0.1, 20_000
    fine = _refined(depth, r, ell, _coarse_draws(depth, ell, n, seed=11), seed=12)
    assert _autocovariance_z(fine, depth, r, ell) < 4.0
    tf = _grids(depth, r)[1]
    expected = _k(tf, tf, ell)
    se = np.sqrt((np.outer(np.diag(expected), np.diag(expected)) + expected**2) / n)
    assert np.max(np.abs(fine @ fine.T / n - expected) / se) < 5.0  # 528 entries


@pytest.mark.slow
@pytest.mark.parametrize("depth,r,ell", [(64, 4, 0.03), (120, 2, 0.01)], ids=["exact-64", "windowed-120"])
def test_the_refined_path_has_the_rbf_covariance_overall_on_larger_grids(depth, r, ell):
    n = 20_000
    fine = _refined(depth, r, ell, _coarse_draws(depth, ell, n, seed=13), seed=14)
    assert _autocovariance_z(fine, depth, r, ell) < 4.0
    tf = _grids(depth, r)[1]
    expected = _k(tf, tf, ell)
    se = np.sqrt((np.outer(np.diag(expected), np.diag(expected)) + expected**2) / n)
    assert np.max(np.abs(fine @ fine.T / n - expected) / se) < 5.5  # ≈ 3·10⁴ entries


# ----------------------------------------------------------------------------- the window's bound
def test_the_window_error_bound_holds_on_every_block():
    """The plan checks the blocks whose window meets an end and the middle one; computed here on
    every block with a window (σ² from the kernel by direct solves, the law's nugget ε), the
    coupling bound √(2(σ²_W − σ²_all)) is never above the reported one."""
    depth, r, ell = 200, 4, 0.005
    plan = bridge_plan(depth, r, ell)
    assert not plan.exact and plan.window < depth
    tc = np.arange(1, depth + 1) / depth
    eps = plan.jitter

    def variance(points: np.ndarray, times: np.ndarray) -> np.ndarray:
        kcc = _k(points, points, ell) + eps * np.eye(points.size)
        cross = _k(points, times, ell)
        return 1.0 - np.einsum("ij,ij->j", cross, np.linalg.solve(kcc, cross))

    every = variance(tc, _grids(depth, r)[1][_grids(depth, r)[2]]).reshape(depth // 8, -1)  # σ²_all, per block
    worst = 0.0
    for b, k0 in enumerate(range(0, depth, 8)):
        times = ((np.arange(k0, k0 + 8)[:, None] + np.arange(1, r)[None, :] / r) / depth).ravel()
        lo, hi = max(0, k0 - plan.window), min(depth, k0 + 8 + plan.window)
        gap = variance(tc[lo:hi], times) - every[b]
        worst = max(worst, float(np.sqrt(2 * np.clip(gap, 0, None)).max()))
    assert 0 < worst <= plan.window_error * (1 + 1e-6) + 1e-9
    assert plan.window_error <= math.sqrt(eps)  # the window is widened until it is within the jitter


# ----------------------------------------------------------------------------- seeds
def test_the_fine_path_is_reproducible_from_the_cells_seed_and_independent_of_chunking():
    L, r = 24, 4
    spec = LimitSpec(law="rbf", width=3, depths=(L, 2 * L), refinement=r, samples=4, lengthscale=0.05)

    def fine(draws: range, seed: int = 0) -> torch.Tensor:
        drive = _Drive(spec.replace(seed=seed), L, draws, torch.device("cpu"), torch.float64)
        return torch.cat([drive.block(k0, min(k0 + 8, L))[1] for k0 in range(0, L, 8)], dim=1).clone()

    everything = fine(range(4))
    assert torch.equal(fine(range(4)), everything)
    torch.testing.assert_close(fine(range(2, 4)), everything[2:], rtol=1e-13, atol=1e-16)
    assert not torch.allclose(fine(range(4), seed=1), everything)


# ----------------------------------------------------------------------------- the verdict
def test_converged_counts_the_reference_paths_error_and_the_advice_says_what_helps():
    from resnet_scale_cli.report.tables_limit import reference_line

    spec = LimitSpec(law="rbf", model="full", activation="tanh", width=4, depths=(8, 16), samples=4, refinement=32,
                     device="cpu")
    records = [measure_limit_cell(spec, L) for L in spec.depths]
    honest = summarize_limit(spec, records)
    ref = honest["reference"]
    assert ref["discretization_converged"] and ref["path_converged"] and ref["converged"] and ref["advice"] is None
    row = honest["results"][0]
    assert row["path_error"] == pytest.approx(row["window_error"] + math.sqrt(row["jitter"]) / 32)
    distance = records[0]["distance_max"]["median"]
    records[0]["info"]["path_error"] = distance / 5  # a path error within 10× of the distance
    document = summarize_limit(spec, records)
    ref = document["reference"]
    assert ref["discretization_converged"] and not ref["path_converged"] and not ref["converged"]
    assert ref["path_ratio_min"] == pytest.approx(5.0)
    assert "path_error" in ref["advice"] and "raise --refinement" not in ref["advice"]
    line = reference_line(document)
    assert "not converged" in line and "path error 5" in line
