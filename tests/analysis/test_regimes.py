"""Regimes and critical β read from synthetic depth trends whose slopes are known exactly: the
threshold τ = 0.05 decade per decade, the crossing by interpolation, the grid-bound cases."""

import numpy as np
import pytest

from resnet_scale_cli.analysis.regimes import analyze, analyze_setting

DEPTHS = (100, 1000, 10000)


def _records(slope_of_beta, betas, *, samples=4, noise=0.0, seed=0, law="fbm"):
    """Cells whose per-sample log10 ratio is slope(β)·log10 L (+ Gaussian noise of s.d. `noise`)."""
    rng = np.random.default_rng(seed)
    records = []
    for depth in DEPTHS:
        rows = [(slope_of_beta(b) * np.log10(depth) + noise * rng.standard_normal(samples)).tolist() for b in betas]
        records.append({"cell": {"law": law, "hurst": 0.7, "depth": depth}, "betas": list(betas),
                        "values": {"output_log10": rows}, "inputs_per_draw": 1})
    return records


@pytest.mark.parametrize("slope, regime", [
    (0.0, "stable"), (0.049, "stable"), (-0.049, "stable"),
    (0.051, "explosion"), (-0.051, "identity"), (2.0, "explosion"), (-2.0, "identity"),
])
def test_regime_thresholds_just_inside_and_outside_tau(slope, regime):
    got = analyze_setting(_records(lambda b: slope, (0.5,)))["regimes"][0]
    assert got["slope"] == pytest.approx(slope, abs=1e-12)
    assert got["regime"] == regime


def test_overflowed_samples_count_as_explosion():
    records = _records(lambda b: -1.0, (0.5,))
    for r in records:
        r["values"]["output_log10"] = [[None] * 4]
    assert analyze_setting(records)["regimes"][0]["regime"] == "explosion"


def test_critical_beta_is_the_interpolated_zero_of_a_linear_slope_curve():
    betas = (0.3, 0.45, 0.55, 0.9)
    got = analyze_setting(_records(lambda b: 0.52 - b, betas))
    assert got["critical_beta"] == pytest.approx(0.52, abs=1e-12)
    assert got["interval"] == [pytest.approx(0.52, abs=1e-12)] * 2  # noiseless: every bootstrap agrees
    assert got["bound"] is None
    assert [r["regime"] for r in got["regimes"]] == ["explosion", "explosion", "stable", "identity"]


@pytest.mark.parametrize("offset, bound", [(0.1, "below grid"), (2.0, "above grid")])
def test_critical_beta_outside_the_grid_is_a_bound(offset, bound):
    got = analyze_setting(_records(lambda b: offset - b, (0.3, 0.6, 0.9)))
    assert got["critical_beta"] is None and got["bound"] == bound


def test_bootstrap_interval_covers_the_true_crossing_at_its_level():
    """Noisy trends (s.d. 0.05 per sample, 32 samples per cell) around slope 0.6 − β: the 95 %
    bootstrap interval of the crossing covers 0.6 in at least 17 of 20 independent repetitions
    (a binomial(20, 0.95) falls below 17 with probability 1.6 %)."""
    betas = tuple(np.round(np.linspace(0.3, 0.9, 7), 3))
    covered = 0
    for seed in range(20):
        got = analyze_setting(_records(lambda b: 0.6 - b, betas, samples=32, noise=0.05, seed=seed), seed=seed)
        low, high = got["interval"]
        covered += low <= 0.6 <= high
    assert covered >= 17


def test_analyze_groups_cells_by_law_setting_and_reads_both_ratios():
    a = _records(lambda b: 0.4 - b, (0.2, 0.6))
    b = _records(lambda b: 0.8 - b, (0.2, 0.6, 1.0))
    gradient = _records(lambda b: 0.7 - b, (0.2, 0.6, 1.0))
    for r, g in zip(b, gradient):
        r["cell"]["hurst"] = 0.9
        r["values"]["gradient_log10"] = g["values"]["output_log10"]
    entries = analyze(a + b)
    assert [(e["hurst"], e["depths"]) for e in entries] == [(0.7, list(DEPTHS)), (0.9, list(DEPTHS))]
    assert all("depth" not in e for e in entries)
    assert entries[0]["critical_beta"] == pytest.approx(0.4) and "gradient" not in entries[0]
    assert entries[1]["critical_beta"] == pytest.approx(0.8)
    assert entries[1]["gradient"]["critical_beta"] == pytest.approx(0.7)


def test_regime_of_a_slope_exactly_at_tau_is_stable():
    """The documented rule: s > τ explosion, s < −τ identity, else stable (τ = 0.05)."""
    from resnet_scale_cli.analysis.regimes import regime_of

    assert regime_of(0.05) == "stable" and regime_of(-0.05) == "stable"
    assert regime_of(float("nan")) == "explosion" and regime_of(float("inf")) == "explosion"


def test_bootstrap_is_reproducible_for_a_seed_and_changes_with_it():
    records = _records(lambda b: 0.6 - b, (0.3, 0.5, 0.7, 0.9), samples=16, noise=0.2, seed=3)
    first, again = analyze_setting(records, seed=0), analyze_setting(records, seed=0)
    assert first == again
    assert analyze_setting(records, seed=1)["interval"] != first["interval"]


def test_a_single_depth_reads_regimes_from_the_thresholds_and_gives_no_critical_beta():
    """At L = 100 (log10 L = 2) the medians are 2·s(β): +2.0, +0.2, −2.0 decades, read with
    `run`'s thresholds ±1 decade as explosion, stable, identity."""
    slopes = {0.25: 1.0, 0.5: 0.1, 0.75: -1.0}
    got = analyze_setting(_records(lambda b: slopes[b], tuple(slopes))[:1])
    assert got["critical_beta"] is None and got["interval"] == [None, None] and got["bound"] is None
    assert got["regime_basis"] == "threshold"
    assert [r["regime"] for r in got["regimes"]] == ["explosion", "stable", "identity"]
    assert [r["median_at_largest_depth"] for r in got["regimes"]] == pytest.approx([2.0, 0.2, -2.0])


def test_crossing_after_an_overflowed_beta_is_that_beta():
    """β = 0.2 overflows at every depth (slope +∞ by convention), β = 0.6 falls: no interpolation
    across an infinite slope, the crossing is reported at the last exploding β."""
    records = _records(lambda b: 0.5 - b, (0.2, 0.6, 0.9))
    for r in records:
        r["values"]["output_log10"][0] = [None] * 4
    got = analyze_setting(records)
    assert got["critical_beta"] == pytest.approx(0.2) and got["regimes"][0]["regime"] == "explosion"


def test_a_slope_curve_that_starts_non_positive_is_below_the_grid():
    slopes = {0.3: -0.1, 0.6: 0.2, 0.9: -0.3}  # not monotone: the first β already does not explode
    got = analyze_setting(_records(lambda b: slopes[b], tuple(slopes)))
    assert got["critical_beta"] is None and got["bound"] == "below grid"
