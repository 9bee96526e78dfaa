"""`rscale check`: expectations on a spec's results, statistical baselines, JUnit reports.

A check file (TOML) holds settings, with the keys of `run`/`sweep`/`phase` configs, and a list of
`[[expect]]` tables. Unknown keys and malformed expectations are refused naming file, line, key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.spec import RunSpec, _ALIASES

TYPES = ("regime", "statistic", "critical_beta", "theorem")
THEOREMS = ("iid-output-interval", "iid-gradient-expectation")
QUANTITIES = ("output", "gradient")
STATS = ("median", "q05", "q95", "mean")
REGIMES = ("identity", "stable", "explosion")
STAT_QUANTITIES = ("output_log10", "output_norm_log10", "gradient_log10", "gradient_norm_log10")
VALID_STATS = {f"{q}.{s}" for q in STAT_QUANTITIES for s in STATS}
COMMON_KEYS = {"type", "name", "quantity", "hurst", "lengthscale"}
KEYS = {
    "regime": COMMON_KEYS | {"beta", "regime", "depth"},
    "statistic": COMMON_KEYS | {"stat", "beta", "depth", "min", "max"},
    "critical_beta": COMMON_KEYS | {"min", "max"},
    "theorem": COMMON_KEYS | {"theorem", "beta", "depth", "delta"},
}
SETTING_KEYS = {f.name for f in dataclasses.fields(RunSpec)} | set(_ALIASES) | {"depth", "beta", "name", "description", "expect"}
GRADIENT_MEAN_BOUNDS = (math.exp(0.5) - 1.0, math.exp(4.0) - 1.0)
Z_THEOREM = 2.5758  # two-sided 99 %: a theorem check fails only on a significant violation


@dataclass
class Located:
    """A check file's text, to name the line of a key in error messages."""

    path: str
    text: str

    def line(self, key: str, block: int | None = None) -> int | None:
        lines = self.text.splitlines()
        start = 0
        if block is not None:
            seen = -1
            for i, line in enumerate(lines):
                if re.match(r"\s*\[\[\s*expect\s*\]\]", line):
                    seen += 1
                    if seen == block:
                        start = i
                        break
        pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for i in range(start + (block is not None), len(lines)):
            if block is not None and i > start and re.match(r"\s*\[", lines[i]):
                break
            if pattern.match(lines[i]):
                return i + 1
        return start + 1 if block is not None else None

    def error(self, message: str, key: str | None = None, block: int | None = None) -> SpecError:
        line = self.line(key, block) if key else None
        where = f"{self.path}:{line}" if line else self.path
        return SpecError(f"{where}: {message}")


@dataclass
class Expectation:
    index: int
    type: str
    name: str
    options: dict[str, Any]


@dataclass
class CheckFile:
    path: str
    name: str
    sweep: Any
    expectations: list[Expectation]
    source: Located = field(repr=False, default=None)


def _number(located: Located, exp: dict, key: str, index: int, required: bool = False) -> float | None:
    if key not in exp:
        if required:
            raise located.error(f"[[expect]] #{index + 1} needs {key!r}", "type", index)
        return None
    value = exp[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise located.error(f"{key!r} must be a number, got {value!r}", key, index)
    return float(value)


def load_check(path: str, text: str | None = None) -> CheckFile:
    """Parse and validate a check file; every error names the file, line and key."""
    from resnet_scale_cli.cli import build_sweep

    if text is None:
        try:
            text = Path(path).read_text() if path != "-" else __import__("sys").stdin.read()
        except OSError as exc:
            raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from None
    located = Located("<stdin>" if path == "-" else path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{located.path}: invalid TOML: {exc}") from None
    for key in data:
        if key not in SETTING_KEYS:
            raise located.error(f"unknown key {key!r} (settings take the keys of run/sweep/phase, plus name, description, [[expect]])", key)
    raw = data.pop("expect", None)
    name = str(data.pop("name", Path(located.path).stem))
    data.pop("description", None)
    if not isinstance(raw, list) or not raw or not all(isinstance(e, dict) for e in raw):
        raise located.error("needs at least one [[expect]] table")
    settings = {k: v for k, v in data.items()}
    try:
        sweep, outputs = build_sweep(None, settings, depths=str(data.get("depth", RunSpec().depth)),
                                     betas=str(data.get("beta", "0.5")))
    except SpecError as exc:
        flag = re.search(r"--([a-z-]+)", str(exc))
        key = flag.group(1).replace("-", "_") if flag else None
        if key and key not in data and key.replace("_", "-") in data:
            key = key.replace("_", "-")
        raise located.error(str(exc), key if key in data else "beta" if key == "betas" else None) from None
    expectations = [_expectation(located, exp, i, sweep) for i, exp in enumerate(raw)]
    return CheckFile(located.path, name, sweep, expectations, located)


def _expectation(located: Located, exp: dict, index: int, sweep) -> Expectation:
    kind = exp.get("type")
    if kind not in TYPES:
        raise located.error(f"[[expect]] #{index + 1}: 'type' must be one of {', '.join(TYPES)}, got {kind!r}",
                            "type" if "type" in exp else None, index)
    for key in exp:
        if key not in KEYS[kind]:
            raise located.error(f"[[expect]] #{index + 1} ({kind}): unknown key {key!r}; allowed: "
                                + ", ".join(sorted(KEYS[kind])), key, index)
    opts: dict[str, Any] = {}
    quantity = exp.get("quantity", "output")
    if quantity not in QUANTITIES:
        raise located.error(f"'quantity' must be output or gradient, got {quantity!r}", "quantity", index)
    opts["quantity"] = quantity
    if quantity == "gradient" and not sweep.base.gradients:
        raise located.error("a gradient expectation needs gradients = true", "quantity", index)
    parameter = sweep.parameter
    for key in ("hurst", "lengthscale"):
        if key in exp:
            value = _number(located, exp, key, index)
            if key != parameter or value not in sweep.params:
                raise located.error(f"{key} = {value:g} is not a law setting of this check", key, index)
            opts["setting"] = {key: value}
    if "setting" not in opts and parameter and len(sweep.params) > 1:
        raise located.error(f"[[expect]] #{index + 1}: say which {parameter} it is about (several are swept)", "type", index)
    if "setting" not in opts and parameter:
        opts["setting"] = {parameter: sweep.params[0]}
    opts.setdefault("setting", {})
    for key in ("min", "max"):
        opts[key] = _number(located, exp, key, index)
    if kind in ("statistic", "critical_beta") and opts["min"] is None and opts["max"] is None:
        raise located.error(f"[[expect]] #{index + 1} ({kind}) needs 'min' and/or 'max'", "type", index)
    if opts["min"] is not None and opts["max"] is not None and opts["min"] > opts["max"]:
        raise located.error("'min' is larger than 'max'", "min", index)
    if kind in ("regime", "statistic", "theorem"):
        beta = _number(located, exp, "beta", index, required=kind != "theorem")
        beta = 0.5 if beta is None else beta
        if not any(abs(beta - b) < 1e-9 for b in sweep.base.betas):
            raise located.error(f"beta = {beta:g} is not in the β grid {list(sweep.base.betas)}", "beta" if "beta" in exp else "type", index)
        opts["beta"] = beta
        depth = exp.get("depth")
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth not in sweep.depths):
            raise located.error(f"depth = {depth!r} is not in the depth grid {list(sweep.depths)}", "depth", index)
        if depth is None and kind != "regime":
            if len(sweep.depths) > 1:
                raise located.error(f"[[expect]] #{index + 1} needs 'depth' (several depths are swept)", "type", index)
            depth = sweep.depths[0]
        opts["depth"] = depth
    if kind == "regime":
        if exp.get("regime") not in REGIMES:
            raise located.error(f"'regime' must be one of {', '.join(REGIMES)}, got {exp.get('regime')!r}",
                                "regime" if "regime" in exp else "type", index)
        opts["regime"] = exp["regime"]
        if opts["depth"] is None and len(sweep.depths) < 2:
            opts["depth"] = sweep.depths[0]
    if kind == "statistic":
        stat = exp.get("stat")
        if stat not in VALID_STATS:
            raise located.error(f"'stat' must be one of output_log10.median, gradient_norm_log10.q95, … "
                                f"(quantity: {', '.join(STAT_QUANTITIES)}; statistic: {', '.join(STATS)}), got {stat!r}",
                                "stat" if "stat" in exp else "type", index)
        opts["stat"] = stat
        if stat.startswith("gradient") and not sweep.base.gradients:
            raise located.error("a gradient statistic needs gradients = true", "stat", index)
    if kind == "critical_beta" and len(sweep.depths) < 2:
        raise located.error("a critical_beta expectation needs at least two depths", "type", index)
    if kind == "theorem":
        theorem = exp.get("theorem")
        if theorem not in THEOREMS:
            raise located.error(f"'theorem' must be one of {', '.join(THEOREMS)}, got {theorem!r}",
                                "theorem" if "theorem" in exp else "type", index)
        if sweep.base.law != "iid" or abs(opts["beta"] - 0.5) > 1e-9:
            raise located.error(f"theorem {theorem} is about law = \"iid\" at beta = 0.5", "theorem", index)
        if theorem == "iid-gradient-expectation" and not sweep.base.gradients:
            raise located.error("theorem iid-gradient-expectation needs gradients = true", "theorem", index)
        delta = _number(located, exp, "delta", index)
        opts["delta"] = 0.5 if delta is None else delta
        if not 0.0 < opts["delta"] < 1.0:
            raise located.error(f"'delta' must be in (0, 1), got {opts['delta']}", "delta", index)
        opts["theorem"] = theorem
    name = exp.get("name") or _default_name(kind, opts)
    return Expectation(index, kind, str(name), opts)


def _default_name(kind: str, o: dict[str, Any]) -> str:
    setting = "".join(f" {'H' if k == 'hurst' else 'ℓ'}={v:g}" for k, v in o["setting"].items())
    if kind == "regime":
        where = f" at L={o['depth']}" if o["depth"] else " (depth trend)"
        return f"{o['quantity']} regime at β={o['beta']:g}{where}{setting} is {o['regime']}"
    if kind == "statistic":
        return f"{o['stat']} at L={o['depth']}, β={o['beta']:g}{setting}"
    if kind == "critical_beta":
        return f"critical β ({o['quantity']}){setting}"
    return f"theorem {o['theorem']} at L={o['depth']}"


# ----------------------------------------------------------------------------- evaluation
def _cell(records, setting: dict, depth: int) -> dict[str, Any]:
    for r in records:
        if r["cell"]["depth"] == depth and all(r["cell"].get(k) == v for k, v in setting.items()):
            return r
    raise KeyError(depth)


def _beta_index(record, beta: float) -> int:
    return min(range(len(record["betas"])), key=lambda j: abs(record["betas"][j] - beta))


def _within(value: float | None, lo: float | None, hi: float | None) -> bool:
    return value is not None and (lo is None or value >= lo) and (hi is None or value <= hi)


def _bounds_text(lo, hi) -> str:
    return f"[{'-∞' if lo is None else f'{lo:g}'}, {'+∞' if hi is None else f'{hi:g}'}]"


def evaluate(check: CheckFile, records: list[dict[str, Any]], critical: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Measured value, bounds, verdict and a message for every expectation."""
    outcomes = []
    for e in check.expectations:
        o = e.options
        out: dict[str, Any] = {"name": e.name, "type": e.type, **o["setting"]}
        q = o["quantity"] + "_log10"
        if e.type == "regime":
            if o["depth"] is None:
                entry = next(c for c in critical if all(c.get(k) == v for k, v in o["setting"].items()))
                info = entry if o["quantity"] == "output" else entry["gradient"]
                reg = next(r for r in info["regimes"] if abs(r["beta"] - o["beta"]) < 1e-9)
                measured, detail = reg["regime"], f"slope {reg['slope']:+.3f} decades per decade of L" if reg["slope"] is not None else "overflow"
            else:
                rec = _cell(records, o["setting"], o["depth"])
                res = rec["results"][_beta_index(rec, o["beta"])]
                from resnet_scale_cli.experiment import suggest_regime

                stat = res[q]
                measured = suggest_regime(None if stat is None or 2 * res["overflowed"] > res["samples"] else stat["median"])
                detail = f"median log10 ratio {stat['median']:+.3f} at this depth" if stat else "overflow"
            out |= {"measured": measured, "expected": o["regime"], "passed": measured == o["regime"]}
            out["message"] = (f"regime is {measured} ({detail})" if out["passed"] else
                              f"expected the {o['quantity']} ratio at β = {o['beta']:g} to be {o['regime']}, measured {measured} ({detail})")
        elif e.type == "statistic":
            rec = _cell(records, o["setting"], o["depth"])
            res = rec["results"][_beta_index(rec, o["beta"])]
            key, stat = o["stat"].split(".")
            value = res[key][stat] if res.get(key) else None
            out |= {"measured": value, "bounds": [o["min"], o["max"]], "passed": _within(value, o["min"], o["max"])}
            shown = "overflowed" if value is None else f"{value:+.4f}"
            out["message"] = (f"{o['stat']} = {shown} within {_bounds_text(o['min'], o['max'])}" if out["passed"] else
                              f"{o['stat']} at L = {o['depth']}, β = {o['beta']:g} is {shown}, outside {_bounds_text(o['min'], o['max'])}")
        elif e.type == "critical_beta":
            entry = next(c for c in critical if all(c.get(k) == v for k, v in o["setting"].items()))
            info = entry if o["quantity"] == "output" else entry["gradient"]
            value = info["critical_beta"]
            out |= {"measured": value, "interval": info["interval"], "bounds": [o["min"], o["max"]],
                    "passed": _within(value, o["min"], o["max"])}
            from resnet_scale_cli.report import _interval

            shown = (info["bound"] or "undetermined") if value is None else \
                f"{value:.3f} (95 % interval {_interval(info['interval'])})"
            out["message"] = (f"critical β = {shown} within {_bounds_text(o['min'], o['max'])}" if out["passed"] else
                              f"critical β of the {o['quantity']} ratio is {shown}, outside {_bounds_text(o['min'], o['max'])}")
        else:
            out |= _theorem(check, records, o)
        outcomes.append(out)
    return outcomes


def _theorem(check: CheckFile, records, o) -> dict[str, Any]:
    rec = _cell(records, o["setting"], o["depth"])
    j = _beta_index(rec, 0.5)
    d = check.sweep.base.width
    if o["theorem"] == "iid-output-interval":
        delta = o["delta"]
        values = np.array([np.inf if v is None else v for v in rec["values"]["output_log10"][j]])
        ratio_sq = 10.0 ** (2 * values)
        low = math.exp(3 / 8 - math.sqrt(22 / (d * delta))) - 1
        high = math.exp(1 + math.sqrt(10 / (d * delta))) + 1
        fraction = float(np.mean((ratio_sq > low) & (ratio_sq < high)))
        passed = fraction >= 1 - delta
        msg = (f"{fraction:.0%} of {values.size} samples have ‖h_L−h_0‖²/‖h_0‖² in ({low:.4g}, {high:.4g}); "
               f"the theorem asks for at least {1 - delta:.0%} (δ = {delta:g}, d = {d})")
        return {"measured": fraction, "bounds": [1 - delta, 1.0], "passed": passed, "message": msg}
    values = np.array([np.inf if v is None else v for v in rec["values"]["gradient_log10"][j]])
    ratio_sq = 10.0 ** (2 * values)
    mean = float(np.mean(ratio_sq))
    se = float(np.std(ratio_sq, ddof=1) / math.sqrt(ratio_sq.size)) if ratio_sq.size > 1 else math.inf
    lo, hi = GRADIENT_MEAN_BOUNDS
    passed = bool(np.isfinite(mean) and mean + Z_THEOREM * se >= lo and mean - Z_THEOREM * se <= hi)
    msg = (f"mean ‖p_0−p_L‖²/‖p_L‖² = {mean:.4g} ± {se:.2g} (s.e., {ratio_sq.size} samples); theorem: in "
           f"[e^(1/2)−1, e^4−1] = [{lo:.4g}, {hi:.4g}]; fails only beyond 2.58 s.e. (99 %)")
    return {"measured": mean, "stderr": se, "bounds": [lo, hi], "passed": passed, "message": msg}


# ----------------------------------------------------------------------------- baselines
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
                setting = " ".join(f"{'H' if k == 'hurst' else 'ℓ'}={v:g}" for k, v in r["cell"].items() if k in ("hurst", "lengthscale"))
                stats.append({
                    "key": f"{r['cell']['law']}{' ' + setting if setting else ''} L={r['cell']['depth']} β={beta:g} {q}.mean",
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
            parts.append(f"… and {len(moved) - 10} more")
        if missing:
            parts.append(f"{len(missing)} baseline statistics not measured (overflowed)")
        message = f"{len(moved)} of {len(rows)} statistics moved beyond their combined uncertainty ({confidence:.0%} confidence): " + "; ".join(parts)
    return {"name": "baseline", "type": "baseline", "passed": passed, "confidence": confidence, "compared": len(rows),
            "moved": moved, "missing": missing, "message": message, "statistics": rows}
