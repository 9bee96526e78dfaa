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
    assert theory.exact_mean_square(0.5, 200, 0.5) == pytest.approx((1 + 1 / 400) ** 200 - 1, rel=1e-12)
