"""Human output: rich tables for each command."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from resnet_scale_cli.laws import LAWS, parameter_symbol, setting_label


def _parameter(cell: dict[str, Any]) -> str | None:
    """The law parameter a cell or critical-β entry carries (hurst, lengthscale), if any."""
    return next((law.parameter for law in LAWS.values() if law.parameter and law.parameter in cell), None)

def _stat(cell: dict[str, float] | None) -> str:
    if cell is None:
        return "—"
    return f"{cell['median']:+.3f} [{cell['q05']:+.2f}, {cell['q95']:+.2f}]"



REGIME_STYLE = {"identity": "cyan", "stable": "green", "explosion": "red"}



def run_table(result, title: str) -> Table:
    table = Table(title=title, caption="output = log10 ‖h_L−h_0‖/‖h_0‖, gradient = log10 ‖p_0−p_L‖/‖p_L‖: "
                  "median [5 %, 95 %] over samples; regime read at this single depth")
    table.add_column("β", justify="right")
    table.add_column("output", justify="right", no_wrap=True)
    table.add_column("gradient", justify="right", no_wrap=True)
    table.add_column("samples", justify="right")
    table.add_column("overflow", justify="right")
    table.add_column("regime")
    for row in result.results:
        regime = row["regime"]
        table.add_row(f"{row['beta']:g}", _stat(row["output_log10"]), _stat(row["gradient_log10"]),
                      str(row["samples"]), str(row["overflowed"]), f"[{REGIME_STYLE[regime]}]{regime}[/]")
    return table



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



MAX_TABLE_ROWS = 120



def cells_table(cells: list[dict[str, Any]], title: str) -> Table:
    caption = "median [5 %, 95 %] of log10 ratios over samples"
    if len(cells) > MAX_TABLE_ROWS:
        caption += f"; first {MAX_TABLE_ROWS} of {len(cells)} cells shown (all in --json and summary.json)"
    table = Table(title=title, caption=caption)
    param = _parameter(cells[0])
    if param:
        table.add_column(parameter_symbol(param), justify="right")
    for name in ("L", "β"):
        table.add_column(name, justify="right")
    table.add_column("output", justify="right", no_wrap=True)
    table.add_column("gradient", justify="right", no_wrap=True)
    table.add_column("overflow", justify="right")
    for c in cells[:MAX_TABLE_ROWS]:
        row = [f"{c[param]:g}"] if param else []
        row += [str(c["depth"]), f"{c['beta']:g}", _stat(c["output_log10"]), _stat(c["gradient_log10"]), str(c["overflowed"])]
        table.add_row(*row)
    return table



def _interval(pair: list) -> str:
    from resnet_scale_cli.checks.expectations import interval_text

    return interval_text(pair)



def _critical_text(info: dict[str, Any]) -> str:
    if info["critical_beta"] is None:
        return f"{info['bound'] or 'undetermined'}"
    return f"{info['critical_beta']:.3f} {_interval(info['interval'])}"



def regimes_table(entry: dict[str, Any], base) -> Table:
    setting = entry["law"] + setting_label(entry, lead=" ")
    grad = entry.get("gradient")
    title = (f"{setting}: critical β (output) {_critical_text(entry)}"
             + (f", (gradient) {_critical_text(grad)}" if grad else "")
             + f"; theory reference {entry['theory_reference']:g}")
    table = Table(title=title, caption=f"slope of the median log10 ratio against log10 L over L ∈ {entry['depths']} "
                  "[95 % bootstrap interval]; regime: slope > 0.05 explosion, < −0.05 identity, else stable")
    table.add_column("β", justify="right")
    table.add_column("output slope", justify="right", no_wrap=True)
    table.add_column("regime")
    if grad:
        table.add_column("gradient slope", justify="right", no_wrap=True)
        table.add_column("regime")
    table.add_column(f"median output at L = {entry['depths'][-1]}", justify="right")
    for j, reg in enumerate(entry["regimes"]):
        cells = [f"{reg['beta']:g}", f"{_fmt(reg['slope'])} [{_fmt(reg['slope_interval'][0], 2)}, {_fmt(reg['slope_interval'][1], 2)}]",
                 f"[{REGIME_STYLE[reg['regime']]}]{reg['regime']}[/]"]
        if grad:
            g = grad["regimes"][j]
            cells += [f"{_fmt(g['slope'])} [{_fmt(g['slope_interval'][0], 2)}, {_fmt(g['slope_interval'][1], 2)}]",
                      f"[{REGIME_STYLE[g['regime']]}]{g['regime']}[/]"]
        cells.append(_fmt(reg["median_at_largest_depth"]))
        table.add_row(*cells)
    return table



def critical_table(critical: list[dict[str, Any]], base) -> Table:
    param = _parameter(critical[0])
    table = Table(title="critical β per law setting", caption="95 % bootstrap intervals over weight draws")
    if param:
        table.add_column(parameter_symbol(param), justify="right")
    table.add_column("critical β (output)", justify="right")
    table.add_column("critical β (gradient)", justify="right")
    table.add_column("theory reference", justify="right")
    for entry in critical:
        row = [f"{entry[param]:g}"] if param else []
        grad = entry.get("gradient")
        row += [_critical_text(entry), _critical_text(grad) if grad else "—", f"{entry['theory_reference']:g}"]
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
            + (f" (law's H = {spec.hurst:g})" if spec.law == "fbm" else "") + "\n")


def grid_tables(study, title: str) -> list:
    """What `sweep`/`phase` print: the cells (sweep), per-β regimes for a few settings or the
    critical-β summary for a grid of settings, and a footer."""
    from resnet_scale_cli.sweep import RESULTS, SUMMARY

    document, critical, records, sweep = study.document, study.critical, study.records, study.sweep
    out = []
    if study.command == "sweep":
        out.append(cells_table(document["cells"], title))
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
