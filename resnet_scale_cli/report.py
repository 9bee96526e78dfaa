"""Human output (rich tables) and the JSON documents of the scripting contract."""

from __future__ import annotations

import json
import platform
import sys
from typing import Any

from rich.console import Console
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
