"""`experiments.spectrum` / `dynamics.lyapunov`: log singular values of J_L = ∂h_L/∂h_0 against
independent float64 code written here (matrix powers, per-layer determinants, power iteration
with carried log-norms), the exact second-moment identity within a stated multiple of its
standard error, and exactness where the plain product overflows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.dynamics.activations import ACTIVATIONS
from resnet_scale_cli.dynamics.lyapunov import jacobian_spectrum, log2_singular_values
from resnet_scale_cli.dynamics.recursion import Network
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.spectrum import SpectrumSpec, measure_spectrum_cell, run_spectrum, spectrum_cells
from resnet_scale_cli.laws.sampling import sample_weights

LOG10_2 = math.log10(2.0)


def _linear_net(V: np.ndarray) -> Network:
    """V (draws, L, d, d) float64 → the linear model's network."""
    return Network(torch.from_numpy(V), None, "linear", ACTIVATIONS["identity"])


def test_tied_linear_matches_the_direct_matrix_power():
    """Tied weights, linear model: J_L = (I + L^-β V)^L; compare with numpy's matrix power and SVD
    (float64, where the conditioning keeps numpy's SVD accurate: σ_min/σ_max > 1e-9)."""
    rng = np.random.default_rng(3)
    d, L, draws = 6, 60, 3
    betas = [0.0, 0.25, 0.5, 1.0]
    V0 = rng.standard_normal((draws, d, d)) / math.sqrt(d)
    V = np.repeat(V0[:, None], L, axis=1)
    h0 = torch.from_numpy(rng.standard_normal((draws, len(betas), d)))
    spec = jacobian_spectrum(_linear_net(V), h0, torch.tensor([L ** -b for b in betas], dtype=torch.float64))
    for i in range(draws):
        for j, b in enumerate(betas):
            J = np.linalg.matrix_power(np.eye(d) + L ** -b * V0[i], L)
            s = np.linalg.svd(J, compute_uv=False)
            got = spec.log2_sigma[i, j].numpy()
            ok = s / s[0] > 1e-9
            assert np.allclose(got[ok], np.log2(s[ok]), rtol=0, atol=1e-9), (b, got, np.log2(s))
            # whatever the conditioning, the sum of log σ is log |det J| = L log |det(I + L^-β V)|
            assert abs(got.sum() - L * np.linalg.slogdet(np.eye(d) + L ** -b * V0[i])[1] / math.log(2)) < 1e-8
            dev = np.log2(np.linalg.svd(J - np.eye(d), compute_uv=False))
            got_dev = spec.log2_dev[i, j].numpy()
            formed = np.isfinite(got_dev)  # J_L − I is formed below 2^60; beyond, only its σ_max (= σ_max(J_L))
            assert formed[0] and (formed.all() or got[0] > 59)
            # the formed J_L − I resolves its singular values to ε σ_max(J_L) absolutely (numpy's too)
            assert np.allclose(2.0 ** got_dev[formed], 2.0 ** dev[formed], rtol=1e-9, atol=1e-12 * 2.0 ** got[0])


def test_tied_linear_through_the_cell_uses_the_run_streams():
    """measure_spectrum_cell on the tied law: its σ equal those of (I + L^-β V)^L with V drawn here
    from the streams `rscale run` uses (seeding key (law, d, L), purpose WEIGHTS_V)."""
    d, L = 5, 40
    spec = SpectrumSpec(law="tied", model="linear", depths=(L,), betas=(0.3, 0.7), width=(d,), samples=3, seed=7,
                        device="cpu")
    record = measure_spectrum_cell(spec, spectrum_cells(spec)[0])
    key = (seeding.name_key("tied"), d, L)
    gens = [seeding.generator(7, key + (i, seeding.WEIGHTS_V)) for i in range(3)]
    V = sample_weights("tied", L, d, gens, dtype=torch.float64).numpy()[:, 0]
    for j, b in enumerate(spec.betas):
        for i in range(3):
            s = np.linalg.svd(np.linalg.matrix_power(np.eye(d) + L ** -b * V[i], L), compute_uv=False)
            tol = 1e-10 + 1e-13 * s[0] / s[-1]  # numpy's SVD resolves σ_i to ε σ_max absolutely
            assert record["values"]["log10_sigma_max"][j][i] == pytest.approx(np.log10(s[0]), abs=1e-10)
            assert record["values"]["log10_sigma_min"][j][i] == pytest.approx(np.log10(s[-1]), abs=tol)
            assert record["values"]["log10_condition"][j][i] == pytest.approx(np.log10(s[0] / s[-1]), abs=tol)
            assert record["values"]["mean_log10_sigma"][j][i] == pytest.approx(np.log10(s).mean(), abs=tol)


def test_high_relative_accuracy_of_graded_singular_values():
    """diag(2^F) U with F spanning 3000 bits: Jacobi's log2 σ against the exact answer for a
    matrix built from a known SVD-free structure: U orthogonal ⇒ σ_i = 2^{F_i} exactly."""
    rng = np.random.default_rng(0)
    d = 7
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    F = np.sort(rng.uniform(-1500, 1500, d))[::-1].copy()
    out, _ = log2_singular_values(torch.from_numpy(Q[None]), torch.from_numpy(F[None]))
    assert np.allclose(out[0].numpy(), F, atol=1e-9)


@pytest.mark.parametrize("model, activation, factor", [("full", "relu", 0.5), ("linear", "identity", 1.0)])
def test_mean_square_gain_matches_the_exact_identity(model, activation, factor):
    """i.i.d. Gaussian weights: E‖J_L v‖² = (1 + c L^-2β)^L for unit v, so E ‖J_L‖_F²/d too, and
    E‖J_L − I‖_F²/d = that − 1. Monte Carlo mean within 4 standard errors (computed here)."""
    d, L, beta, n = 6, 40, 0.5, 96
    spec = SpectrumSpec(law="iid", model=model, activation=activation, depths=(L,), betas=(beta,), width=(d,),
                        samples=n, seed=1, device="cpu")
    record = measure_spectrum_cell(spec, spectrum_cells(spec)[0])
    exact = (1.0 + factor * L ** (-2 * beta)) ** L
    for q, target in (("log10_rms_gain", exact), ("log10_rms_deviation", exact - 1.0)):
        sq = 10.0 ** (2 * np.array(record["values"][q][0], dtype=float))  # ‖·‖_F²/d per draw
        se = sq.std(ddof=1) / math.sqrt(n)
        assert abs(sq.mean() - target) < 4 * se, (q, sq.mean(), target, se)


def _power_log2_sigma_max(V: np.ndarray, s: float, iters: int = 3) -> float:
    """log2 σ_max of Π (I + s V_k) by power iteration on JᵀJ with per-layer normalization (carried
    log-norms): float64, no overflow; the gap σ_1/σ_2 makes a few iterations exact."""
    L, d, _ = V.shape
    v = np.ones(d) / math.sqrt(d)
    log_norm = 0.0
    for _ in range(iters):
        log_norm = 0.0
        u = v
        for k in range(L):
            u = u + s * V[k] @ u
            n = np.linalg.norm(u)
            log_norm += math.log2(n)
            u = u / n
        w = u
        for k in reversed(range(L)):
            w = w + s * V[k].T @ w
            w = w / np.linalg.norm(w)
        v = w
    return log_norm


@pytest.mark.slow
@pytest.mark.parametrize("tied", [True, False])
def test_exact_where_the_plain_product_overflows(tied):
    """β = 0.1, L = 4000, d = 2, linear model (weights of variance 1/d drawn here): tied weights make
    the plain product overflow (σ_max > 10^331); i.i.d. weights make its conditioning > 10^90,
    far past what float64 resolves (σ_min below ε σ_max). References written here in float64 with carried log-norms:
    log2 σ_1 by power iteration on JᵀJ, log2 σ_1 + log2 σ_2 = Σ_k log2 |det(I + L^-β V_k)|."""
    rng = np.random.default_rng(11)
    d, L, beta = 2, 4000, 0.1
    V = rng.standard_normal((1, 1 if tied else L, d, d)) / math.sqrt(d)
    V = np.repeat(V, L, axis=1) if tied else V
    s = L ** -beta
    with np.errstate(over="ignore", invalid="ignore"):
        J = np.eye(d)
        for k in range(L):
            J = J + s * V[0, k] @ J
    top = _power_log2_sigma_max(V[0], s)
    logdet = sum(np.linalg.slogdet(np.eye(d) + s * V[0, k])[1] for k in range(L)) / math.log(2)
    if tied:
        assert not np.isfinite(J).all() and top > 1100  # the plain product overflows: σ_max > 2^1100 ≈ 10^331
    else:
        assert top - (logdet - top) > 300  # σ_max/σ_min > 2^300 ≈ 10^90: float64 cannot resolve σ_min
    out = jacobian_spectrum(_linear_net(V), torch.from_numpy(rng.standard_normal((1, 1, d))),
                            torch.tensor([s], dtype=torch.float64))
    got = out.log2_sigma[0, 0].numpy()
    assert not out.bad.any()
    assert got[0] == pytest.approx(top, rel=1e-10)
    assert got[1] == pytest.approx(logdet - top, rel=1e-9, abs=1e-6)
    if tied:  # J_L − I is J_L to float64 rounding
        assert out.log2_dev[0, 0, 0].item() == pytest.approx(top, rel=1e-10)
    else:
        dev = np.linalg.svd(J - np.eye(d), compute_uv=False)[0]
        assert out.log2_dev[0, 0, 0].item() == pytest.approx(math.log2(dev), abs=1e-9)


def test_spec_validation_names_the_flag():
    for bad, flag in (({"depths": (0,)}, "--depth"), ({"betas": (-1.0,)}, "--beta"), ({"hurst": (1.5,)}, "--hurst"),
                      ({"width": (0,)}, "--width"), ({"samples": 0}, "--samples"), ({"law": "x"}, "--law"),
                      ({"betas": ()}, "--beta"), ({"hist_beta": -1.0}, "--hist-beta")):
        with pytest.raises(SpecError, match=flag):
            SpectrumSpec(**bad)


def test_run_spectrum_document_and_critical_beta():
    """iid full ReLU over three depths: regimes and a critical β read from the deviation
    log σ_max(J_L − I) with an interval (explosion, stable, identity at β = 0.1, 0.5, 1), the
    σ_max and condition readings beside, cells per (depth, β), the exact identity beside each,
    histogram data."""
    spec = SpectrumSpec(depths=(20, 60, 180), betas=(0.1, 0.5, 1.0), width=(4,), samples=8, device="cpu")
    doc = run_spectrum(spec)
    assert doc["command"] == "spectrum" and len(doc["cells"]) == 9
    for c in doc["cells"]:
        for q in ("log10_sigma_max", "log10_sigma_min", "log10_condition", "mean_log10_sigma"):
            assert set(c[q]) == {"median", "q05", "q95", "mean"}
        assert c["log10_sigma_max"]["median"] >= c["mean_log10_sigma"]["median"] >= c["log10_sigma_min"]["median"]
        assert c["exact_mean_square"]["factor"] == 0.5
    (crit,) = doc["critical"]
    assert crit["quantity"] == "log10_deviation" and crit["regime_basis"] == "trend"
    assert [r["regime"] for r in crit["regimes"]] == ["explosion", "stable", "identity"]
    assert crit["deviation"]["regimes"] == crit["regimes"] and crit["deviation"]["quantity"] == "log10_deviation"
    # log σ_max → 0 at large β (J_L → I): its trend never reads identity there
    assert crit["sigma_max"]["quantity"] == "log10_sigma_max" and crit["sigma_max"]["regimes"][-1]["regime"] != "identity"
    assert crit["critical_beta"] is not None and 0.1 < crit["critical_beta"] < 1.0
    assert crit["interval"][0] <= crit["critical_beta"] <= crit["interval"][1]
    assert crit["theory_reference"] == 0.5 and crit["theory_basis"]["kind"] == "first-order"
    (hist,) = doc["histograms"]
    assert sum(hist["counts"]) == 8 * 4 and len(hist["edges"]) == len(hist["counts"]) + 1
    assert doc["theory"]["holds"] and doc["lyapunov"][0]["per_beta"][0]["slope_vs_log10_depth"] is not None


def test_segments_grow_where_benign_and_rerun_down_to_one_layer_where_each_layer_loses_many_bits():
    """d = 2, linear model, step 1: 8 identity layers (V = 0), then 8 layers I + c u_k u_kᵀ with
    c = 2^12 and random unit u_k: each such layer alone costs the QR about 12 bits (below the
    16-bit target), two of them about 24 (above). The adaptive schedule: segments of 1, 1, 2, 4
    layers over the identity layers (doubling from 1, ending on multiples of their length), then
    the 8-layer segment is rerun a quarter as long (2 layers), then again (1 layer), and every
    later segment stays at 1 layer (a 12-bit loss aims at 8/12 of a layer): 4 + 8 = 12 QR steps.
    log2 σ against references written here: σ_1 by power iteration with carried log-norms,
    σ_1 σ_2 = Π |det(I + c u uᵀ)| = (1 + c)^8."""
    rng = np.random.default_rng(2)
    c, d = 2.0**12, 2
    V = np.zeros((1, 16, d, d))
    for k in range(8, 16):
        u = rng.standard_normal(d)
        u /= np.linalg.norm(u)
        V[0, k] = c * np.outer(u, u)
    out = jacobian_spectrum(_linear_net(V), torch.from_numpy(rng.standard_normal((1, 1, d))),
                            torch.tensor([1.0], dtype=torch.float64))
    assert out.segments == [12]
    assert 10.0 < out.loss_bits <= 16.0  # the accepted segments each lost about 12 bits
    got = out.log2_sigma[0, 0].numpy()
    top = _power_log2_sigma_max(V[0], 1.0)
    assert not out.bad.any()
    assert got[0] == pytest.approx(top, rel=1e-10)
    assert got.sum() == pytest.approx(8 * math.log2(1 + c), rel=1e-10)
