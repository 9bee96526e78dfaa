"""Human output: rich tables for each command."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from resnet_scale_cli.report.fit import Table

from resnet_scale_cli.laws import LAWS, parameter_symbol, setting_label


def _parameter(cell: dict[str, Any]) -> str | None:
    """The law parameter a cell or critical-β entry carries (hurst, lengthscale), if any."""
    return next((law.parameter for law in LAWS.values() if law.parameter and law.parameter in cell), None)

def _stat(cell: dict[str, float] | None) -> str:
    if cell is None:
        return "—"
    return f"{cell['median']:+.3f} [{cell['q05']:+.2f}, {cell['q95']:+.2f}]"



REGIME_STYLE = {"identity": "cyan", "stable": "green", "explosion": "red", "undetermined": "yellow"}



def _moment_cells(e: dict[str, Any] | None) -> list[str]:
    """The mean ± s.e. and z cells of one exact-moment block (log10; s.e. relative to the mean)."""
    if e is None:
        return ["—", "—"]
    if e["log10_mean"] is None:
        return ["not available", "—"]
    se = "" if e["relative_stderr"] is None else f" ± {100 * e['relative_stderr']:.2g} %"
    return [f"{e['log10_mean']:.4f}{se}", "—" if e["z"] is None else f"{e['z']:+.2f}"]


def exact_table(rows: list[tuple[list[str], dict[str, Any]]], keys: list[str], title: str) -> list[Any] | None:
    """The exact log10 E[ratio²] beside the log10 of its Monte Carlo mean ± s.e. (one row per
    (cell, β) where the identity holds; `keys` name the leading columns), then one line per reason
    a standard error is not available; None when the identity holds nowhere."""
    rows = [(lead, ex) for lead, ex in rows if ex is not None]
    if not rows:
        return None
    caption = (f"log10 E(ratio²): exact = log10((1 + c L^-2β)^L − 1), c = {rows[0][1]['factor']:g} (docs/science.md); "
               "Monte Carlo: log10 of the mean of ratio² over weight draws ± its relative s.e.; "
               "z = (mean − exact)/s.e. where the s.e. is available")
    if len(rows) > MAX_TABLE_ROWS:
        caption += f"; first {MAX_TABLE_ROWS} of {len(rows)} rows shown (all in --json)"
    table = Table(title=title, caption=caption)
    for key in keys:
        table.add_column(key, justify="right")
    table.add_column("exact", justify="right")
    for q in ("output", "gradient"):
        table.add_column(f"{q}: mean ± s.e.", justify="right")
        table.add_column("z", justify="right")
    notes: dict[str, list[str]] = {}
    for lead, ex in rows[:MAX_TABLE_ROWS]:
        first = ex.get("output") or ex.get("gradient")
        cells = list(lead) + [f"{first['log10_exact']:.4f}" if first else "—"]
        for q in ("output", "gradient"):
            e = ex.get(q)
            cells += _moment_cells(e)
            if e is not None and e["stderr_note"]:
                notes.setdefault(e["stderr_note"].split(":")[0], []).append(f"{' '.join(lead)} {q}")
        table.add_row(*cells)
    lines = [f"s.e. not available ({reason}) for {len(where)} of the rows: {', '.join(where[:4])}"
             + (f" and {len(where) - 4} more" if len(where) > 4 else "") for reason, where in notes.items()]
    return [table, *lines]


def run_table(result, title: str):
    """The per-β table of `rscale run`, followed where the exact identity holds by the exact
    E[ratio²] beside its Monte Carlo mean (a rich Group of the two tables then)."""
    from rich.console import Group

    from resnet_scale_cli.report.documents import exact_identity

    table = Table(title=title, caption="output = log10 ‖h_L−h_0‖/‖h_0‖, gradient = log10 ‖p_0−p_L‖/‖p_L‖: "
                  "median [5 %, 95 %] over samples; regime at this single depth: the output median's 95 % bootstrap "
                  "interval (shown) wholly above +1 explosion, below −1 identity, inside ±1 stable, else undetermined")
    table.add_column("β", justify="right")
    table.add_column("output", justify="right", no_wrap=True)
    table.add_column("gradient", justify="right", no_wrap=True)
    table.add_column("samples", justify="right")
    table.add_column("overflow", justify="right")
    table.add_column("regime")
    for row in result.results:
        regime = row["regime"]
        table.add_row(f"{row['beta']:g}", _stat(row["output_log10"]), _stat(row["gradient_log10"]),
                      str(row["samples"]), str(row["overflowed"]),
                      f"[{REGIME_STYLE[regime]}]{regime}[/] {_ends(row.get('median_interval'))}")
    meas, m = result.measurements, result.measurements.info["inputs_per_draw"]
    exact = exact_table([([f"{row['beta']:g}"], exact_identity(result.spec, row["beta"],
                                                               {q: v[j] for q, v in meas.values.items()}, m))
                         for j, row in enumerate(result.results)], ["β"], "exact second moment")
    return table if exact is None else Group(table, *exact)



def sample_table(stats: dict[str, Any], title: str) -> Table:
    table = Table(title=title, caption="entry paths √d (V_k)_ij across depth k; known mean 0")
    table.add_column("lag", justify="right")
    table.add_column("empirical", justify="right")
    table.add_column("± s.e.", justify="right")
    table.add_column("theory", justify="right")
    table.add_column("(emp − theory)/s.e.", justify="right")
    for lag, emp, se, th in zip(stats["lags"], stats["empirical"], stats["stderr"], stats["theory"]):
        z = (emp - th) / se if se > 0 else float("nan")
        table.add_row(str(int(lag)), f"{emp:+.4f}", f"{se:.4f}", f"{th:+.4f}", f"{z:+.2f}")
    return table



def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _ends(pair: list | None) -> str:
    """The 95 % interval of a single-depth median, '[+0.41, +1.22]' (an overflowed end +∞)."""
    return "" if not pair else "[" + ", ".join("+∞" if v is None else f"{v:+.2f}" for v in pair) + "]"



MAX_TABLE_ROWS = 120



def cells_table(cells: list[dict[str, Any]], title: str) -> Table:
    caption = "median [5 %, 95 %] of log10 ratios over samples"
    if len(cells) > MAX_TABLE_ROWS:
        caption += f"; first {MAX_TABLE_ROWS} of {len(cells)} cells shown (all in --json and summary.json)"
    table = Table(title=title, caption=caption)
    param = _parameter(cells[0])
    if param:
        table.add_column(parameter_symbol(param), justify="right")
    width = "width" in cells[0]
    for name in (("d",) if width else ()) + ("L", "β"):
        table.add_column(name, justify="right")
    table.add_column("output", justify="right", no_wrap=True)
    table.add_column("gradient", justify="right", no_wrap=True)
    table.add_column("overflow", justify="right")
    for c in cells[:MAX_TABLE_ROWS]:
        row = [f"{c[param]:g}"] if param else []
        row += [str(c["width"])] if width else []
        row += [str(c["depth"]), f"{c['beta']:g}", _stat(c["output_log10"]), _stat(c["gradient_log10"])]
        table.add_row(*row, str(c["overflowed"]))
    return table



def _interval(pair: list) -> str:
    from resnet_scale_cli.checks.expectations import interval_text

    return interval_text(pair)



def _critical_text(info: dict[str, Any]) -> str:
    if info.get("regime_basis") == "threshold":
        return "— (single depth)"
    if info["critical_beta"] is None:
        return f"{info['bound'] or 'undetermined'}"
    return f"{info['critical_beta']:.3f} {_interval(info['interval'])}"


BASIS_TEXT = {"theorem": "theorem", "first-order": "first-order argument", "prediction": "no asymptotic line",
              "none": "none", "comparison": "built-in models' reference, a comparison for a user's block"}


def reference_text(info: dict[str, Any]) -> str:
    """'0.7 (first-order argument)', '0.5 (theorem)', or 'none; prediction 0.543, L* ≈ 4.5e+05'."""
    basis = info.get("theory_basis") or {}
    value = info.get("theory_reference")
    text = "none" if value is None else f"{value:g}"
    if basis:
        text += f" ({BASIS_TEXT[basis['kind']]})" if value is not None else ""
    pred = info.get("prediction")
    if pred:
        star = pred["crossover_depth"]
        text += (f"; prediction {pred['critical_beta']:.3f}"
                 + (f", L* ≈ {star:.2g}" if star is not None else ", no crossover"))
    return text


def _setting_title(entry: dict[str, Any]) -> str:
    return entry["law"] + setting_label(entry, lead=" ") + (f" d = {entry['width']}" if "width" in entry else "")


def regimes_table(entry: dict[str, Any], base) -> Table:
    setting = _setting_title(entry)
    grad = entry.get("gradient")
    threshold = entry.get("regime_basis") == "threshold"
    title = (f"{setting}: critical β (output) {_critical_text(entry)}"
             + (f", (gradient) {_critical_text(grad)}" if grad else "")
             + f"; theory reference {reference_text(entry)}"
             + (f", gradient {reference_text(grad)}" if grad and "theory_basis" in grad else ""))
    if threshold:
        caption = (f"single depth L = {entry['depths'][-1]}: no trend, regimes read against the ±1 thresholds from the "
                   "95 % bootstrap interval of the median log10 ratio (wholly above +1 explosion, below −1 identity, "
                   "inside ±1 stable, else undetermined), as `rscale run` does")
    else:
        caption = (f"slope of the median log10 ratio against log10 L over L ∈ {entry['depths']} [95 % bootstrap "
                   "interval]; regime: interval wholly above +0.05 explosion, below −0.05 identity; within ±0.05, or "
                   "holding 0 at a β inside the critical-β interval, stable; else undetermined")
        pairs = entry.get("pairwise") or []
        if len(pairs) > 1:
            caption += "; crossing per pair of depths: " + ", ".join(
                f"{p['depths'][0]}–{p['depths'][1]}: {_critical_text(p)}" for p in pairs)
    table = Table(title=title, caption=caption)
    table.add_column("β", justify="right")
    shown = "median [95 %]" if threshold else "slope"
    table.add_column(f"output {shown}", justify="right", no_wrap=True)
    table.add_column("regime")
    if grad:
        table.add_column(f"gradient {shown}", justify="right", no_wrap=True)
        table.add_column("regime")
    table.add_column(f"median output at L = {entry['depths'][-1]}", justify="right")
    def slope(reg: dict[str, Any]) -> str:
        if threshold:
            return _ends(reg.get("median_interval")) or "—"
        return f"{_fmt(reg['slope'])} [{_fmt(reg['slope_interval'][0], 2)}, {_fmt(reg['slope_interval'][1], 2)}]"

    for j, reg in enumerate(entry["regimes"]):
        cells = [f"{reg['beta']:g}", slope(reg), f"[{REGIME_STYLE[reg['regime']]}]{reg['regime']}[/]"]
        if grad:
            g = grad["regimes"][j]
            cells += [slope(g), f"[{REGIME_STYLE[g['regime']]}]{g['regime']}[/]"]
        cells.append(_fmt(reg["median_at_largest_depth"]))
        table.add_row(*cells)
    return table



def critical_table(critical: list[dict[str, Any]], base) -> Table:
    param = _parameter(critical[0])
    threshold = critical[0].get("regime_basis") == "threshold"
    caption = ("single depth: no critical β (regimes from the ±1 log-ratio thresholds)" if threshold else
               "95 % bootstrap intervals over weight draws; theory: reference (basis), and the first-order "
               "prediction at these (L, d) with its crossover depth L* where one applies")
    widths = len({e.get("width") for e in critical}) > 1
    table = Table(title="critical β per law setting" + (" and width" if widths else ""), caption=caption)
    if param:
        table.add_column(parameter_symbol(param), justify="right")
    if widths:
        table.add_column("d", justify="right")
    table.add_column("critical β (output)", justify="right")
    table.add_column("critical β (gradient)", justify="right")
    table.add_column("theory (output)", justify="right")
    table.add_column("theory (gradient)", justify="right")
    for entry in critical:
        row = [f"{entry[param]:g}"] if param else []
        row += [str(entry["width"])] if widths else []
        grad = entry.get("gradient")
        row += [_critical_text(entry), _critical_text(grad) if grad else "—", reference_text(entry),
                reference_text(grad) if grad and "theory_basis" in grad else "—"]
        table.add_row(*row)
    return table



def check_table(document: dict[str, Any]) -> Table:
    """One row per expectation: measured value, expected bounds, PASS/FAIL, and what it means."""
    table = Table(title=f"{document['name']} ({document['file']}), {document['elapsed_seconds']:.1f} s", show_lines=False)
    table.add_column("expectation")
    table.add_column("measured", justify="right")
    table.add_column("expected", justify="right")
    table.add_column("result")
    table.add_column("detail")
    for o in document["expectations"]:
        measured = o.get("measured")
        if o["type"] == "baseline":
            measured, expected = f"{len(o['moved'])} moved / {o['compared']}", f"none moved ({o['confidence']:.0%})"
        elif o["type"] == "regime":
            expected = o["expected"]
        elif o["type"] == "rate" and o.get("reference"):
            ref = o.get("reference_value")
            expected = (f"≥ {ref:g} (bound)" if o["reference"] == "bound" else f"{ref:g} in interval") if ref is not None \
                else f"{o['reference']}: none"
            if o["bounds"] != [None, None]:
                lo, hi = o["bounds"]
                expected += f", [{'-∞' if lo is None else f'{lo:.4g}'}, {'+∞' if hi is None else f'{hi:.4g}'}]"
        else:
            lo, hi = o["bounds"]
            expected = f"[{'-∞' if lo is None else f'{lo:.4g}'}, {'+∞' if hi is None else f'{hi:.4g}'}]"
        shown = measured if isinstance(measured, str) else "—" if measured is None else f"{measured:.4g}"
        verdict = "[green]PASS[/]" if o["passed"] else "[bold red]FAIL[/]"
        table.add_row(escape(o["name"]), escape(shown), escape(expected), verdict, escape(o["message"]))
    return table


def run_footer(result) -> str:
    info, spec = result.measurements.info, result.spec
    return (f"gradients: {info['grad_method_used']}; {info['draws']} draws × {info['inputs_per_draw']} inputs; "
            f"device {info['device']}, {spec.dtype}; seed {spec.seed}; {result.elapsed_seconds:.2f} s")


def sample_footer(spec, stats: dict[str, Any]) -> str:
    h = stats["hurst_estimate"]
    return (f"mean {stats['mean']:+.4f}; variance × d {stats['variance_times_width']:.4f} (theory 1)"
            + (f"; estimated Hurst index {h:.3f}" if h is not None else "")
            + _hurst_parameter(spec) + "\n")


def _hurst_parameter(spec) -> str:
    """" (law's H = 0.7)" where the law's own parameter is a Hurst index, to read the estimate against."""
    law = LAWS[spec.law]
    return f" (law's {law.label(spec.law_settings(), 'parameter')})" if law.parameter == "hurst" else ""


def grid_tables(study, title: str) -> list:
    """What `sweep`/`phase` print: the cells (sweep), per-β regimes for a few settings or the
    critical-β summary for a grid of settings, and a footer."""
    from resnet_scale_cli.sweep import RESULTS, SUMMARY

    document, critical, records, sweep = study.document, study.critical, study.records, study.sweep
    out = []
    if study.command == "sweep":
        out.append(cells_table(document["cells"], title))
        param = _parameter(document["cells"][0]) if document["cells"] else None
        keys = ([parameter_symbol(param)] if param else []) + (["d"] if document["cells"] and "width" in document["cells"][0] else []) + ["L", "β"]
        rows = [([f"{c[param]:g}"] if param else []) + ([str(c["width"])] if "width" in c else [])
                + [str(c["depth"]), f"{c['beta']:g}"] for c in document["cells"]]
        exact = exact_table(list(zip(rows, (c.get("exact_mean_square") for c in document["cells"]))), keys,
                            "exact second moment")
        if exact is not None:
            out.extend(exact)
    if len(critical) <= 3:
        out.extend(regimes_table(entry, sweep.base) for entry in document["critical"])
    if len(critical) > 1:
        out.append(critical_table(document["critical"], sweep.base))
    out.append(f"{len(records)} cells in {study.elapsed_seconds:.1f} s; seed {sweep.base.seed}; "
               f"device {records[0]['info']['device'] if records else '?'}")
    if study.out is not None:
        out.append(f"results: {study.out / RESULTS}; summary: {study.out / SUMMARY}")
    return out


def check_tables(outcome, junit: str | None) -> list:
    out: list = [check_table(d) for d in outcome.documents]
    n_total, n_failed = outcome.n_expectations, outcome.n_failed
    verdict = "[green]all expectations hold[/]" if outcome.passed else f"[red]{n_failed} of {n_total} expectations failed[/]"
    out.append(f"{verdict} ({len(outcome.documents)} check file{'s' * (len(outcome.documents) != 1)})")
    if outcome.baseline_updated:
        out.append(f"baseline written to {outcome.baseline}")
    if junit:
        out.append(f"JUnit report written to {junit}")
    return out
