"""Human output (rich tables) and the JSON documents of the scripting contract."""

from __future__ import annotations

import json
import platform
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from resnet_scale_cli.experiment import RunResult


def versions() -> dict[str, str]:
    import numpy
    import torch

    from resnet_scale_cli import __version__

    return {"rscale": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def dump_json(document: dict[str, Any]) -> None:
    """Print exactly one JSON document on stdout (NaN and infinity are never emitted)."""
    sys.stdout.write(json.dumps(document, allow_nan=False, indent=2) + "\n")
    sys.stdout.flush()


def run_document(result: RunResult) -> dict[str, Any]:
    spec = result.spec.to_dict()
    spec.update(result.measurements.info)
    return {
        "command": "run",
        "spec": spec,
        "results": result.results,
        "elapsed_seconds": round(result.elapsed_seconds, 4),
        "versions": versions(),
    }


def _stat(cell: dict[str, float] | None) -> str:
    if cell is None:
        return "—"
    return f"{cell['median']:+.3f} [{cell['q05']:+.2f}, {cell['q95']:+.2f}]"


REGIME_STYLE = {"identity": "cyan", "stable": "green", "explosion": "red"}


def run_table(result: RunResult, title: str) -> Table:
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


def make_console(*, stderr: bool, no_color: bool = False) -> Console:
    """rich console; rich itself honors NO_COLOR and drops styling off a terminal."""
    console = Console(stderr=stderr, no_color=no_color or None, highlight=False)
    if not console.is_terminal:
        console.width = 120  # files and pipes: no wrapping at 80 columns
    return console


# ----------------------------------------------------------------------------- sweeps and phases
def theory_beta(spec) -> float:
    """The reference critical β of SCIENCE.md §4 for a law setting (1/2 iid, 1 rbf, max(1/2, H) fbm)."""
    from resnet_scale_cli.laws import LAWS

    return float(LAWS[spec.law].critical_beta(hurst=spec.hurst, lengthscale=spec.lengthscale))


def grid_document(command: str, sweep, records: list[dict[str, Any]], critical: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON document of `sweep`/`phase` (also written as summary.json, without timing)."""
    cells = []
    for r in records:
        for res in r["results"]:
            cells.append({**r["cell"], **res})
    enriched = []
    for entry in critical:
        setting = sweep.base.replace(**{k: entry[k] for k in ("hurst", "lengthscale") if k in entry})
        enriched.append({**entry, "theory_reference": theory_beta(setting)})
    info = records[0]["info"] if records else {}
    spec = sweep.to_dict() | {"device": info.get("device", sweep.base.device),
                              "grad_method_used": info.get("grad_method_used")}
    return {"command": command, "spec": spec, "cells": cells, "critical": enriched, "versions": versions()}


def nearest_beta(record: dict[str, Any], beta: float | None) -> int:
    target = 0.5 if beta is None else beta
    return min(range(len(record["betas"])), key=lambda j: abs(record["betas"][j] - target))


def histogram_record(records: list[dict[str, Any]], depth: int | None, beta: float | None) -> dict[str, Any]:
    """The cell of --plot-hist: the given (default largest) depth, first law setting."""
    target = max(r["cell"]["depth"] for r in records) if depth is None else depth
    return next(r for r in records if r["cell"]["depth"] == target)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


MAX_TABLE_ROWS = 120


def cells_table(cells: list[dict[str, Any]], title: str) -> Table:
    caption = "median [5 %, 95 %] of log10 ratios over samples"
    if len(cells) > MAX_TABLE_ROWS:
        caption += f"; first {MAX_TABLE_ROWS} of {len(cells)} cells shown (all in --json and summary.json)"
    table = Table(title=title, caption=caption)
    param = "hurst" if "hurst" in cells[0] else "lengthscale" if "lengthscale" in cells[0] else None
    if param:
        table.add_column("H" if param == "hurst" else "ℓ", justify="right")
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
    lo, hi = pair
    return f"[{'<grid' if lo is None else f'{lo:.3f}'}, {'>grid' if hi is None else f'{hi:.3f}'}]"


def _critical_text(info: dict[str, Any]) -> str:
    if info["critical_beta"] is None:
        return f"{info['bound'] or 'undetermined'}"
    return f"{info['critical_beta']:.3f} {_interval(info['interval'])}"


def regimes_table(entry: dict[str, Any], base) -> Table:
    setting = entry["law"] + (f" H = {entry['hurst']:g}" if "hurst" in entry else "") + \
        (f" ℓ = {entry['lengthscale']:g}" if "lengthscale" in entry else "")
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
    param = "hurst" if "hurst" in critical[0] else "lengthscale" if "lengthscale" in critical[0] else None
    table = Table(title="critical β per law setting", caption="95 % bootstrap intervals over weight draws")
    if param:
        table.add_column("H" if param == "hurst" else "ℓ", justify="right")
    table.add_column("critical β (output)", justify="right")
    table.add_column("critical β (gradient)", justify="right")
    table.add_column("theory reference", justify="right")
    for entry in critical:
        row = [f"{entry[param]:g}"] if param else []
        grad = entry.get("gradient")
        row += [_critical_text(entry), _critical_text(grad) if grad else "—", f"{entry['theory_reference']:g}"]
        table.add_row(*row)
    return table


def sample_document(spec, stats: dict[str, Any]) -> dict[str, Any]:
    """One law setting of `rscale sample --json`."""
    from resnet_scale_cli.sweep import law_parameter

    out: dict[str, Any] = {"law": spec.law}
    parameter = law_parameter(spec.law)
    if parameter:
        out[parameter] = getattr(spec, parameter)
    elif spec.law == "iid":
        out["dist"] = spec.dist
    return out | {
        "lags": [int(k) for k in stats["lags"]],
        "autocovariance": {"empirical": stats["empirical"].tolist(), "stderr": stats["stderr"].tolist(),
                           "theory": stats["theory"].tolist()},
        "mean": stats["mean"],
        "variance_times_width": stats["variance_times_width"],
        "hurst_estimate": stats["hurst_estimate"],
    }


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
