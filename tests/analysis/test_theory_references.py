"""References per (law, model, activation, ratio) with their basis (analysis.theory), and the
first-order finite-(L, d) sums checked against independent float64 code and Monte Carlo."""

import math

import numpy as np
import pytest

from resnet_scale_cli.analysis import theory


def fgn_gamma(lags, H):
    """Unit-variance fGn autocovariance, written here independently."""
    k = np.abs(np.asarray(lags, dtype=np.float64))
    return 0.5 * (np.abs(k + 1) ** (2 * H) - 2 * k ** (2 * H) + np.abs(k - 1) ** (2 * H))


@pytest.mark.parametrize("activation", ["tanh", "identity"])
@pytest.mark.parametrize("quantity", ["output", "gradient"])
def test_odd_activation_full_model_reference_is_max_half_2h_minus_1(activation, quantity):
    """Full model, σ odd: increments are products of two fGn sequences, max(1/2, 2H − 1) —
    not max(1/2, H) (tanh at H = 0.7 measured 0.535 by the review)."""
    for H, expected in ((0.3, 0.5), (0.7, 0.5), (0.75, 0.5), (0.9, 0.8)):
        ref = theory.reference("fbm", quantity, model="full", activation=activation, hurst=H)
        assert ref.basis == "first-order"
        assert ref.value == pytest.approx(expected)
        assert "2H − 1" in ref.statement or H < 0.5


@pytest.mark.parametrize("model,activation", [("full", "relu"), ("full", "leaky_relu"), ("full", "gelu"),
                                              ("simple", "tanh"), ("simple", "relu"), ("linear", "relu")])
def test_output_reference_is_max_half_h_where_mean_is_nonzero_or_simple_linear(model, activation):
    for H in (0.2, 0.5, 0.7, 0.9):
        ref = theory.reference("fbm", "output", model=model, activation=activation, hurst=H)
        assert ref.value == pytest.approx(max(0.5, H))
        assert ref.basis == ("theorem" if H == 0.5 and (model, activation) == ("full", "relu") else "first-order")


def test_iid_theorem_covers_the_full_relu_model_for_both_ratios_only():
    for quantity in ("output", "gradient"):
        ref = theory.reference("iid", quantity, model="full", activation="relu")
        assert (ref.value, ref.basis) == (0.5, "theorem")
        assert "Marion" in ref.source and ("gradient" in ref.statement) == (quantity == "gradient")
        for model, activation in (("full", "tanh"), ("simple", "relu"), ("linear", "relu")):
            other = theory.reference("iid", quantity, model=model, activation=activation)
            assert (other.value, other.basis, other.source) == (0.5, "first-order", None)


@pytest.mark.parametrize("law", ["rbf", "tied"])
def test_lipschitz_weights_theorem_for_the_output_first_order_for_the_gradient(law):
    out = theory.reference(law, "output", model="full", activation="tanh")
    grad = theory.reference(law, "gradient")
    assert (out.value, out.basis) == (1.0, "theorem") and "Lipschitz" in out.statement
    assert (grad.value, grad.basis) == (1.0, "first-order")


def test_fbm_gradient_of_full_relu_model_has_no_asymptotic_line_but_a_labelled_prediction():
    plain = theory.reference("fbm", "gradient", model="full", activation="relu", hurst=0.7)
    assert plain.value is None and plain.basis == "none" and plain.prediction is None
    ref = theory.reference("fbm", "gradient", model="full", activation="relu", hurst=0.7, width=40,
                           depths=(1000, 3000, 10000, 30000, 100000))
    assert ref.value is None and ref.basis == "prediction"
    pred = ref.prediction
    assert 0.5 <= pred.critical_beta < 0.7  # between max(1/2, 2H − 1) and H
    assert 1e5 < pred.crossover_depth < 1e6  # the review's "≈ 10⁵–10⁶ at d = 40, H = 0.7"
    # the crossover grows with d, and the prediction falls with d (0.705, 0.688, 0.598 measured)
    by_width = [theory.reference("fbm", "gradient", hurst=0.8, width=d, depths=(1000, 10000, 100000)).prediction
                for d in (8, 40, 200)]
    assert by_width[0].crossover_depth < by_width[1].crossover_depth < by_width[2].crossover_depth
    assert by_width[0].critical_beta > by_width[1].critical_beta > by_width[2].critical_beta
    # gelu: the same long-memory share, but no closed form implemented: no line, no prediction
    gelu = theory.reference("fbm", "gradient", activation="gelu", hurst=0.7, width=40, depths=(100, 1000))
    assert (gelu.value, gelu.basis, gelu.prediction) == (None, "none", None)


@pytest.mark.slow
def test_increment_correlation_against_monte_carlo():
    """A(γ) = E[u·u'] / ‖q‖² for u = σ(W h) (output, q = h) and u = σ'(W h) ⊙ W q with isotropic q
    (gradient), rows of W and W' correlated γ entry-wise: Monte Carlo over 400 000 rows in
    float64, tolerance 5 standard errors."""
    rng = np.random.default_rng(7)
    d, n = 4, 400_000
    h = np.array([1.0, 0.0, 0.0, 0.0])
    # one set of draws serves every case: each assertion is a valid test on its own (the cases'
    # estimates are dependent, which a Bonferroni bound over them does not need)
    w, z = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    q = rng.standard_normal((n, d))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    for activation, (a, b) in (("relu", (0.0, 1.0)), ("leaky_relu", (0.01, 1.0)), ("identity", (1.0, 1.0))):
        for g in (0.0, 0.35, 0.8):
            w2 = g * w + math.sqrt(1 - g * g) * z

            def sig(x):
                return np.where(x > 0, b * x, a * x)

            def dsig(x):
                return np.where(x > 0, b, a)

            x, x2 = w @ h, w2 @ h
            out = sig(x) * sig(x2)
            # d rows of variance 1/d each: E[u·u'] is the mean over standard rows of one row's product
            grad = dsig(x) * (w * q).sum(1) * dsig(x2) * (w2 * q).sum(1)
            for quantity, samples in (("output", out), ("gradient", grad)):
                got = float(theory.increment_correlation(np.array([g]), quantity, (a, b), d)[0])
                se = samples.std() / math.sqrt(n)
                assert abs(samples.mean() - got) < 5 * se, (activation, g, quantity, samples.mean(), got, se)


def test_first_order_sum_against_a_direct_double_sum():
    """S(L) = Σ_{k,k'} γ(k−k') A(γ(k−k')) over k, k' < L by an explicit double loop in float64,
    long part A(0) L^{2H} (Σ_{k,k'} γ(k−k') = L^{2H} for fGn), at small depths."""
    for H, quantity, d in ((0.7, "gradient", 40), (0.85, "output", 8), (0.3, "gradient", 5)):
        a0 = float(theory.increment_correlation(np.zeros(1), quantity, (0.0, 1.0), d)[0])
        for L in (7, 50):
            lags = np.subtract.outer(np.arange(L), np.arange(L))
            gam = fgn_gamma(lags, H)
            total = float((gam * theory.increment_correlation(gam, quantity, (0.0, 1.0), d)).sum())
            assert float(gam.sum()) == pytest.approx(L ** (2 * H), rel=1e-12)
            long, short = theory.first_order_sum(L, H, quantity, (0.0, 1.0), d)
            assert long == pytest.approx(a0 * L ** (2 * H), rel=1e-12)
            assert long + short == pytest.approx(total, rel=1e-10)


def test_crossover_depth_by_brute_force_search():
    """L* (long-memory part A(0) L^{2H} equals the rest) against a scan of integer depths with
    direct sums, for the output (A(0) = 1/(2π)) and the gradient (A(0) = 1/(2πd)), ReLU."""
    for H, quantity, d in ((0.9, "output", 40), (0.7, "output", 40), (0.9, "gradient", 3)):
        star = theory.crossover_depth(H, quantity, (0.0, 1.0), d)
        a0 = 1 / (2 * math.pi) / (d if quantity == "gradient" else 1)
        j = np.arange(1, 20000)
        gam = fgn_gamma(j, H)
        corr = theory.increment_correlation(gam, quantity, (0.0, 1.0), d)
        b0 = 0.5 - a0  # lag 0: γ = 1, A(1) = E relu(x)² = 1/2
        for L in range(2, 20000):
            short = L * b0 + 2 * float(((L - j[: L - 1]) * gam[: L - 1] * (corr[: L - 1] - a0)).sum())
            if a0 * L ** (2 * H) >= short:
                break
        assert L - 1 <= star <= L, (H, quantity, star, L)


def test_exact_identity_factor_and_refusals():
    f = theory.exact_identity_factor
    assert f("iid", "full", "relu") == 0.5
    assert f("iid", "full", "leaky_relu") == pytest.approx((1 + 0.01**2) / 2)
    assert f("iid", "full", "identity") == 1.0
    assert f("iid", "linear", "tanh") == 1.0
    assert f("iid", "full", "relu", dist="rademacher") == 0.5
    for args in (("iid", "full", "tanh"), ("iid", "full", "gelu"), ("iid", "simple", "relu"), ("rbf", "full", "relu"),
                 ("fbm", "full", "relu"), ("tied", "linear", "relu")):
        assert f(*args) is None and theory.exact_identity_refusal(*args)
    assert 10 ** theory.log10_exact_mean_square(0.5, 200, 0.5) == pytest.approx((1 + 1 / 400) ** 200 - 1, rel=1e-12)


def relu_output_correlation(g):
    """A(γ) of the ReLU output increment: E relu(x) relu(x') = κ(γ), the arc-cosine kernel
    (√(1 − γ²) + γ (π − arccos γ))/(2π), written here."""
    g = np.asarray(g, dtype=np.float64)
    return (np.sqrt(1 - g * g) + g * (math.pi - np.arccos(g))) / (2 * math.pi)


@pytest.mark.parametrize("H", [0.7, 0.8])
def test_first_order_sum_past_the_exact_lags_against_a_direct_sum(H):
    """Beyond 2^16 lags the short part uses a power-law integral for the tail: against the
    direct sum L b(0) + 2 Σ_{j=1}^{L−1} (L − j) b(j), b(j) = γ(j)(A(γ(j)) − A(0)), in float64 at
    L = 2·10^5 and 10^6 (the tail is 9 % and 31 % of it at H = 0.8). The tail's relative error
    is of order γ(2^16) (the next term of A), so 1e-3 of the whole is ample."""
    a0 = 1 / (2 * math.pi)
    for L in (200_000, 1_000_000):
        j = np.arange(1, L, dtype=np.float64)
        gam = fgn_gamma(j, H)
        b = gam * (relu_output_correlation(gam) - a0)
        direct = L * (0.5 - a0) + 2 * float(((L - j) * b).sum())
        long, short = theory.first_order_sum(L, H, "output", (0.0, 1.0), 40)
        assert long == pytest.approx(a0 * L ** (2 * H), rel=1e-12)
        assert short == pytest.approx(direct, rel=1e-3), (L, short, direct)


def test_mean_square_units_are_draw_means_or_samples():
    """ratio² = 10^{2v}: squares 10..15. Three draws of two inputs: units are the draw means
    10.5, 12.5, 14.5 (s.e. 2/√3); one draw of six inputs, or inputs not dividing the samples:
    the six samples are the units (s.e. √3.5/√6). All returned in log10."""
    v = [0.5 * math.log10(s) for s in range(10, 16)]
    got = theory.mean_square(v, 2)
    assert got.units == 3 and 10 ** got.log10_mean == pytest.approx(12.5, rel=1e-12)
    assert 10 ** got.log10_stderr == pytest.approx(2 / math.sqrt(3), rel=1e-12)
    assert got.relative_stderr == pytest.approx(2 / math.sqrt(3) / 12.5, rel=1e-12) and got.stderr_note is None
    for per_draw in (6, 4, 1):
        got = theory.mean_square(v, per_draw)
        assert got.units == 6 and 10 ** got.log10_mean == pytest.approx(12.5, rel=1e-12)
        assert 10 ** got.log10_stderr == pytest.approx(math.sqrt(3.5) / math.sqrt(6), rel=1e-12)
    single = theory.mean_square([0.0], 1)
    assert (single.log10_mean, single.log10_stderr, single.units) == (0.0, None, 1) and "single" in single.stderr_note
    overflowed = theory.mean_square([0.1, None, 0.2], 1)
    assert overflowed.log10_mean is None and overflowed.units == 3 and "1 of 3" in overflowed.stderr_note
    assert theory.mean_square([], 1).log10_mean is None


def test_mean_square_stays_exact_far_past_the_float_range():
    """Log ratios of 10^150 … 10^400 (ratio² past 10^308): the log-mean-exp equals the mean
    written out with mpmath at 50 digits, the s.e. too, and nothing is inf or NaN."""
    import mpmath

    mpmath.mp.dps = 50
    for shift in (150.0, 400.0, -400.0):
        v = [shift + x for x in (0.0, 0.01, 0.02, 0.015, 0.005, 0.03)]
        got = theory.mean_square(v, 1)
        sq = [mpmath.mpf(10) ** (2 * mpmath.mpf(x)) for x in v]
        mean = sum(sq) / len(sq)
        sd = mpmath.sqrt(sum((s - mean) ** 2 for s in sq) / (len(sq) - 1))
        assert got.log10_mean == pytest.approx(float(mpmath.log10(mean)), abs=1e-12)
        assert got.log10_stderr == pytest.approx(float(mpmath.log10(sd / mpmath.sqrt(len(sq)))), abs=1e-9)
        assert got.relative_stderr == pytest.approx(float(sd / mpmath.sqrt(len(sq)) / mean), rel=1e-9)


def test_mean_square_refuses_a_standard_error_under_heavy_tails():
    """Natural logs of ratio² spread by s: the mean of n lognormal values has skewness
    (e^{s²} + 2)√(e^{s²} − 1)/√n — 0.34 at s = 0.3, n = 8 (s.e. reported), 1.30 at s = 0.8
    (withheld, z neither); the same s = 0.8 over 32 units gives 0.65 (reported)."""
    base = np.array([-1.5, -1.0, -0.5, -0.1, 0.1, 0.5, 1.0, 1.5])
    for s_target, reps, available in ((0.3, 1, True), (0.8, 1, False), (0.8, 4, True)):
        z = np.tile(base, reps)
        ln_sq = z / z.std(ddof=1) * s_target
        got = theory.mean_square(list(ln_sq / (2 * math.log(10))), 1)
        assert (got.log10_stderr is not None) is available, got
        if not available:
            assert got.stderr_note.startswith("heavy tails") and got.z(0.0) is None


@pytest.mark.parametrize("factor, depth, beta", [(0.5, 200, 0.5), (0.5, 4000, 0.1), (0.5, 2000, 0.0), (1.0, 5000, 0.1),
                                                 (0.5, 10**7, 0.0), (0.5, 1000, 5.0), (1.0, 10, 200.0), (0.5, 1, 0.0),
                                                 (0.50005, 3000, 0.05), (0.5, 100, 0.25), (1.0, 20, 0.25),
                                                 (0.5, 1000, 0.25)])
def test_log10_exact_mean_square_against_mpmath(factor, depth, beta):
    """log10((1 + c L^{-2β})^L − 1) at 60 digits with mpmath: from 10^-400 (β = 200) to
    10^(1.7·10^6) (β = 0, L = 10^7), where the float formula overflows, and x = L ln(1 + c L^{-2β})
    between 1 and 30, where the − 1 still matters (4.9, 4.0, 15.7); the gain without − 1 too."""
    import mpmath

    mpmath.mp.dps = 60
    c, L, b = mpmath.mpf(factor), mpmath.mpf(depth), mpmath.mpf(beta)
    ln_gain = L * mpmath.log1p(c * L ** (-2 * b))  # 60 digits of ln (1 + c L^{-2β})^L, even at 10^-400
    assert theory.log10_exact_mean_square(factor, depth, beta) == pytest.approx(
        float(mpmath.log10(mpmath.expm1(ln_gain))), rel=1e-12)
    assert theory.log10_exact_mean_square(factor, depth, beta, minus_one=False) == pytest.approx(
        float(ln_gain / mpmath.log(10)), rel=1e-12, abs=1e-300)


def test_exact_comparison_by_hand():
    """iid, full ReLU, d-free exact E[ratio²] = (1 + ½ L^{-2β})^L − 1 beside the Monte Carlo mean
    of each ratio measured, its s.e. over draws and z = (mean − exact)/s.e., in log10."""
    depth, beta = 100, 0.5
    exact = (1 + 0.5 / 100) ** 100 - 1
    out_sq, grad_sq = [0.5, 0.7, 0.4, 0.9], [1.0, 0.2, 0.6, 0.8]
    values = {"output_log10": [0.5 * math.log10(s) for s in out_sq],
              "gradient_log10": [0.5 * math.log10(s) for s in grad_sq]}
    got = theory.exact_comparison("iid", "full", "relu", "gaussian", depth, beta, values, 2)
    assert got["factor"] == 0.5
    for q, sq in (("output", out_sq), ("gradient", grad_sq)):
        units = np.array(sq).reshape(2, 2).mean(1)
        se = units.std(ddof=1) / math.sqrt(2)
        assert got[q] == {"log10_exact": pytest.approx(math.log10(exact), rel=1e-12),
                          "log10_mean": pytest.approx(math.log10(units.mean()), rel=1e-12),
                          "log10_stderr": pytest.approx(math.log10(se), rel=1e-12),
                          "relative_stderr": pytest.approx(se / units.mean(), rel=1e-12), "stderr_note": None,
                          "units": 2, "z": pytest.approx((units.mean() - exact) / se, rel=1e-10)}
    only_output = theory.exact_comparison("iid", "full", "relu", "gaussian", depth, beta,
                                          {"output_log10": values["output_log10"]}, 2)
    assert only_output["gradient"] is None and only_output["output"]["units"] == 2
    assert theory.exact_comparison("iid", "full", "tanh", "gaussian", depth, beta, values, 2) is None


def test_z_in_the_explosion_regime_is_finite_and_right():
    """Mean 10^350·(1 ± …) against an exact 10^350·1.05: z computed relative to the larger value
    equals the same z computed at 10^0 (scale-free), where floats suffice."""
    base = [0.0, 0.02, 0.04, 0.01, 0.03, 0.05, 0.015, 0.025]
    small, big = theory.mean_square(base, 1), theory.mean_square([x + 350.0 for x in base], 1)
    exact = math.log10(1.05 * 10 ** small.log10_mean)
    assert big.z(exact + 700.0) == pytest.approx(small.z(exact), rel=1e-9)
    assert math.isfinite(big.z(exact + 700.0))
    tiny_se = theory.MeanSquare(log10_mean=-10.0, log10_stderr=-11.0, relative_stderr=0.1, units=2)
    assert tiny_se.z(300.0) == -1e300  # the gap is 10^311 s.e.: capped, finite, negative
    assert tiny_se.z(-10.0 + math.log10(1.2)) == pytest.approx(-2.0, rel=1e-9)


def test_predictions_are_attached_wherever_the_formula_applies():
    """fBm, full model, piecewise-linear σ, a width and two depths or more: a prediction for the
    output too, and below H = 1/2 (where L* is None: the long-memory part never takes over);
    its depths sorted and deduplicated, its width an int; none without two distinct depths."""
    low = theory.reference("fbm", "output", model="full", activation="relu", hurst=0.3, width=10.0,
                           depths=(1000, 100, 1000))
    assert (low.value, low.basis) == (0.5, "first-order")
    pred = low.prediction
    assert pred.crossover_depth is None and pred.depths == (100, 1000) and pred.width == 10
    assert pred.to_dict()["crossover_depth"] is None and pred.to_dict()["depths"] == [100, 1000]
    high = theory.reference("fbm", "output", model="full", activation="relu", hurst=0.7, width=40,
                            depths=(100, 1000)).prediction
    assert high is not None and high.depths == (100, 1000) and high.width == 40
    assert 0.5 <= high.critical_beta <= 0.7 and high.crossover_depth >= 1.0
    assert float(f"{high.crossover_depth:.4g}") == high.to_dict()["crossover_depth"]
    assert theory.reference("fbm", "output", hurst=0.7, width=40, depths=(100, 100)).prediction is None
    leaky = theory.reference("fbm", "gradient", activation="leaky_relu", hurst=0.7, width=40, depths=(100, 1000))
    assert leaky.basis == "prediction" and leaky.prediction is not None


def test_predicted_critical_beta_is_half_the_least_squares_slope_of_log_s():
    """max(1/2, s/2), s the least-squares slope of log10 S(L) on log10 L, S = long + short from
    first_order_sum (checked above against direct sums), here with numpy's polyfit."""
    depths = (100, 300, 1000, 3000)
    for H, quantity in ((0.9, "output"), (0.7, "gradient")):
        S = [sum(theory.first_order_sum(L, H, quantity, (0.0, 1.0), 8)) for L in depths]
        slope = np.polyfit(np.log10(depths), np.log10(S), 1)[0]
        got = theory.predicted_critical_beta(depths, H, quantity, (0.0, 1.0), 8)
        assert got == pytest.approx(max(0.5, slope / 2), rel=1e-12)
    assert theory.predicted_critical_beta(depths, 0.9, "output", (0.0, 1.0), 8) > 0.5


def test_adjoint_bound_rates_and_their_basis():
    """Reverse Euler: rate 1 whatever the law; reverse Heun: min(1 + δ, 2), δ = 0 (iid, fbm),
    1 (rbf), ∞ (tied); None off β = 1 (either side)."""
    for law, heun in (("iid", 1.0), ("fbm", 1.0), ("rbf", 2.0), ("tied", 2.0)):
        assert theory.adjoint_bound_rate("resnet", law) == 1.0
        assert theory.adjoint_bound_rate("heunnet", law) == heun
        assert theory.adjoint_bound_rate("heunnet", law, 1.0) == heun
        for beta in (0.5, 2.0):
            assert theory.adjoint_bound_rate("resnet", law, beta) is None
            assert theory.adjoint_bound_rate("heunnet", law, beta) is None
    assert "reverse Euler" in theory.adjoint_bound_basis("resnet", "rbf")
    assert "Δ = O(N^-1) for --law rbf" in theory.adjoint_bound_basis("heunnet", "rbf")
    assert "Δ = O(N^-0) for --law iid" in theory.adjoint_bound_basis("heunnet", "iid")
    assert "Δ = 0 (tied weights)" in theory.adjoint_bound_basis("heunnet", "tied")


def test_critical_beta_reference_is_the_output_reference():
    assert theory.critical_beta_reference("fbm", hurst=0.7) == pytest.approx(0.7)
    assert theory.critical_beta_reference("fbm", hurst=0.9, activation="tanh") == pytest.approx(0.8)
    assert theory.critical_beta_reference("fbm", hurst=0.3) == 0.5
    assert theory.critical_beta_reference("rbf", lengthscale=0.2) == 1.0
    assert theory.critical_beta_reference("iid") == 0.5
    assert theory.critical_beta_reference("gp") is None


def test_a_ratio_of_exactly_zero_is_a_zero_not_an_overflow():
    """At width 1 the residual branch can vanish (σ(w h) = 0), so h_L = h_0 and log10 ratio = −∞:
    a square of 0 in the mean (1 and 0 average to 1/2), no s.e. (the lognormal reading does not
    apply), and never counted as an overflow."""
    half = theory.mean_square([float("-inf"), 0.0], 1)
    assert half.log10_mean == pytest.approx(math.log10(0.5), abs=1e-12) and half.log10_stderr is None
    assert "exactly 0" in half.stderr_note and "overflow" not in half.stderr_note
    zero = theory.mean_square([float("-inf")] * 4, 2)
    assert zero.log10_mean is None and "exactly 0" in zero.stderr_note
    assert "overflowed" in theory.mean_square([float("nan"), 0.0], 1).stderr_note
