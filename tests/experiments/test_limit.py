"""`experiments.limit`: the fine paths refine the coarse ones (closed-form covariances, exact sums),
the solver against closed forms and the engine's recursion, the rates against theory within a
bootstrap-derived interval, the reference's convergence, reproducibility and the refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.limit import (
    LimitSpec,
    _Drive,
    bridge_refine,
    measure_limit_cell,
    run_limit,
    solve,
    summarize_limit,
)


def _drive(spec: LimitSpec, depth: int, draws: int = 2) -> _Drive:
    return _Drive(spec, depth, range(draws), torch.device("cpu"), torch.float64)


def _inputs(spec: LimitSpec, depth: int, draws: int) -> torch.Tensor:
    key = (seeding.name_key(spec.law), spec.width, depth)
    return torch.stack([torch.randn(spec.width, generator=seeding.generator(spec.seed, key + (i, seeding.INPUTS)),
                                    dtype=torch.float64) for i in range(draws)])


# ----------------------------------------------------------------------------- Brownian bridges
def test_bridge_refinement_has_the_conditional_law_of_a_brownian_path():
    """Given the coarse increment X of a Brownian path with variance σ² over the step, the path at
    the fine times u_i = i/r has mean X u_i and covariance σ² u_i (1 − u_j) (i ≤ j): the bridge."""
    r, n, var = 8, 20000, 0.3
    gen = torch.Generator().manual_seed(1)
    X = torch.full((n,), 0.7, dtype=torch.float64)
    fine = bridge_refine(X, torch.randn((n, r), generator=gen), math.sqrt(var / r))  # (n, r)
    path = fine.cumsum(1).numpy()[:, :-1]  # interior points u = 1/r .. (r−1)/r
    u = np.arange(1, r) / r
    mean_se = np.sqrt(var * u * (1 - u) / n)
    assert np.all(np.abs(path.mean(0) - 0.7 * u) <= 4 * mean_se)
    expected = var * np.minimum.outer(u, u) * (1 - np.maximum.outer(u, u))
    empirical = np.cov(path, rowvar=False)
    se = np.sqrt((np.outer(np.diag(expected), np.diag(expected)) + expected**2) / n)
    assert np.max(np.abs(empirical - expected) / se) <= 5.0  # 28 entries, 5 standard errors


def test_bridge_of_a_brownian_increment_gives_independent_fine_increments():
    """X ~ N(0, σ²) refined: the r fine increments are i.i.d. N(0, σ²/r) (covariance σ²/r · I)."""
    r, n, var = 6, 20000, 2.0
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(n, generator=gen, dtype=torch.float64) * math.sqrt(var)
    fine = bridge_refine(X, torch.randn((n, r), generator=gen), math.sqrt(var / r)).numpy()
    expected = var / r * np.eye(r)
    se = np.sqrt((np.outer(np.diag(expected), np.diag(expected)) + expected**2) / n)
    assert np.max(np.abs(np.cov(fine, rowvar=False) - expected) / se) <= 5.0


@pytest.mark.parametrize("law,extra", [("iid", {}), ("fbm", {"hurst": 0.7})])
def test_the_coarse_path_is_exactly_the_sum_of_the_fine_increments(law, extra):
    spec = LimitSpec(law=law, width=3, depths=(10, 20), refinement=6, samples=2, **extra)
    drive = _drive(spec, 10)
    for k0, k1 in ((0, 8), (8, 10)):
        coarse, fine, half, _ = drive.block(k0, k1)
        torch.testing.assert_close(fine.sum(2), coarse, rtol=1e-13, atol=1e-15)
        torch.testing.assert_close(half, fine[:, :, 0::2] + fine[:, :, 1::2], rtol=0, atol=0)
    if law == "iid":  # the ResNet's own increments: L^{-1/2} V_k, V the engine's weights
        torch.testing.assert_close(drive.block(0, 8)[0], drive.V[:8].transpose(0, 1) / math.sqrt(10))


def test_fbm_fine_increments_sum_to_exact_fgn_at_the_coarse_scale():
    """V_k = L^H Σ(fine increments) √d: unit variance, lag-1 autocovariance ½(2^{2H} − 2) (fGn)."""
    hurst, depth = 0.7, 16
    spec = LimitSpec(law="fbm", hurst=hurst, width=16, depths=(16, 32), refinement=4, samples=8)
    coarse = torch.cat([_drive(spec, depth, draws=8).block(k0, k0 + 8)[0] for k0 in (0, 8)], dim=1)
    v = (coarse * depth**hurst * 4).reshape(8, depth, -1).transpose(1, 2).reshape(-1, depth).numpy()  # paths
    n = v.shape[0]
    assert abs(np.mean(v**2) - 1.0) <= 4 * math.sqrt(2 / (n * depth)) * 3  # long memory: loose factor 3
    lag1 = np.mean(v[:, 1:] * v[:, :-1])
    assert abs(lag1 - 0.5 * (2 ** (2 * hurst) - 2)) <= 0.05


# ----------------------------------------------------------------------------- the solver
def test_tied_linear_model_matches_matrix_powers_and_the_exponential():
    """Tied weights, f = V h: h_k = (I + V/L)^k h_0, the reference (I + V/(rL))^{rk} h_0, its check
    (I + 2V/(rL))^{rk/2} h_0, the limit e^{V k/L} h_0; and the reference's change r/2 → r is its
    own error to first order (the basis of `reference_change`)."""
    L, r = 12, 8
    spec = LimitSpec(law="tied", model="linear", width=4, depths=(L, 2 * L), refinement=r)
    drive = _drive(spec, L, draws=3)
    h0 = _inputs(spec, L, 3)
    out = solve(drive, h0, "linear", "relu", record=True)
    V = drive.V[0]  # (draws, d, d), the same at every layer
    eye = torch.eye(4, dtype=torch.float64)
    for k in (1, 5, L):
        steps = (("resnet", V / L, k), ("reference", V / (r * L), r * k), ("half", 2 * V / (r * L), r * k // 2))
        for name, A, n in steps:
            expected = (torch.linalg.matrix_power(eye + A, n) @ h0.unsqueeze(-1)).squeeze(-1)
            torch.testing.assert_close(out[name][k], expected, rtol=1e-11, atol=1e-12)
    exact = (torch.linalg.matrix_exp(V) @ h0.unsqueeze(-1)).squeeze(-1)
    error = torch.linalg.vector_norm(out["reference"][-1] - exact, dim=-1)
    torch.testing.assert_close(out["reference_change_final"], error, rtol=0.1, atol=0)


def test_iid_resnet_path_is_the_engines_recursion():
    """The coarse trajectory is the engine's ResNet (dynamics.forward_direct) on the same weights."""
    from resnet_scale_cli.dynamics import ACTIVATIONS, Network, forward_direct

    L = 20
    spec = LimitSpec(width=5, depths=(L, 2 * L), refinement=4)
    drive = _drive(spec, L, draws=3)
    h0 = _inputs(spec, L, 3)
    out = solve(drive, h0, "simple", "relu", record=True)
    net = Network(drive.V, None, "simple", ACTIVATIONS["relu"], layer_major=True)
    hL = forward_direct(net, h0.unsqueeze(1), torch.tensor([L**-0.5], dtype=torch.float64))[:, 0]
    torch.testing.assert_close(out["resnet"][-1], hL, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("law,model", [("iid", "simple"), ("rbf", "full")])
def test_the_resnet_is_the_network_rscale_run_measures(law, model):
    """Same seed, law, d, L and dtype: the same weights and inputs as `rscale run` (experiments.cell)."""
    from resnet_scale_cli.experiments.cell import measure
    from resnet_scale_cli.spec import RunSpec

    L, d, n = 12, 4, 3
    spec = LimitSpec(law=law, model=model, width=d, depths=(L, 2 * L), refinement=2, samples=n)
    out = solve(_drive(spec, L, draws=n), _inputs(spec, L, n), model, "relu", record=True)
    run = RunSpec(law=law, model=model, depth=L, width=d, samples=n, betas=(spec.beta,), gradients=False,
                  dtype="float64", device="cpu")
    expected = measure(run).values["output_norm_log10"][0]
    h0, hL = out["resnet"][0], out["resnet"][-1]
    measured = (torch.log10(hL.norm(dim=-1)) - torch.log10(h0.norm(dim=-1))).numpy()
    np.testing.assert_allclose(measured, expected, rtol=0, atol=1e-12)


def test_distances_are_maxima_over_layers_of_the_recorded_paths():
    L = 16
    spec = LimitSpec(law="rbf", model="full", activation="tanh", width=4, depths=(L, 2 * L), refinement=4)
    h0 = _inputs(spec, L, 2)
    out = solve(_drive(spec, L), h0, "full", "tanh", record=True)
    gap = torch.linalg.vector_norm(out["resnet"] - out["reference"], dim=-1)
    change = torch.linalg.vector_norm(out["half"] - out["reference"], dim=-1)
    torch.testing.assert_close(out["distance_max"], gap.amax(0))
    torch.testing.assert_close(out["distance_final"], gap[-1])
    torch.testing.assert_close(out["reference_change"], change.amax(0))
    assert torch.all(gap[0] == 0)


# ----------------------------------------------------------------------------- rates
def _assert_rate(document, low: float, high: float) -> None:
    """The theory range [low, high] meets the fit's 95 % bootstrap interval (± 1.96 bootstrap
    standard errors, resampling the draws at each depth): for a single theory value, the value
    lies inside the interval."""
    rate = document["rate"]
    lo, hi = rate["interval"]
    assert lo <= high and low <= hi, rate


@pytest.mark.parametrize("settings", [
    dict(law="iid", depths=(32, 64, 128, 256), samples=128, refinement=4),
    dict(law="tied", depths=(16, 32, 64, 128), samples=32, refinement=4),
    dict(law="tied", model="full", activation="tanh", depths=(16, 32, 64, 128), samples=32, refinement=4),
    dict(law="rbf", depths=(64, 128, 256, 512), samples=32, refinement=2),
], ids=["iid-sde", "tied-ode", "tied-full-tanh", "rbf-ode"])
@pytest.mark.slow
def test_rates_reproduce_the_theory(settings):
    """Moderate depths, d = 8. The refinement does not bias the rate: the reference's error is
    the same fraction of the distance at every L (√(1 − 1/r) for the SDE, 1 − 1/r for ODEs)."""
    spec = LimitSpec(width=8, device="cpu", **settings)
    document = run_limit(spec)
    theory = document["rate"]["theory"]
    assert theory == (0.5 if spec.law == "iid" else 1.0)
    _assert_rate(document, theory, theory)
    assert len(document["rate"]["pairwise"]) == len(spec.depths) - 1


def test_fbm_rate_lies_between_two_h_minus_one_and_one():
    spec = LimitSpec(law="fbm", hurst=0.75, width=8, depths=(32, 64, 128, 256), samples=64, refinement=4, device="cpu")
    document = run_limit(spec)
    assert document["rate"]["theory_range"] == [0.5, 1.0] and document["rate"]["theory"] == 0.5
    _assert_rate(document, 0.5, 1.0)
    assert 0.5 <= document["rate"]["estimate"] <= 1.0


@pytest.mark.parametrize("settings", [
    dict(law="rbf", depths=(32, 64), samples=16, refinement=16),
    dict(law="iid", depths=(16, 32), samples=32, refinement=256),
], ids=["ode-r16", "sde-r256"])
@pytest.mark.slow
def test_the_reference_error_is_ten_times_below_every_distance(settings):
    """The reference's own error (estimated by its change when r doubles from r/2) is ≥ 10× below
    the distance at every depth, and the root-mean-square ratio is the first-order prediction:
    r − 1 (ODE, errors ∝ 1/(rL) of one sign) or √(r − 1) (SDE, orthogonal error increments)."""
    spec = LimitSpec(width=6, device="cpu", **settings)
    document = run_limit(spec)
    reference = document["reference"]
    assert reference["converged"] and reference["ratio_min"] >= 10.0, reference
    for row, record in zip(document["results"], document["records"]):
        assert row["distance_max"]["median"] >= 10 * row["reference_change"]["median"]
        values = record["values"]
        rms = math.sqrt(np.mean(np.square(values["distance_max"])) / np.mean(np.square(values["reference_change"])))
        assert rms == pytest.approx(reference["expected_ratio"], rel=0.25)


# ----------------------------------------------------------------------------- records, seeds
def test_records_are_reproducible_and_independent_of_draw_chunking():
    spec = LimitSpec(law="rbf", model="full", width=4, depths=(10, 20), samples=5, refinement=4, device="cpu")
    tiny = spec.replace(memory_gb=1e-6)  # one draw per chunk
    a, b = measure_limit_cell(spec, 10), measure_limit_cell(tiny, 10)
    assert a["info"]["draws_per_chunk"] == 5 and b["info"]["draws_per_chunk"] == 1
    for q, v in a["values"].items():  # the same per-draw streams; batched products round alike to 1e-15
        np.testing.assert_allclose(b["values"][q], v, rtol=1e-12)
    assert measure_limit_cell(spec, 10)["values"] == a["values"]
    assert measure_limit_cell(spec.replace(seed=1), 10)["values"] != a["values"]
    assert set(a) == {"cell", "distance_max", "distance_final", "reference_change", "reference_change_final",
                      "values", "info"}
    assert a["cell"] == {"depth": 10} and set(a["distance_max"]) == {"median", "q05", "q95", "mean"}
    assert 0 < a["info"]["path_error"] and a["info"]["window"] >= 8  # rbf: the GP refinement's diagnostic


def test_summary_comes_from_the_records_alone():
    spec = LimitSpec(law="tied", width=4, depths=(8, 16, 32), samples=6, refinement=2, device="cpu")
    records = [measure_limit_cell(spec, L) for L in reversed(spec.depths)]
    summary = summarize_limit(spec, records)
    assert [r["depth"] for r in summary["results"]] == [8, 16, 32]
    assert summary["rate"]["quantity"] == "distance_max" and summary["rate_final"]["quantity"] == "distance_final"
    assert summary == summarize_limit(spec, list(reversed(records)))
    lo, hi = summary["rate"]["interval"]
    assert lo <= hi and "theorem" in summary["rate"]["basis"]
    assert summary["limit"]["kind"] == "ode" and summary["reference"]["expected_ratio"] == 1


# ----------------------------------------------------------------------------- the spec
def test_spec_defaults_and_the_critical_beta():
    spec = LimitSpec()
    assert (spec.law, spec.model, spec.beta, spec.refinement, spec.dtype) == ("iid", "simple", 0.5, 16, "float64")
    assert LimitSpec(law="fbm", hurst=0.7).beta == 0.7
    assert LimitSpec(law="rbf", model="full").beta == LimitSpec(law="tied").beta == 1.0
    assert LimitSpec(law="fbm", hurst=0.5, beta=0.5).kind == "sde" and LimitSpec(law="fbm", hurst=0.6).kind == "young"
    assert LimitSpec(depths=[300, 100]).depths == (100, 300)
    with pytest.raises(SpecError, match="repeated depth"):
        LimitSpec(depths=[300, 100, 300])
    d = spec.to_dict()
    assert d["depths"] == [100, 300, 1000] and d["refinement"] == 16 and d["beta"] == 0.5


@pytest.mark.parametrize("changes,flag", [
    (dict(beta=0.25), "--beta"), (dict(law="rbf", beta=0.5), "--beta"), (dict(law="fbm", hurst=0.7, beta=0.5), "--beta"),
    (dict(model="full"), "--model full"), (dict(law="fbm", hurst=0.7, model="full"), "--model full"),
    (dict(dist="rademacher"), "--dist"), (dict(law="fbm", hurst=0.3), "--hurst"),
    (dict(refinement=1), "--refinement"), (dict(refinement=3), "--refinement"), (dict(depths=(1, 10)), "--depth"),
    (dict(depths=(10,)), "--depth"), (dict(depths=(10, 10)), "--depth"), (dict(depths=(10, 20.5)), "--depth"), (dict(samples=1), "--samples"), (dict(law="nope"), "--law"),
    (dict(width=0), "--width"), (dict(memory_gb=0.0), "--memory-gb"), (dict(lengthscale=-1.0), "--lengthscale"),
])
def test_combinations_without_a_limit_theorem_are_refused(changes, flag):
    with pytest.raises(SpecError, match=flag.replace("-", r"\-")):
        LimitSpec(**changes)


def test_a_beta_near_but_off_the_critical_beta_is_refused():
    # a limit exists only at β = 1/2 (iid), H (fbm), 1 (rbf): 0.05 away is already no limit
    from resnet_scale_cli.errors import SpecError

    for law, beta in (("iid", 0.55), ("iid", 0.45), ("rbf", 0.95)):
        with pytest.raises(SpecError, match="has a continuous-depth limit only at"):
            LimitSpec(law=law, model="simple" if law == "iid" else "full", beta=beta, depths=(10, 30))
    assert LimitSpec(law="iid", model="simple", beta=0.5, depths=(10, 30)).beta == 0.5
