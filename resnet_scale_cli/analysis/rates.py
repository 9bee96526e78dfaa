"""Power laws against depth: the slope of log10 (statistic of a positive quantity) on log10 L.

A quantity that behaves like c · L^s has slope s; a distance that closes like L^(−r) has rate
r = −s. The point estimate fits the statistic (median by default) of the samples at each depth by
least squares; the interval is a percentile bootstrap that resamples each depth's samples with
replacement, independently across depths (draws at different depths are independent). The
slope of every pair of consecutive depths is reported too, so a drift of the local exponent
with L is visible instead of averaged away.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from resnet_scale_cli import seeding

N_BOOTSTRAP = 400
LEVEL = 0.95


def _slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of y (..., n) against x (n,)."""
    xc = x - x.mean()
    return ((y - y.mean(-1, keepdims=True)) * xc).sum(-1) / (xc**2).sum()


def _statistic(values: np.ndarray, statistic: str, axis: int = -1) -> np.ndarray:
    if statistic == "median":
        return np.median(values, axis=axis)
    if statistic == "mean":
        return np.mean(values, axis=axis)
    raise ValueError(f"unknown statistic {statistic!r}")


def power_law_fit(
    depths: Sequence[int],
    samples: Sequence[Sequence[float]],
    *,
    seed: int = 0,
    key: str = "power-law",
    statistic: str = "median",
    n_boot: int = N_BOOTSTRAP,
    level: float = LEVEL,
) -> dict[str, Any]:
    """Fit statistic(samples at L) ≈ c · L^slope over the depths (at least two).

    `samples[i]` holds the positive per-draw values at `depths[i]` (non-finite or non-positive
    values are dropped). Returns `{"slope", "interval": [lo, hi], "pairwise": [{"depths":
    [L_i, L_{i+1}], "slope", "interval"}], "statistic", "level"}`; the bootstrap stream derives
    from `seed` and `key`, so a fit is reproducible.
    """
    if len(depths) != len(samples) or len(depths) < 2:
        raise ValueError("power_law_fit needs samples at two depths or more")
    order = np.argsort(depths)
    x = np.log10(np.asarray(depths, dtype=np.float64)[order])
    clean = []
    for i in order:
        v = np.asarray(samples[i], dtype=np.float64)
        v = v[np.isfinite(v) & (v > 0)]
        if v.size == 0:
            raise ValueError(f"no positive finite sample at depth {depths[i]}")
        clean.append(np.log10(v))
    point = np.array([_statistic(v, statistic) for v in clean])
    rng = np.random.default_rng(seeding.stream_seed(seed, (seeding.name_key(key),)))
    boot = np.stack([_statistic(v[rng.integers(0, v.size, (n_boot, v.size))], statistic) for v in clean], axis=-1)
    lo_q, hi_q = (1 - level) / 2 * 100, (1 + level) / 2 * 100

    def fit(columns: slice) -> dict[str, Any]:
        s = float(_slope(x[columns], point[columns]))
        lo, hi = np.percentile(_slope(x[columns], boot[:, columns]), [lo_q, hi_q])
        return {"slope": s, "interval": [float(lo), float(hi)]}

    whole = fit(slice(None))
    pairwise = [{"depths": [int(10 ** x[i] + 0.5), int(10 ** x[i + 1] + 0.5)], **fit(slice(i, i + 2))}
                for i in range(len(x) - 1)]
    return {**whole, "pairwise": pairwise, "statistic": statistic, "level": level}


def decay_rate(depths: Sequence[int], samples: Sequence[Sequence[float]], *, seed: int, key: str) -> dict[str, Any] | None:
    """The rate r of a quantity that falls like L^(−r): `power_law_fit`'s slope negated, with its
    interval [−hi, −lo] and the pairwise rates, or None where no fit exists (fewer than two depths,
    or a depth with no positive finite value). Returns {"estimate", "interval", "level",
    "statistic", "pairwise": [{"depths", "estimate", "interval"}]}."""
    try:
        fit = power_law_fit(depths, samples, seed=seed, key=key)
    except ValueError:
        return None
    lo, hi = fit["interval"]
    return {"estimate": -fit["slope"], "interval": [-hi, -lo], "level": fit["level"], "statistic": fit["statistic"],
            "pairwise": [{"depths": p["depths"], "estimate": -p["slope"], "interval": [-p["interval"][1], -p["interval"][0]]}
                         for p in fit["pairwise"]]}
