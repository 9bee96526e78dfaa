"""Expectation types of check files, as a registry: each class declares its keys, validates its
options, names itself and evaluates itself on a grid's records and critical-β analyses.
Adding an expectation type is one class and one registry line."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from resnet_scale_cli.analysis import theory
from resnet_scale_cli.laws import LAWS, law_parameters, setting_label

QUANTITIES = ("output", "gradient")
STATS = ("median", "q05", "q95", "mean")
REGIMES = ("identity", "stable", "explosion", "undetermined")
STAT_QUANTITIES = ("output_log10", "output_norm_log10", "gradient_log10", "gradient_norm_log10")
VALID_STATS = {f"{q}.{s}" for q in STAT_QUANTITIES for s in STATS}
COMMON_KEYS = frozenset({"type", "name", "quantity", "width", *law_parameters()})
Z_THEOREM = 2.5758  # two-sided 99 %: a theorem check fails only on a significant violation


# ----------------------------------------------------------------------------- helpers
def find_cell(records, setting: dict, depth: int) -> dict[str, Any]:
    """The record of a law setting (and width, when it is a grid axis) at one depth."""
    for r in records:
        if r["cell"]["depth"] == depth and all(r["cell"].get(k) == v for k, v in setting.items()):
            return r
    raise KeyError(depth)


def beta_index(record, beta: float) -> int:
    return min(range(len(record["betas"])), key=lambda j: abs(record["betas"][j] - beta))


def find_critical(critical, setting: dict) -> dict[str, Any]:
    return next(c for c in critical if all(c.get(k) == v for k, v in setting.items()))


def within(value: float | None, lo: float | None, hi: float | None) -> bool:
    return value is not None and (lo is None or value >= lo) and (hi is None or value <= hi)


def bounds_text(lo, hi) -> str:
    return f"[{'-∞' if lo is None else f'{lo:g}'}, {'+∞' if hi is None else f'{hi:g}'}]"


def interval_text(pair: list) -> str:
    lo, hi = pair
    return f"[{'<grid' if lo is None else f'{lo:.3f}'}, {'>grid' if hi is None else f'{hi:.3f}'}]"


def _values(record, quantity: str, j: int) -> np.ndarray:
    """Per-sample log10 ratios at β index j, overflow (None) as +∞."""
    return np.array([np.inf if v is None else v for v in record["values"][quantity][j]])


# ----------------------------------------------------------------------------- the types
class ExpectationType:
    """Base class. `check(ctx, exp, opts)` validates the type's own keys into `opts` (the common
    ones — quantity, setting, min/max, beta, depth — are parsed by `checks.files`);
    `evaluate(records, critical, opts, width)` returns measured value, verdict and message."""

    name: ClassVar[str]
    keys: ClassVar[frozenset[str]]
    has_beta: ClassVar[bool] = False
    beta_required: ClassVar[bool] = True
    depth_required: ClassVar[bool] = True  # with several depths; else the only depth is used
    needs_bounds: ClassVar[bool] = False
    needs_two_depths: ClassVar[bool] = False

    def check(self, ctx, exp: dict, opts: dict) -> None:
        """Validate the type's own keys (raise ctx.error(message, key))."""

    def default_name(self, o: dict) -> str:
        raise NotImplementedError

    def evaluate(self, records, critical, o: dict, width: int) -> dict[str, Any]:
        raise NotImplementedError


def _ends(pair: list | None) -> str:
    """A 95 % interval of a slope or median, '[-0.120, +0.034]'; an overflowed end reads +∞."""
    return "[" + ", ".join("+∞" if v is None else f"{v:+.3f}" for v in pair) + "]"


class RegimeExpectation(ExpectationType):
    """The regime at one β: from the depth trend (no `depth`), or read at one depth."""

    name = "regime"
    keys = COMMON_KEYS | {"beta", "regime", "depth"}
    has_beta = True
    depth_required = False

    def check(self, ctx, exp, opts):
        if exp.get("regime") not in REGIMES:
            raise ctx.error(f"'regime' must be one of {', '.join(REGIMES)}, got {exp.get('regime')!r}",
                            "regime" if "regime" in exp else "type")
        opts["regime"] = exp["regime"]
        opts["seed"] = ctx.sweep.base.seed  # the single-depth reading's bootstrap, as `run` seeds it
        if opts["depth"] is None and len(ctx.sweep.depths) < 2:
            opts["depth"] = ctx.sweep.depths[0]

    def default_name(self, o):
        where = f" at L={o['depth']}" if o["depth"] else " (depth trend)"
        return f"{o['quantity']} regime at β={o['beta']:g}{where}{setting_label(o['setting'], compact=True, lead=' ')} is {o['regime']}"

    def evaluate(self, records, critical, o, width):
        if o["depth"] is None:
            entry = find_critical(critical, o["setting"])
            info = entry if o["quantity"] == "output" else entry["gradient"]
            reg = next(r for r in info["regimes"] if abs(r["beta"] - o["beta"]) < 1e-9)
            measured = reg["regime"]
            detail = (f"slope {reg['slope']:+.3f} {_ends(reg['slope_interval'])} decades per decade of L"
                      if reg["slope"] is not None else "overflow")
        else:
            from resnet_scale_cli.analysis.regimes import single_depth_regimes

            rec = find_cell(records, o["setting"], o["depth"])
            j = beta_index(rec, o["beta"])
            (read,) = single_depth_regimes(rec["values"][o["quantity"] + "_log10"][j:j + 1], rec.get("inputs_per_draw", 1),
                                           seed=o.get("seed", 0))
            measured = read["regime"]
            median = "+∞ (overflow)" if read["median"] is None else f"{read['median']:+.3f}"
            detail = f"median log10 ratio {median} {_ends(read['median_interval'])} at this depth"
        passed = measured == o["regime"]
        message = (f"regime is {measured} ({detail})" if passed else
                   f"expected the {o['quantity']} ratio at β = {o['beta']:g} to be {o['regime']}, measured {measured} ({detail})")
        return {"measured": measured, "expected": o["regime"], "passed": passed, "message": message}


class StatisticExpectation(ExpectationType):
    """A statistic (median, q05, q95, mean) of a log10 ratio at one (L, β) within [min, max]."""

    name = "statistic"
    keys = COMMON_KEYS | {"stat", "beta", "depth", "min", "max"}
    has_beta = True
    needs_bounds = True

    def check(self, ctx, exp, opts):
        stat = exp.get("stat")
        if not isinstance(stat, str) or stat not in VALID_STATS:
            raise ctx.error(f"'stat' must be one of output_log10.median, gradient_norm_log10.q95, … "
                            f"(quantity: {', '.join(STAT_QUANTITIES)}; statistic: {', '.join(STATS)}), got {stat!r}",
                            "stat" if "stat" in exp else "type")
        opts["stat"] = stat
        if stat.startswith("gradient") and not ctx.sweep.base.gradients:
            raise ctx.error("a gradient statistic needs gradients = true", "stat")

    def default_name(self, o):
        return f"{o['stat']} at L={o['depth']}, β={o['beta']:g}{setting_label(o['setting'], compact=True, lead=' ')}"

    def evaluate(self, records, critical, o, width):
        rec = find_cell(records, o["setting"], o["depth"])
        res = rec["results"][beta_index(rec, o["beta"])]
        key, stat = o["stat"].split(".")
        value = res[key][stat] if res.get(key) else None
        passed = within(value, o["min"], o["max"])
        shown = "overflowed" if value is None else f"{value:+.4f}"
        message = (f"{o['stat']} = {shown} within {bounds_text(o['min'], o['max'])}" if passed else
                   f"{o['stat']} at L = {o['depth']}, β = {o['beta']:g} is {shown}, outside {bounds_text(o['min'], o['max'])}")
        return {"measured": value, "bounds": [o["min"], o["max"]], "passed": passed, "message": message}


class CriticalBetaExpectation(ExpectationType):
    """The critical β (from the depth trend) within [min, max]. The outcome also names the
    reference of this (law, model, activation, ratio) and its basis (`analysis.theory.reference`),
    for the reader: the verdict is on [min, max] alone."""

    name = "critical_beta"
    keys = COMMON_KEYS | {"min", "max"}
    needs_bounds = True
    needs_two_depths = True

    def check(self, ctx, exp, opts):
        base = ctx.sweep.base
        if not hasattr(base, "model"):
            return  # a user's block (`block = …`): no reference holds for it
        law = LAWS[base.law]
        settings = {p.name: opts["setting"].get(p.name, getattr(base, p.name, p.default)) for p in law.parameters}
        ref = theory.reference(base.law, opts["quantity"], model=base.model, activation=base.activation, **settings)
        opts["reference"] = {"value": ref.value, "basis": ref.basis}

    def default_name(self, o):
        return f"critical β ({o['quantity']}){setting_label(o['setting'], compact=True, lead=' ')}"

    def evaluate(self, records, critical, o, width):
        entry = find_critical(critical, o["setting"])
        info = entry if o["quantity"] == "output" else entry["gradient"]
        outcome = _critical_outcome(info, o, "critical β", f"critical β of the {o['quantity']} ratio")
        ref = o.get("reference")
        if ref is not None:
            outcome["message"] += ("; no reference holds here" if ref["value"] is None else
                                   f"; reference {ref['value']:g} ({ref['basis']})")
            outcome["reference"] = ref
        return outcome


def _critical_outcome(info: dict[str, Any], o: dict[str, Any], named: str, outside: str) -> dict[str, Any]:
    """A critical β estimate (`info`: critical_beta, bound, 95 % interval) against [o.min, o.max]:
    "`named` = … within …" when it lies inside, "`outside` is …, outside …" when not."""
    value = info["critical_beta"]
    passed = within(value, o["min"], o["max"])
    shown = (info["bound"] or "undetermined") if value is None else \
        f"{value:.3f} (95 % interval {interval_text(info['interval'])})"
    bounds = bounds_text(o["min"], o["max"])
    message = f"{named} = {shown} within {bounds}" if passed else f"{outside} is {shown}, outside {bounds}"
    return {"measured": value, "interval": info["interval"], "bounds": [o["min"], o["max"]], "passed": passed,
            "message": message}


def _iid_output_interval(record, j: int, o: dict, width: int) -> dict[str, Any]:
    delta = o["delta"]
    values = _values(record, "output_log10", j)
    ratio_sq = 10.0 ** (2 * values)
    low, high = theory.iid_output_interval(width, delta)
    fraction = float(np.mean((ratio_sq > low) & (ratio_sq < high)))
    passed = fraction >= 1 - delta
    msg = (f"{fraction:.0%} of {values.size} samples have ‖h_L−h_0‖²/‖h_0‖² in ({low:.4g}, {high:.4g}); "
           f"the theorem asks for at least {1 - delta:.0%} (δ = {delta:g}, d = {width})")
    return {"measured": fraction, "bounds": [1 - delta, 1.0], "passed": passed, "message": msg}


def _iid_gradient_expectation(record, j: int, o: dict, width: int) -> dict[str, Any]:
    ratio_sq = 10.0 ** (2 * _values(record, "gradient_log10", j))
    mean = float(np.mean(ratio_sq))
    se = float(np.std(ratio_sq, ddof=1) / math.sqrt(ratio_sq.size)) if ratio_sq.size > 1 else math.inf
    lo, hi = theory.GRADIENT_MEAN_BOUNDS
    passed = bool(np.isfinite(mean) and mean + Z_THEOREM * se >= lo and mean - Z_THEOREM * se <= hi)
    msg = (f"mean ‖p_0−p_L‖²/‖p_L‖² = {mean:.4g} ± {se:.2g} (s.e., {ratio_sq.size} samples); theorem: in "
           f"[e^(1/2)−1, e^4−1] = [{lo:.4g}, {hi:.4g}]; fails only beyond 2.58 s.e. (99 %)")
    return {"measured": mean, "stderr": se, "bounds": [lo, hi], "passed": passed, "message": msg}


#: theorems of the scaling paper for i.i.d. weights at β = 1/2: name → (evaluation, needs gradients)
THEOREMS = {
    "iid-output-interval": (_iid_output_interval, False),
    "iid-gradient-expectation": (_iid_gradient_expectation, True),
}


class TheoremExpectation(ExpectationType):
    """A theorem of the scaling paper (i.i.d. weights, β = 1/2) checked on the samples of one cell."""

    name = "theorem"
    keys = COMMON_KEYS | {"theorem", "beta", "depth", "delta"}
    has_beta = True
    beta_required = False

    def check(self, ctx, exp, opts):
        theorem = exp.get("theorem")
        if not isinstance(theorem, str) or theorem not in THEOREMS:
            raise ctx.error(f"'theorem' must be one of {', '.join(THEOREMS)}, got {theorem!r}",
                            "theorem" if "theorem" in exp else "type")
        if not LAWS[ctx.sweep.base.law].independent or abs(opts["beta"] - 0.5) > 1e-9:
            raise ctx.error(f"theorem {theorem} is about law = \"iid\" at beta = 0.5", "theorem")
        if THEOREMS[theorem][1] and not ctx.sweep.base.gradients:
            raise ctx.error(f"theorem {theorem} needs gradients = true", "theorem")
        delta = ctx.number("delta")
        opts["delta"] = 0.5 if delta is None else delta
        if not 0.0 < opts["delta"] < 1.0:
            raise ctx.error(f"'delta' must be in (0, 1), got {opts['delta']}", "delta")
        opts["theorem"] = theorem

    def default_name(self, o):
        return f"theorem {o['theorem']} at L={o['depth']}"

    def evaluate(self, records, critical, o, width):
        rec = find_cell(records, o["setting"], o["depth"])
        return THEOREMS[o["theorem"]][0](rec, beta_index(rec, 0.5), o, width)


class ExactIdentityExpectation(ExpectationType):
    """E[ratio²] = (1 + c L^{-2β})^L − 1, exact for i.i.d. weights (symmetric entries), the full
    model with ReLU (c = 1/2), leaky ReLU or identity σ, or the linear model (c = 1), for the
    output and the gradient ratio at every d and L (docs/science.md). Two-sided z-test of the
    Monte Carlo mean of ratio² over weight draws against the exact value at a stated `level`
    (default 0.99): it fails when |mean − exact| > z_{(1+level)/2} · s.e."""

    name = "exact_identity"
    keys = COMMON_KEYS | {"beta", "depth", "level"}
    has_beta = True

    def check(self, ctx, exp, opts):
        base = ctx.sweep.base
        if not hasattr(base, "model"):
            raise ctx.error("the exact identity is about the engine's models (full, linear), not a user's block", "type")
        why = theory.exact_identity_refusal(base.law, base.model, base.activation, dist=base.dist)
        if why is not None:
            raise ctx.error(f"the exact identity E[ratio²] = (1 + c L^-2β)^L − 1 does not hold here: {why}", "type")
        level = ctx.number("level")
        opts["level"] = 0.99 if level is None else level
        if not 0.5 <= opts["level"] < 1.0:
            raise ctx.error(f"'level' must be in [0.5, 1), got {opts['level']}", "level")
        if base.n_draws < 2:
            raise ctx.error("an exact-identity check needs at least two weight draws (the units of its standard error)",
                            "type")
        opts["factor"] = theory.exact_identity_factor(base.law, base.model, base.activation, dist=base.dist)

    def default_name(self, o):
        return (f"E[{o['quantity']} ratio²] exact at L={o['depth']}, β={o['beta']:g}"
                f"{setting_label(o['setting'], compact=True, lead=' ')}")

    def evaluate(self, records, critical, o, width):
        from scipy.stats import norm

        rec = find_cell(records, o["setting"], o["depth"])
        j = beta_index(rec, o["beta"])
        log10_exact = theory.log10_exact_mean_square(o["factor"], o["depth"], rec["betas"][j])
        ms = theory.mean_square(rec["values"][o["quantity"] + "_log10"][j], rec["inputs_per_draw"])
        z_max = float(norm.isf((1 - o["level"]) / 2))
        z = ms.z(log10_exact)
        exact_text = f"log10 E = {log10_exact:.5g} (exact, (1 + {o['factor']:g} L^-2β)^L − 1)"
        if z is None:
            passed = False
            message = (f"E[{o['quantity']} ratio²] not testable against the exact {exact_text}: "
                       + (ms.stderr_note or "no standard error"))
            bounds = [log10_exact, log10_exact]
        else:
            passed = abs(z) <= z_max
            message = (f"mean {o['quantity']} ratio² 10^{ms.log10_mean:.5g} (relative s.e. {ms.relative_stderr:.2g} over "
                       f"{ms.units} draws) against {exact_text}: z = {z:+.2f}, "
                       + ("within" if passed else "outside") + f" ±{z_max:.2f} ({o['level']:.1%} two-sided)")
            # the acceptance interval exact ± z_max · s.e., in log10 (its lower end may be ≤ 0: then -inf → None)
            se_over_exact = 10.0 ** (ms.log10_stderr - log10_exact)
            low = 1.0 - z_max * se_over_exact
            bounds = [log10_exact + math.log10(low) if low > 0 else None,
                      log10_exact + math.log10(1.0 + z_max * se_over_exact)]
        return {"measured": ms.log10_mean, "log10_stderr": ms.log10_stderr, "relative_stderr": ms.relative_stderr,
                "stderr_note": ms.stderr_note, "exact": log10_exact, "z": z, "bounds": bounds, "scale": "log10",
                "passed": passed, "message": message}


SPECTRUM_STATS = ("log10_sigma_max", "log10_sigma_min", "log10_condition", "mean_log10_sigma", "log10_deviation",
                  "lyapunov_top")


class SpectrumStatisticExpectation(StatisticExpectation):
    """`rscale spectrum` checks: a statistic of σ_max, σ_min, the condition number, … of J_L at
    one (L, β) within [min, max], e.g. stat = "log10_condition.median"."""

    name = "spectrum_statistic"

    def check(self, ctx, exp, opts):
        stat = exp.get("stat")
        valid = {f"{q}.{s}" for q in SPECTRUM_STATS for s in STATS}
        if not isinstance(stat, str) or stat not in valid:
            raise ctx.error(f"'stat' must be one of log10_sigma_max.median, log10_condition.q95, … (quantity: "
                            f"{', '.join(SPECTRUM_STATS)}; statistic: {', '.join(STATS)}), got {stat!r}",
                            "stat" if "stat" in exp else "type")
        opts["stat"] = stat


class SpectrumCriticalBetaExpectation(ExpectationType):
    """`rscale spectrum` checks: the critical β read from the depth trend of log10 σ_max
    (`of = "sigma_max"`, the default), of log10 cond (`of = "condition"`) or of log10 σ_max(J_L − I)
    (`of = "deviation"`, the reading of the spectrum's regimes) within [min, max]."""

    name = "spectrum_critical_beta"
    keys = COMMON_KEYS | {"min", "max", "of"}
    needs_bounds = True
    needs_two_depths = True

    def check(self, ctx, exp, opts):
        of = exp.get("of", "sigma_max")
        if of not in ("sigma_max", "condition", "deviation"):
            raise ctx.error(f"'of' must be sigma_max, condition or deviation, got {of!r}", "of")
        opts["of"] = of

    def default_name(self, o):
        return f"critical β ({o['of']}){setting_label(o['setting'], compact=True, lead=' ')}"

    def evaluate(self, records, critical, o, width):
        entry = find_critical(critical, o["setting"])
        named = f"critical β of log {o['of']}"
        return _critical_outcome(entry[o["of"]], o, named, named)


class RateExpectation(ExpectationType):
    """`rscale adjoint` / `rscale limit` checks (`checks.rates`): a fitted rate (error or distance
    ∝ L^(−rate), bootstrap interval) against its reference and/or within [min, max].

    `reference = "bound"` (adjoint: the paper's bound rate, Sander et al. Props. 4–6) holds when
    the interval's upper end reaches the bound — a measured rate may beat a bound, never fall
    significantly short of it. `reference = "theory"` (limit: the schemes' strong orders) holds
    when the theory rate lies inside the interval. `min`/`max` bound the estimate itself."""

    name = "rate"
    keys = frozenset({"type", "name", "rate", "reference", "min", "max"})

    def check(self, ctx, exp, opts):
        from resnet_scale_cli.checks.rates import RATES

        names = RATES[ctx.sweep.command]
        if exp.get("rate") not in names:
            raise ctx.error(f"'rate' must be one of {', '.join(names)}, got {exp.get('rate')!r}",
                            "rate" if "rate" in exp else "type")
        opts["rate"] = exp["rate"]
        reference = exp.get("reference")
        allowed = ("bound",) if ctx.sweep.command == "adjoint" else ("theory",)
        if reference is not None and reference not in allowed:
            raise ctx.error(f"'reference' of a {ctx.sweep.command} rate must be {allowed[0]!r}, got {reference!r}",
                            "reference")
        if reference is None and opts["min"] is None and opts["max"] is None:
            raise ctx.error(f"[[expect]] #{ctx.index + 1} (rate) needs 'reference', 'min' or 'max'", "type")
        if len(ctx.sweep.depths) < 2:
            raise ctx.error("a rate expectation needs at least two depths", "type")
        opts["reference"] = reference

    def default_name(self, o):
        parts = ([f"{o['reference']}"] if o["reference"] else []) + (
            [bounds_text(o["min"], o["max"])] if o["min"] is not None or o["max"] is not None else [])
        return f"rate of {o['rate']} ({', '.join(parts)})"

    def evaluate(self, records, critical, o, width):
        fit = next(c for c in critical if c["quantity"] == o["rate"])
        value, interval = fit.get("estimate"), fit.get("interval")
        if value is None or interval is None:
            return {"measured": None, "interval": None, "passed": False,
                    "message": f"no rate could be fitted for {o['rate']} (a zero or non-finite value at some depth)"}
        lo, hi = interval
        verdicts, texts = [], []
        if o["reference"] == "bound":
            ref = fit.get("bound")
            ok = ref is not None and hi >= ref
            verdicts.append(ok)
            texts.append(f"bound {ref:g} " + ("≤" if ok else ">") + f" the interval's top {hi:.3f}" if ref is not None
                         else "no bound for these settings (the paper's bounds are for β = 1)")
        elif o["reference"] == "theory":
            ref = fit.get("theory")
            ok = ref is not None and lo <= ref <= hi
            verdicts.append(ok)
            texts.append(f"theory {ref:g} " + ("inside" if ok else "outside") + " the interval" if ref is not None
                         else "no theory rate for these settings")
        if o["min"] is not None or o["max"] is not None:
            ok = within(value, o["min"], o["max"])
            verdicts.append(ok)
            texts.append(("within " if ok else "outside ") + bounds_text(o["min"], o["max"]))
        passed = all(verdicts)
        message = f"rate of {o['rate']} {value:.3f} [{lo:.3f}, {hi:.3f}]: " + "; ".join(texts)
        return {"measured": value, "interval": [lo, hi], "reference": o["reference"],
                "reference_value": fit.get("bound") if o["reference"] == "bound" else fit.get("theory"),
                "bounds": [o["min"], o["max"]], "passed": passed, "message": message}


EXPECTATIONS: dict[str, ExpectationType] = {
    t.name: t() for t in (RegimeExpectation, StatisticExpectation, CriticalBetaExpectation, TheoremExpectation,
                          ExactIdentityExpectation, SpectrumStatisticExpectation, SpectrumCriticalBetaExpectation,
                          RateExpectation)
}
