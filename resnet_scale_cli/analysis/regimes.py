"""Regimes and the critical β from the depth trend of log10 ratios.

For a law setting and a β, the trend is the least-squares slope s of the median log10 ratio
against log10 L over the swept depths (decades per decade of depth):

- s > +τ: explosion (the ratio grows with L), s < −τ: identity (it shrinks), else stable;
  τ = 0.05 by default.
- The critical β is where s(β) crosses zero, by linear interpolation between grid points.

Intervals come from a bootstrap over weight draws (resampled with replacement at each depth
independently; over samples when there is a single draw): 95 % percentile intervals of the slope
and of the crossing. Overflowed samples count as +∞ (they are explosions), which medians handle.

The drift of the crossing with depth: the same crossing computed from each pair of consecutive
depths (L_i, L_{i+1}) alone, with its interval from the same bootstrap replicates (`pairwise`).
No extrapolation to L → ∞ is made.

With a single depth there is no trend: regimes are read from the median log10 ratio at that
depth with the thresholds of `rscale run` (< −1 identity, > +1 explosion, else stable), no
critical β is estimated, and `regime_basis` says `"threshold"` (else `"trend"`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from resnet_scale_cli import seeding

TAU = 0.05
N_BOOTSTRAP = 400
LEVEL = 0.95


def _as_array(rows: list) -> np.ndarray:
    """Per-sample values with None (overflow) as +∞."""
    return np.array([[np.inf if v is None else v for v in row] for row in rows], dtype=np.float64)


def _slopes(x: np.ndarray, medians: np.ndarray) -> np.ndarray:
    """Least-squares slopes of medians (..., n_depths) against x (n_depths,)."""
    xc = x - x.mean()
    with np.errstate(invalid="ignore"):
        return (medians * xc).sum(-1) / (xc**2).sum()


def _crossing(betas: np.ndarray, slopes: np.ndarray) -> np.ndarray:
    """First β where the slope curve goes from > 0 to ≤ 0 (linear interpolation), per row;
    −∞ if it is never positive (critical β below the grid), +∞ if always positive (above)."""
    out = np.full(slopes.shape[0], np.nan)
    for r, s in enumerate(slopes):
        s = np.where(np.isnan(s), np.inf, s)
        if not (s > 0).any():
            out[r] = -np.inf
            continue
        if (s > 0).all():
            out[r] = np.inf
            continue
        j = int(np.argmax(s <= 0))
        if j == 0:
            out[r] = -np.inf
            continue
        s0, s1 = s[j - 1], s[j]
        out[r] = betas[j - 1] if not np.isfinite(s0) else betas[j - 1] + (betas[j] - betas[j - 1]) * s0 / (s0 - s1)
    return out


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def regime_of(slope: float) -> str:
    if not np.isfinite(slope) or slope > TAU:
        return "explosion"
    return "identity" if slope < -TAU else "stable"


def analyze_setting(records: Sequence[dict[str, Any]], quantity: str = "output_log10", *, seed: int = 0) -> dict[str, Any]:
    """Regimes per β and the critical β for one law setting from its cells at several depths
    (the whole range and each pair of consecutive depths); threshold regimes at a single depth."""
    records = sorted(records, key=lambda r: r["cell"]["depth"])
    if len({r["cell"]["depth"] for r in records}) < 2:
        return threshold_setting(records, quantity)
    depths = np.array([r["cell"]["depth"] for r in records], dtype=np.float64)
    betas = np.array(records[0]["betas"], dtype=np.float64)
    x = np.log10(depths)
    values = [_as_array(r["values"][quantity]) for r in records]  # each (n_betas, samples)
    point = np.stack([np.median(v, axis=1) for v in values], axis=-1)  # (n_betas, n_depths)
    slope = _slopes(x, point)

    rng = np.random.default_rng(seeding.stream_seed(seed, (seeding.name_key("bootstrap"),)))
    boot = np.empty((N_BOOTSTRAP, len(betas), len(depths)))
    for i, (v, r) in enumerate(zip(values, records)):
        m = r["inputs_per_draw"]
        n_draws = v.shape[1] // m
        if n_draws >= 2:
            grouped = v.reshape(len(betas), n_draws, m)
            pick = rng.integers(0, n_draws, (N_BOOTSTRAP, n_draws))
            resampled = grouped[:, pick].reshape(len(betas), N_BOOTSTRAP, -1)
        else:
            pick = rng.integers(0, v.shape[1], (N_BOOTSTRAP, v.shape[1]))
            resampled = v[:, pick]
        boot[:, :, i] = np.median(resampled, axis=-1).T
    boot_slopes = _slopes(x, boot)
    lo_q, hi_q = (1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100
    # ±∞ slopes sort above every finite one; NaN (∞ − ∞: overflow at several depths) are left
    # out, and a β whose every replicate is NaN gets no interval
    capped = np.where(np.isinf(boot_slopes), 1e300, boot_slopes)
    all_nan = np.isnan(capped).all(axis=0)
    capped[:, all_nan] = 1e300
    slope_lo, slope_hi = np.nanpercentile(capped, [lo_q, hi_q], axis=0)

    regimes = []
    for j, beta in enumerate(betas):
        regimes.append({
            "beta": float(beta),
            "regime": regime_of(slope[j]),
            "slope": _finite_or_none(slope[j]),
            "slope_interval": [_finite_or_none(slope_lo[j]) if abs(slope_lo[j]) < 1e299 else None,
                               _finite_or_none(slope_hi[j]) if abs(slope_hi[j]) < 1e299 else None],
            "median_at_largest_depth": _finite_or_none(point[j, -1]),
        })
    out = _critical_from(betas, slope, boot_slopes)
    out["regimes"] = regimes
    out["regime_basis"] = "trend"
    out["pairwise"] = [
        {"depths": [int(depths[i]), int(depths[i + 1])],
         **_critical_from(betas, _slopes(x[i:i + 2], point[:, i:i + 2]), _slopes(x[i:i + 2], boot[:, :, i:i + 2]))}
        for i in range(len(depths) - 1)]
    return out


def _critical_from(betas: np.ndarray, slope: np.ndarray, boot_slopes: np.ndarray) -> dict[str, Any]:
    """Critical β (zero crossing of the slope curve), its bootstrap interval and bound."""
    lo_q, hi_q = (1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100
    critical = _crossing(betas, slope[None, :])[0]
    boot_critical = _crossing(betas, boot_slopes)
    clipped = np.clip(boot_critical, betas[0], betas[-1])
    interval = np.percentile(clipped, [lo_q, hi_q])
    low = None if np.mean(boot_critical == -np.inf) > (1 - LEVEL) / 2 else float(interval[0])
    high = None if np.mean(boot_critical == np.inf) > (1 - LEVEL) / 2 else float(interval[1])
    return {
        "critical_beta": _finite_or_none(critical),
        "interval": [low, high],
        "bound": "below grid" if critical == -np.inf else "above grid" if critical == np.inf else None,
    }


def threshold_setting(records: Sequence[dict[str, Any]], quantity: str = "output_log10") -> dict[str, Any]:
    """Regimes per β of one law setting at a single depth, read from the median log10 ratio with
    the thresholds of `rscale run` (no trend, hence no critical β): `regime_basis: "threshold"`."""
    from resnet_scale_cli.experiments.cell import suggest_regime

    record = max(records, key=lambda r: r["cell"]["depth"])
    values = _as_array(record["values"][quantity])
    regimes = []
    for beta, row in zip(record["betas"], values):
        median = float(np.median(row))
        regimes.append({"beta": float(beta), "regime": suggest_regime(median if np.isfinite(median) else None),
                        "slope": None, "slope_interval": [None, None], "median_at_largest_depth": _finite_or_none(median)})
    return {"critical_beta": None, "interval": [None, None], "bound": None, "regimes": regimes,
            "regime_basis": "threshold", "pairwise": []}


def analyze(records: Sequence[dict[str, Any]], *, seed: int = 0) -> list[dict[str, Any]]:
    """One entry per law setting and width (in grid order: a cell's coordinates less its depth):
    law, its parameter, width when it is a grid axis, critical β, interval, regimes (from the
    output ratio), pairwise crossings, and the same for the gradient ratio under "gradient".
    A setting measured at a single depth gets threshold regimes (`threshold_setting`)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        key = json_key({k: v for k, v in r["cell"].items() if k != "depth"})
        groups.setdefault(key, []).append(r)
    out = []
    for group in groups.values():
        setting = {k: v for k, v in group[0]["cell"].items() if k != "depth"}
        entry = dict(setting)
        entry["depths"] = sorted(r["cell"]["depth"] for r in group)
        entry.update(analyze_setting(group, "output_log10", seed=seed))
        if "gradient_log10" in group[0]["values"]:
            entry["gradient"] = analyze_setting(group, "gradient_log10", seed=seed)
        out.append(entry)
    return out


def json_key(mapping: dict[str, Any]) -> str:
    import json

    return json.dumps(mapping, sort_keys=True)
