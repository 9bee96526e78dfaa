"""Statistical baselines: per (setting, L, β, quantity) the mean log10 ratio over weight draws with
its standard error, stored in a JSON file and compared with a Welch-type test, Bonferroni over
every compared statistic."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import setting_label

BASELINE_FORMAT = 1


def comparable_settings(sweep) -> dict[str, Any]:
    """Settings a baseline must share with the run it is compared with (not seed or device)."""
    out = sweep.to_dict()
    for key in ("seed", "device", "memory_gb"):
        out.pop(key, None)
    return out


def baseline_statistics(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (setting, L, β, quantity): the mean log10 ratio over samples with its standard error.

    The standard error treats weight draws as the independent units: the standard deviation of
    the per-draw means over √(draws) (with one draw, over samples)."""
    stats = []
    for r in records:
        if "betas" not in r or "inputs_per_draw" not in r:
            continue  # not a record of the engine's grid (adjoint, limit: guarded by their rate expectations)
        m = r["inputs_per_draw"]
        for q in ("output_log10", "gradient_log10"):
            if q not in r["values"]:
                continue
            for j, beta in enumerate(r["betas"]):
                values = np.array([np.nan if v is None else v for v in r["values"][q][j]], dtype=float)
                n_draws = values.size // m
                units = values.reshape(n_draws, m).mean(axis=1) if n_draws >= 2 else values
                if not np.all(np.isfinite(units)) or units.size < 2:
                    continue  # overflowed or too few units: no honest uncertainty, not baselined
                setting = setting_label(r["cell"], compact=True) + (f" d={r['cell']['width']}" if "width" in r["cell"] else "")
                stats.append({
                    "key": f"{r['cell']['law']}{' ' + setting.strip() if setting.strip() else ''} L={r['cell']['depth']} β={beta:g} {q}.mean",
                    "value": float(units.mean()),
                    "stderr": float(units.std(ddof=1) / math.sqrt(units.size)),
                    "units": int(units.size),
                })
    return stats


def read_baseline(path: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise SpecError(f"--baseline: cannot read {str(path)!r}: {exc.strerror or exc} (create it with --update-baseline)") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"--baseline {path}: not a baseline file: {exc}") from None
    if not isinstance(data, dict) or data.get("rscale_baseline") != BASELINE_FORMAT:
        raise SpecError(f"--baseline {path}: not an rscale baseline file")
    return data


def compare_baseline(stored: dict[str, Any], current: list[dict[str, Any]], confidence: float) -> dict[str, Any]:
    """Welch-type test per statistic, Bonferroni over all compared statistics.

    A statistic has moved when |x_new − x_old| / √(se_new² + se_old²) exceeds Student's t
    quantile at 1 − (1 − confidence)/(2m), df = min(units) − 1, m = number of statistics: with
    nothing changed, the whole check fails with probability at most 1 − confidence.
    """
    from scipy import stats as sstats

    now = {s["key"]: s for s in current}
    old = stored["statistics"]
    m = max(1, len(old))
    moved, missing, rows = [], [], []
    for s in old:
        new = now.get(s["key"])
        if new is None:
            missing.append(s["key"])
            continue
        df = max(1, min(s["units"], new["units"]) - 1)
        threshold = float(sstats.t.isf((1 - confidence) / (2 * m), df))
        scale = math.hypot(s["stderr"], new["stderr"])
        t = (new["value"] - s["value"]) / scale if scale > 0 else (0.0 if new["value"] == s["value"] else math.inf)
        row = {"key": s["key"], "baseline": s["value"], "measured": new["value"], "t": t if math.isfinite(t) else None,
               "threshold": threshold, "moved": not abs(t) <= threshold}
        rows.append(row)
        if row["moved"]:
            moved.append(row)
    passed = not moved and not missing
    if passed:
        message = f"{len(rows)} statistics within their combined uncertainty of the baseline ({confidence:.0%} confidence)"
    else:
        parts = [f"{r['key']}: {r['baseline']:+.4f} -> {r['measured']:+.4f} (t = {r['t'] if r['t'] is not None else float('inf'):+.1f}, "
                 f"limit ±{r['threshold']:.1f})" for r in moved[:10]]
        if len(moved) > 10:
            parts.append(f"and {len(moved) - 10} more (all in --json)")
        if missing:
            parts.append(f"{len(missing)} baseline statistics not measured (overflowed)")
        message = f"{len(moved)} of {len(rows)} statistics moved beyond their combined uncertainty ({confidence:.0%} confidence): " + "; ".join(parts)
    return {"name": "baseline", "type": "baseline", "passed": passed, "confidence": confidence, "compared": len(rows),
            "moved": moved, "missing": missing, "message": message, "statistics": rows}
