"""Every expectation type of check files, passing and failing, on synthetic records whose measured
value is known by construction. Bounds are written from the papers' formulas here, not taken
from `analysis.theory`."""

import math

import numpy as np
import pytest

from resnet_scale_cli.checks.expectations import EXPECTATIONS

WIDTH = 100
SETTING = {"law": "iid"}


def _opts(**extra):
    base = {"quantity": "output", "setting": {}, "min": None, "max": None, "beta": 0.5, "depth": 100}
    return {**base, **extra}


def _stat(values):
    v = np.asarray(values, dtype=float)
    return {"median": float(np.median(v)), "q05": float(np.quantile(v, 0.05)), "q95": float(np.quantile(v, 0.95)),
            "mean": float(v.mean())}


def _record(output_log10, gradient_log10=None, *, depth=100, beta=0.5, overflowed=0):
    """One cell at (L, β) with per-sample log10 ratios and the statistics `run` would report;
    `overflowed` more samples are written as None, as the store writes an overflow."""
    values = {"output_log10": [list(output_log10) + [None] * overflowed]}
    results = {"beta": beta, "depth": depth, "output_log10": _stat(output_log10),
               "samples": len(output_log10) + overflowed, "overflowed": overflowed}
    if gradient_log10 is not None:
        values["gradient_log10"] = [list(gradient_log10)]
        results["gradient_log10"] = _stat(gradient_log10)
    return {"cell": {"law": "iid", "depth": depth}, "betas": [beta], "values": values, "results": [results]}


def _evaluate(kind, records, critical, **opts):
    return EXPECTATIONS[kind].evaluate(records, critical, _opts(**opts), WIDTH)


# ----------------------------------------------------------------------------- statistic
@pytest.mark.parametrize("lo, hi, passed", [(-0.5, -0.3, True), (-0.35, None, False), (None, -0.45, False)])
def test_statistic_within_and_outside_bounds(lo, hi, passed):
    got = _evaluate("statistic", [_record([-0.5, -0.4, -0.3])], [], stat="output_log10.median", min=lo, max=hi)
    assert got["measured"] == pytest.approx(-0.4) and got["passed"] is passed
    assert ("outside" in got["message"]) is (not passed)


def test_statistic_reads_the_named_statistic():
    rec = _record([0.0, 0.0, 3.0])  # median 0, mean 1
    assert _evaluate("statistic", [rec], [], stat="output_log10.mean", min=0.9, max=1.1)["passed"]
    assert not _evaluate("statistic", [rec], [], stat="output_log10.median", min=0.9, max=1.1)["passed"]


# ----------------------------------------------------------------------------- regime
@pytest.mark.parametrize("median, regime", [(-1.2, "identity"), (-0.9, "stable"), (0.9, "stable"), (1.2, "explosion"),
                                           (1.05, "undetermined"), (-1.05, "undetermined")])
def test_regime_at_one_depth_reads_the_median_against_plus_minus_one_decade(median, regime):
    """Three samples m − 0.1, m, m + 0.1: a bootstrap median is m − 0.1 (two picks or more of the
    lowest) with probability 7/27, and m + 0.1 likewise, far above 2.5 % of 400 replicates, so the
    median's 95 % interval is [m − 0.1, m + 0.1]: inside [−1, +1] stable, wholly beyond ±1
    explosion or identity, astride an edge undetermined."""
    rec = _record([median - 0.1, median, median + 0.1])
    for expected in ("identity", "stable", "explosion", "undetermined"):
        got = _evaluate("regime", [rec], [], regime=expected)
        assert got["measured"] == regime and got["passed"] is (expected == regime)


def test_regime_at_one_depth_with_most_samples_overflowed_is_explosion():
    """16 of 20 samples overflowed (+∞): a bootstrap median is finite only when 10 of 20 draws pick
    a finite sample, P(Bin(20, 0.2) ≥ 10) = 0.26 %, so the whole interval lies above +1."""
    rec = _record([-2.0] * 4, overflowed=16)
    assert _evaluate("regime", [rec], [], regime="explosion")["passed"]


def test_regime_at_one_depth_with_a_few_overflowed_is_undetermined():
    """2 of 3 samples overflowed: a bootstrap median is finite (−2) with probability 7/27 > 2.5 %,
    so the median's interval runs from −2 to +∞ and straddles the band: undetermined."""
    got = _evaluate("regime", [_record([-2.0], overflowed=2)], [], regime="explosion")
    assert got["measured"] == "undetermined" and not got["passed"] and "+∞" in got["message"]


def test_regime_at_one_depth_with_a_minority_overflowed_reads_the_median():
    """1 of 9 samples overflowed: a bootstrap median is +∞ only when 5 of 9 draws pick it,
    P(Bin(9, 1/9) ≥ 5) = 0.14 %, so the interval is [−2, −2] and the median −2 decides (identity)."""
    rec = _record([-2.0] * 8, overflowed=1)
    got = _evaluate("regime", [rec], [], regime="identity")
    assert got["measured"] == "identity" and got["passed"]


def test_regime_from_the_depth_trend_reads_the_analysis_for_the_quantity_asked():
    critical = [{"law": "iid", "regimes": [{"beta": 0.5, "regime": "stable", "slope": 0.01, "slope_interval": [-0.02, 0.04]}],
                 "gradient": {"regimes": [{"beta": 0.5, "regime": "identity", "slope": -0.2,
                                           "slope_interval": [-0.3, -0.1]}]}}]
    assert _evaluate("regime", [], critical, regime="stable", depth=None, setting=SETTING)["passed"]
    got = _evaluate("regime", [], critical, regime="stable", depth=None, setting=SETTING, quantity="gradient")
    assert not got["passed"] and got["measured"] == "identity" and "slope -0.200 [-0.300, -0.100]" in got["message"]


# ----------------------------------------------------------------------------- critical β
def _critical(value, interval, bound=None):
    return [{"law": "iid", "critical_beta": value, "interval": interval, "bound": bound,
             "gradient": {"critical_beta": 0.9, "interval": [0.85, 0.95], "bound": None}}]


def test_critical_beta_is_judged_on_the_estimate_not_its_interval():
    critical = _critical(0.5, [0.3, 0.7])
    assert _evaluate("critical_beta", [], critical, min=0.45, max=0.55, setting=SETTING)["passed"]
    got = _evaluate("critical_beta", [], critical, min=0.6, max=0.8, setting=SETTING)
    assert got["measured"] == 0.5 and not got["passed"]


def test_critical_beta_of_the_gradient_and_outside_the_grid():
    critical = _critical(0.5, [0.45, 0.55])
    assert _evaluate("critical_beta", [], critical, min=0.8, max=1.0, setting=SETTING, quantity="gradient")["passed"]
    beyond = _critical(None, [None, None], bound="above grid")
    got = _evaluate("critical_beta", [], beyond, min=0.0, max=2.0, setting=SETTING)
    assert not got["passed"] and "above grid" in got["message"]


@pytest.mark.parametrize("of", ["sigma_max", "condition", "deviation"])
def test_spectrum_critical_beta_reads_the_ratio_it_names_and_says_within_or_outside(of):
    """The spectrum's entry is the deviation's reading; σ_max and cond sit under their names."""
    info = {"critical_beta": 0.7, "interval": [0.6, 0.8], "bound": None}
    critical = [{"law": "iid", **info, "deviation": info,
                 "sigma_max": {"critical_beta": 0.5, "interval": [0.4, 0.6], "bound": None},
                 "condition": {"critical_beta": 0.9, "interval": [0.8, 1.0], "bound": None}}]
    value = {"sigma_max": 0.5, "condition": 0.9, "deviation": 0.7}[of]
    for lo, hi, passed in ((value - 0.05, value + 0.05, True), (value + 0.05, value + 0.1, False)):
        got = _evaluate("spectrum_critical_beta", [], critical, of=of, min=lo, max=hi, setting=SETTING)
        assert got["measured"] == value and got["passed"] is passed
        assert ("within" in got["message"]) is passed and ("outside" in got["message"]) is (not passed)


# ----------------------------------------------------------------------------- theorems
def _output_interval_bounds(d, delta):
    """Marion et al., i.i.d. weights at β = 1/2: P(low < ‖h_L − h_0‖²/‖h_0‖² < high) ≥ 1 − δ."""
    return math.exp(3 / 8 - math.sqrt(22 / (d * delta))) - 1, math.exp(1 + math.sqrt(10 / (d * delta))) + 1


@pytest.mark.parametrize("inside, passed", [(4, True), (2, True), (1, False), (0, False)])
def test_iid_output_interval_theorem_counts_samples_inside_the_interval(inside, passed):
    """At d = 1000, δ = 1/2 the interval is (e^{3/8−√0.044} − 1, e^{1+√0.02} + 1) ≈ (0.179, 4.13):
    samples below, inside and above it; the theorem asks for a fraction ≥ 1 − δ inside."""
    low, high = _output_interval_bounds(1000, 0.5)
    assert low > 0
    outside = 4 - inside
    ratios_sq = [math.sqrt(low * high)] * inside + [low / 2] * (outside // 2) + [2 * high] * (outside - outside // 2)
    rec = _record([0.5 * math.log10(r) for r in ratios_sq])
    got = EXPECTATIONS["theorem"].evaluate([rec], [], _opts(theorem="iid-output-interval", delta=0.5), 1000)
    assert got["measured"] == pytest.approx(inside / 4) and got["passed"] is passed


def test_iid_output_interval_theorem_uses_the_width_and_delta():
    """At d = 100, δ = 1/2 the upper bound is e^{1+√0.2} + 1 ≈ 5.27; at d = 10 it is ≈ 8.5; at
    δ = 0.9 and d = 100 it is e^{1+√(1/9)} + 1 ≈ 4.79."""
    high_100 = _output_interval_bounds(100, 0.5)[1]
    rec = _record([0.5 * math.log10(1.1 * high_100)] * 4)
    assert not _evaluate("theorem", [rec], [], theorem="iid-output-interval", delta=0.5)["passed"]
    assert EXPECTATIONS["theorem"].evaluate([rec], [], _opts(theorem="iid-output-interval", delta=0.5), 10)["passed"]
    between = _record([0.5 * math.log10(0.5 * (_output_interval_bounds(100, 0.9)[1] + high_100))] * 4)
    assert _evaluate("theorem", [between], [], theorem="iid-output-interval", delta=0.5)["passed"]
    got = _evaluate("theorem", [between], [], theorem="iid-output-interval", delta=0.9)
    assert got["measured"] == 0.0 and not got["passed"]  # 0 % inside < 10 % asked
    assert "at least 10%" in got["message"]


def test_iid_gradient_expectation_theorem_allows_sampling_error_only():
    """e^{1/2} − 1 ≤ E ‖p_0 − p_L‖²/‖p_L‖² ≤ e^4 − 1: a mean of 2.0 passes; a mean of 60 with
    s.e. 1 is 6 s.e. above e^4 − 1 ≈ 53.6 and fails; a mean of 0.60 with s.e. 0.01 is 4.9 s.e.
    below e^{1/2} − 1 ≈ 0.6487 and fails, while s.e. 0.03 (1.6 s.e.) passes."""
    def rec(ratios_sq):
        return _record([0.0] * len(ratios_sq), [0.5 * math.log10(r) for r in ratios_sq])

    def check(ratios_sq):
        return _evaluate("theorem", [rec(ratios_sq)], [], theorem="iid-gradient-expectation")

    def spread(mean, se, n=100):  # n values with this mean and standard error of the mean
        half = se * math.sqrt(n) * math.sqrt((n - 1) / n)
        return [mean - half, mean + half] * (n // 2)

    assert check(spread(2.0, 0.1))["passed"]
    got = check(spread(60.0, 1.0))
    assert not got["passed"] and got["measured"] == pytest.approx(60.0) and got["stderr"] == pytest.approx(1.0)
    assert not check(spread(0.60, 0.01))["passed"]
    assert check(spread(0.60, 0.03))["passed"]
