"""Power-law fits against depth (analysis.rates.power_law_fit): the point slope by least squares
written here (numpy's lstsq), and the percentile bootstrap re-implemented here from its
documented definition (each depth's samples resampled with replacement, independently across
depths, from the stream of (seed, key)), so the interval's bounds are checked exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_scale_cli import seeding
from resnet_scale_cli.analysis.rates import power_law_fit


def ls_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of the rows of y (..., n) against x (n,), by numpy's lstsq."""
    design = np.stack([np.ones_like(x), x], axis=1)
    rows = y.reshape(-1, x.size).T
    coef = np.linalg.lstsq(design, rows, rcond=None)[0]
    return coef[1].reshape(y.shape[:-1])


def reference_fit(depths, samples, *, seed, key, statistic, n_boot, level):
    """The fit by its definition: depths sorted, non-finite and non-positive samples dropped,
    log10 of the rest; statistic per depth; bootstrap draws n_boot resamples per depth in the
    order of increasing depth from numpy's default_rng(stream_seed(seed, (name_key(key),)))."""
    stat = {"median": np.median, "mean": np.mean}[statistic]
    pairs = sorted(zip(depths, samples), key=lambda p: p[0])
    x = np.log10([float(L) for L, _ in pairs])
    logs = []
    for _, v in pairs:
        v = np.asarray(v, dtype=np.float64)
        logs.append(np.log10(v[np.isfinite(v) & (v > 0)]))
    point = np.array([stat(v) for v in logs])
    rng = np.random.default_rng(seeding.stream_seed(seed, (seeding.name_key(key),)))
    boot = np.empty((n_boot, len(logs)))
    for j, v in enumerate(logs):
        idx = rng.integers(0, v.size, (n_boot, v.size))
        boot[:, j] = stat(v[idx], axis=1)
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]

    def fit(cols):
        lo, hi = np.percentile(ls_slopes(x[cols], boot[:, cols]), q)
        return float(ls_slopes(x[cols], point[cols])), [float(lo), float(hi)]

    whole = fit(slice(None))
    pairwise = [([pairs[i][0], pairs[i + 1][0]], *fit(slice(i, i + 2))) for i in range(len(pairs) - 1)]
    return whole, pairwise


def _samples(rng, depths, sizes, slope):
    """c L^slope times a log-normal factor; every depth also gets a zero, a negative, a NaN and
    an infinite value, which the fit must drop."""
    out = []
    for L, n in zip(depths, sizes):
        v = 3.0 * L**slope * 10 ** (0.3 * rng.standard_normal(n))
        out.append(np.concatenate([v, [0.0, -v[0], math.nan, math.inf]]).tolist())
    return out


@pytest.mark.parametrize("statistic,level,n_boot", [("median", None, None), ("mean", 0.5, 300)])
def test_power_law_fit_against_an_independent_bootstrap(statistic, level, n_boot):
    rng = np.random.default_rng(5)
    depths = [160, 10, 640, 40]  # unsorted on purpose
    samples = _samples(rng, depths, sizes=(9, 12, 7, 10), slope=-0.8)
    kwargs = {} if level is None else {"level": level, "n_boot": n_boot}
    got = power_law_fit(depths, samples, seed=11, key="adjoint-activation_error", statistic=statistic, **kwargs)
    (slope, interval), pairwise = reference_fit(depths, samples, seed=11, key="adjoint-activation_error",
                                                statistic=statistic, n_boot=n_boot or 400, level=level or 0.95)
    assert got["statistic"] == statistic and got["level"] == (level or 0.95)
    assert got["slope"] == pytest.approx(slope, rel=1e-12, abs=1e-12)
    assert got["interval"] == pytest.approx(interval, rel=1e-12, abs=1e-12)
    assert got["interval"][0] < got["slope"] < got["interval"][1]
    assert len(got["pairwise"]) == len(pairwise) == 3
    for g, (pair_depths, s, iv) in zip(got["pairwise"], pairwise):
        assert g["depths"] == pair_depths
        assert g["slope"] == pytest.approx(s, rel=1e-12, abs=1e-12)
        assert g["interval"] == pytest.approx(iv, rel=1e-12, abs=1e-12)


def test_exact_power_law_gives_its_exponent_with_a_point_interval():
    """Noise-free c L^s (one value repeated per depth): slope s exactly, every bootstrap slope
    equal to it, pairwise depths the integers given (10^log10 L rounded: 30 → 30, not 29)."""
    depths = [3, 30, 300, 7]
    got = power_law_fit(depths, [[2.0 * L**1.5] * 5 for L in depths], seed=0, key="k")
    assert got["slope"] == pytest.approx(1.5, abs=1e-12)
    assert got["interval"] == pytest.approx([1.5, 1.5], abs=1e-12)
    assert [p["depths"] for p in got["pairwise"]] == [[3, 7], [7, 30], [30, 300]]
    for p in got["pairwise"]:
        assert p["slope"] == pytest.approx(1.5, abs=1e-12) and p["interval"] == pytest.approx([1.5, 1.5], abs=1e-12)


def test_power_law_fit_refuses_bad_input():
    with pytest.raises(ValueError, match="two depths"):
        power_law_fit([10], [[1.0]])
    with pytest.raises(ValueError, match="two depths"):
        power_law_fit([10, 20], [[1.0]])
    with pytest.raises(ValueError, match="depth 20"):
        power_law_fit([10, 20], [[1.0, 2.0], [0.0, -1.0, math.nan]])
    with pytest.raises(ValueError, match="statistic"):
        power_law_fit([10, 20], [[1.0], [2.0]], statistic="mode")


def test_decay_rate_is_the_negated_slope_with_its_interval_and_pairs():
    from resnet_scale_cli.analysis.rates import decay_rate

    depths = [10, 100, 1000]
    # every draw exactly 3 L^-0.75: the rate is 0.75 with a zero-width interval, at every pair too
    samples = [[3.0 * L ** -0.75] * 5 for L in depths]
    fit = decay_rate(depths, samples, seed=0, key="test")
    assert fit["estimate"] == pytest.approx(0.75, abs=1e-12)
    assert fit["interval"] == pytest.approx([0.75, 0.75], abs=1e-12)
    assert [p["depths"] for p in fit["pairwise"]] == [[10, 100], [100, 1000]]
    assert all(p["estimate"] == pytest.approx(0.75, abs=1e-12) for p in fit["pairwise"])
    # a spread at the deepest depth only: the interval stays ordered low ≤ estimate ≤ high
    spread = [[3.0 * 10 ** -0.75] * 5, [3.0 * 100 ** -0.75] * 5, [3.0 * 1000 ** -0.75 * f for f in (0.5, 1, 1, 1, 2)]]
    fit = decay_rate(depths, spread, seed=0, key="test")
    assert fit["interval"][0] <= fit["estimate"] <= fit["interval"][1] and fit["interval"][0] < fit["interval"][1]
    assert decay_rate([10], [[1.0]], seed=0, key="test") is None
    assert decay_rate([10, 100], [[1.0], [0.0, -1.0]], seed=0, key="test") is None
