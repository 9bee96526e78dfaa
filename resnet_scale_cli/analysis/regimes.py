"""Regimes and the critical β from the depth trend of log10 ratios, each label backed by its interval.

For a law setting and a β, the trend is the least-squares slope s of the median log10 ratio
against log10 L over the swept depths (decades per decade of depth), with its 95 % bootstrap
interval [s_lo, s_hi]. The critical β is where s(β) crosses zero, by linear interpolation between
grid points, with its 95 % interval [c_lo, c_hi]. The label (`regime_of`) compares the interval,
not the point, with the band [−τ, +τ] of flat trends (τ = 0.05):

- s_lo > +τ: explosion; s_hi < −τ: identity (the whole interval beyond the band);
- [s_lo, s_hi] inside the band, or containing 0 with β inside [c_lo, c_hi]: stable (the
  critical label: the data are consistent with a flat trend, at a β consistent with β_c);
- anything else: undetermined (the interval straddles an edge of the band away from β_c).

Intervals come from a bootstrap over weight draws (resampled with replacement at each depth
independently; over samples when there is a single draw): 95 % percentile intervals of the slope
and of the crossing. Overflowed samples count as +∞ (they are explosions), which medians handle;
a replicate slope that overflows (±∞, or ∞ − ∞) counts as +∞ for the label.

The drift of the crossing with depth: the same crossing computed from each pair of consecutive
depths (L_i, L_{i+1}) alone, with its interval from the same bootstrap replicates (`pairwise`).
No extrapolation to L → ∞ is made.

With a single depth there is no trend: the same rule reads the median log10 ratio m at that depth,
with its 95 % bootstrap interval [m_lo, m_hi], against the band [−1, +1] of `rscale run`:
m_lo > +1 explosion, m_hi < −1 identity, inside the band stable, else undetermined (there is no
critical β). `regime_basis` says `"threshold"` (else `"trend"`). `single_depth_regimes` is that
reading for one cell, shared by `run`, `phase --depth L`, `inspect` and `check`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from resnet_scale_cli import seeding

TAU = 0.05
N_BOOTSTRAP = 400
LEVEL = 0.95
#: the single-depth band of `rscale run`: a median log10 ratio below −1 decade reads identity,
#: above +1 explosion
IDENTITY_BELOW, EXPLOSION_ABOVE = -1.0, 1.0
REGIMES = ("explosion", "stable", "identity", "undetermined")
_CAP = 1e300  # ±∞ as a number that sorts (percentiles of ∞ give NaN); |x| ≥ 1e299 reads back as None


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


def regime_of(low: float, high: float, *, band: tuple[float, float] = (-TAU, TAU), critical: bool = False) -> str:
    """The label of an interval [low, high] of a trend (or, at one depth, of a median) against the
    band [band_lo, band_hi] of readings that neither grow nor shrink:

    - low > band_hi: explosion; high < band_lo: identity;
    - band_lo ≤ low and high ≤ band_hi: stable (a flat trend, confidently);
    - low ≤ 0 ≤ high and `critical` (the β lies in the critical-β interval): stable;
    - else undetermined.

    A NaN end (an overflowed replicate) must have been mapped to +∞ by the caller."""
    band_lo, band_hi = band
    if low > band_hi:
        return "explosion"
    if high < band_lo:
        return "identity"
    if band_lo <= low and high <= band_hi:
        return "stable"
    if critical and low <= 0.0 <= high:
        return "stable"
    return "undetermined"


def _bootstrap_medians(v: np.ndarray, inputs_per_draw: int, rng: np.random.Generator) -> np.ndarray:
    """Medians (N_BOOTSTRAP, n_betas) of v (n_betas, samples) resampled with replacement: whole
    weight draws (the `inputs_per_draw` consecutive samples of a draw move together) when there
    are two draws or more, else the samples."""
    n_betas, samples = v.shape
    n_draws = samples // inputs_per_draw
    if n_draws >= 2:
        grouped = v.reshape(n_betas, n_draws, inputs_per_draw)
        pick = rng.integers(0, n_draws, (N_BOOTSTRAP, n_draws))
        resampled = grouped[:, pick].reshape(n_betas, N_BOOTSTRAP, -1)
    else:
        pick = rng.integers(0, samples, (N_BOOTSTRAP, samples))
        resampled = v[:, pick]
    return np.median(resampled, axis=-1).T


def _percentile_interval(replicates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2.5 % and 97.5 % percentiles over axis 0 with every overflowed replicate (+∞, NaN) as +∞,
    the convention of the labels, and −∞ (a log ratio of exactly 0) kept; ends returned as floats,
    ±∞ where capped."""
    lo_q, hi_q = (1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100
    capped = np.where(np.isfinite(replicates), replicates, np.where(replicates == -np.inf, -_CAP, _CAP))
    lo, hi = np.percentile(capped, [lo_q, hi_q], axis=0)
    back = lambda x: np.where(x >= _CAP / 10, np.inf, np.where(x <= -_CAP / 10, -np.inf, x))  # noqa: E731
    return back(lo), back(hi)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seeding.stream_seed(seed, (seeding.name_key("bootstrap"),)))


def single_depth_regimes(values: Sequence[Sequence[float | None]] | np.ndarray, inputs_per_draw: int = 1, *,
                         seed: int = 0) -> list[dict[str, Any]]:
    """The single-depth reading of one cell, per β: the median m of the log10 ratios (overflow,
    None or NaN, as +∞; −∞, a ratio of exactly 0 — h_L = h_0, possible at width 1 — kept as the
    smallest value), its 95 % bootstrap interval over weight draws (generator seeded from
    `seed`), and the label of that interval against [−1, +1] (`regime_of`; no critical β at one
    depth). Entries {"regime", "median", "median_interval"}, with +∞ written as None."""
    v = np.array([[np.inf if x is None or np.isnan(x) else x for x in row] for row in values], dtype=np.float64)
    if v.size == 0:
        return []
    boot = _bootstrap_medians(v, max(1, int(inputs_per_draw)), _rng(seed))
    lo, hi = _percentile_interval(boot)
    out = []
    for j, row in enumerate(v):
        median = float(np.median(row))
        out.append({"regime": regime_of(lo[j], hi[j], band=(IDENTITY_BELOW, EXPLOSION_ABOVE)),
                    "median": _finite_or_none(median),
                    "median_interval": [_finite_or_none(lo[j]), _finite_or_none(hi[j])]})
    return out


def analyze_setting(records: Sequence[dict[str, Any]], quantity: str = "output_log10", *, seed: int = 0) -> dict[str, Any]:
    """Regimes per β and the critical β for one law setting from its cells at several depths
    (the whole range and each pair of consecutive depths); threshold regimes at a single depth."""
    records = sorted(records, key=lambda r: r["cell"]["depth"])
    if len({r["cell"]["depth"] for r in records}) < 2:
        return threshold_setting(records, quantity, seed=seed)
    depths = np.array([r["cell"]["depth"] for r in records], dtype=np.float64)
    betas = np.array(records[0]["betas"], dtype=np.float64)
    x = np.log10(depths)
    values = [_as_array(r["values"][quantity]) for r in records]  # each (n_betas, samples)
    point = np.stack([np.median(v, axis=1) for v in values], axis=-1)  # (n_betas, n_depths)
    slope = _slopes(x, point)

    rng = _rng(seed)
    boot = np.empty((N_BOOTSTRAP, len(betas), len(depths)))
    for i, (v, r) in enumerate(zip(values, records)):
        boot[:, :, i] = _bootstrap_medians(v, r["inputs_per_draw"], rng)
    boot_slopes = _slopes(x, boot)
    lo_q, hi_q = (1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100
    # reported interval: ±∞ slopes sort above every finite one; NaN (∞ − ∞: overflow at several
    # depths) are left out, and a β whose every replicate is NaN gets no interval
    capped = np.where(np.isinf(boot_slopes), _CAP, boot_slopes)
    all_nan = np.isnan(capped).all(axis=0)
    capped[:, all_nan] = _CAP
    slope_lo, slope_hi = np.nanpercentile(capped, [lo_q, hi_q], axis=0)
    # the label's interval: every overflowed replicate (±∞ or NaN) as +∞, an explosion
    label_lo, label_hi = _percentile_interval(boot_slopes)
    out = _critical_from(betas, slope, boot_slopes)
    c_lo, c_hi = (-np.inf if out["interval"][0] is None else out["interval"][0],
                  np.inf if out["interval"][1] is None else out["interval"][1])

    regimes = []
    for j, beta in enumerate(betas):
        regimes.append({
            "beta": float(beta),
            "regime": regime_of(label_lo[j], label_hi[j], critical=bool(c_lo - 1e-9 <= beta <= c_hi + 1e-9)),
            "slope": _finite_or_none(slope[j]),
            "slope_interval": [_finite_or_none(slope_lo[j]) if abs(slope_lo[j]) < _CAP / 10 else None,
                               _finite_or_none(slope_hi[j]) if abs(slope_hi[j]) < _CAP / 10 else None],
            "median_at_largest_depth": _finite_or_none(point[j, -1]),
        })
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


def threshold_setting(records: Sequence[dict[str, Any]], quantity: str = "output_log10", *,
                      seed: int = 0) -> dict[str, Any]:
    """Regimes per β of one law setting at a single depth: the median log10 ratio's bootstrap
    interval against [−1, +1] (`single_depth_regimes`; no trend, hence no critical β):
    `regime_basis: "threshold"`."""
    record = max(records, key=lambda r: r["cell"]["depth"])
    read = single_depth_regimes(record["values"][quantity], record.get("inputs_per_draw", 1), seed=seed)
    regimes = [{"beta": float(beta), "regime": r["regime"], "slope": None, "slope_interval": [None, None],
                "median_at_largest_depth": r["median"], "median_interval": r["median_interval"]}
               for beta, r in zip(record["betas"], read)]
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


#: the log10 ratios a row per β summarizes
RATIO_QUANTITIES = ("output_log10", "output_norm_log10", "gradient_log10", "gradient_norm_log10")


def beta_rows(betas, depth: int, values: dict[str, np.ndarray], overflowed: np.ndarray, *, inputs_per_draw: int = 1,
              seed: int = 0) -> list[dict[str, Any]]:
    """One row per β of a cell at depth L: the quantiles of each log10 ratio (`metrics.summarize`),
    the sample and overflow counts, and the single-depth regime of the output ratio with the 95 %
    bootstrap interval of its median (`single_depth_regimes`, overflow as +∞, seeded from `seed`)."""
    from resnet_scale_cli.metrics import summarize

    read = single_depth_regimes(values["output_log10"], inputs_per_draw, seed=seed)
    rows = []
    for j, beta in enumerate(betas):
        row: dict[str, Any] = {"beta": float(beta), "depth": depth}
        for q in RATIO_QUANTITIES:
            row[q] = summarize(values[q][j]) if q in values else None
        row["samples"] = int(overflowed.shape[1])
        row["overflowed"] = int(overflowed[j].sum())
        row["regime"], row["median_interval"] = read[j]["regime"], read[j]["median_interval"]
        rows.append(row)
    return rows
