"""The JSON documents of the scripting contract (`--json`, summary.json): one function per command."""

from __future__ import annotations

import functools
import json
import platform
import sys
from typing import Any

def versions() -> dict[str, Any]:
    import numpy
    import torch

    from resnet_scale_cli import __version__

    return {"rscale": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version(),
            "cuda": torch.version.cuda, "provenance": provenance()}


def provenance() -> dict[str, Any]:
    """Where a result was made, as experiment trackers record it: the git commit of the rscale
    source when it runs from a checkout (`git rev-parse HEAD`, 2 s timeout; null otherwise, never
    an error), whether that checkout had uncommitted changes, the host name (the CUDA runtime
    torch was built with sits beside it in `versions`), and the GPU's name when one is visible."""
    import torch

    commit, dirty = _git_state()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"git_commit": commit, "git_dirty": dirty, "host": platform.node() or None, "gpu": gpu}


@functools.lru_cache(maxsize=1)
def _git_state() -> tuple[str | None, bool | None]:
    import subprocess
    from pathlib import Path

    source = Path(__file__).resolve().parents[2]
    if not (source / ".git").exists():  # an installed copy, not a checkout (never another repository's commit)
        return None, None
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=2, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=2, check=True).stdout
    except (OSError, subprocess.SubprocessError, ValueError):
        return None, None
    return (head or None), (bool(status.strip()) if head else None)



def dump_json(document: dict[str, Any]) -> None:
    """Print exactly one JSON document on stdout (NaN and infinity are never emitted)."""
    sys.stdout.write(json.dumps(document, allow_nan=False, indent=2) + "\n")
    sys.stdout.flush()



def exact_identity(spec, beta: float, values: dict[str, Any], inputs_per_draw: int) -> dict[str, Any] | None:
    """The exact E[ratio²] beside the Monte Carlo mean ± s.e. at one (cell, β), where the
    identity holds (`analysis.theory.exact_comparison`), else None."""
    from resnet_scale_cli.analysis.theory import exact_comparison

    return exact_comparison(spec.law, spec.model, spec.activation, spec.dist, spec.depth, beta, values, inputs_per_draw)


def run_document(result) -> dict[str, Any]:
    """`rscale run --json`: the spec, the gradient method used, one summary per β (with the
    exact E[ratio²] beside its Monte Carlo mean where the identity holds)."""
    spec = result.spec.to_dict()
    spec.update(result.measurements.info)
    meas, m = result.measurements, result.measurements.info["inputs_per_draw"]
    rows = [row | {"exact_mean_square": exact_identity(result.spec, row["beta"],
                                                       {q: v[j] for q, v in meas.values.items()}, m)}
            for j, row in enumerate(result.results)]
    return {
        "command": "run",
        "spec": spec,
        "results": rows,
        "elapsed_seconds": round(result.elapsed_seconds, 4),
        "versions": versions(),
    }



def theory_reference(spec, quantity: str = "output", depths=None):
    """The `analysis.theory.Reference` of a spec's (law, model, activation) for one ratio, with
    its finite-(L, d) prediction over `depths` where one applies."""
    from resnet_scale_cli.analysis.theory import reference

    return reference(spec.law, quantity, model=spec.model, activation=spec.activation, width=spec.width, depths=depths,
                     **spec.law_settings())


def _with_reference(info: dict[str, Any], ref) -> dict[str, Any]:
    return {**info, "theory_reference": ref.value, "theory_basis": ref.basis_dict(),
            "prediction": ref.prediction.to_dict() if ref.prediction else None}


def entry_spec(sweep, entry: dict[str, Any]):
    """The spec of a critical-β entry: the sweep's base with the entry's law parameter and width."""
    from resnet_scale_cli.laws import law_parameters

    return sweep.base.replace(**{k: entry[k] for k in (*law_parameters(), "width") if k in entry})


def grid_document(command: str, sweep, records: list[dict[str, Any]], critical: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON document of `sweep`/`phase` (also written as summary.json, without timing)."""
    from resnet_scale_cli.laws import law_parameters

    cells = []
    for r in records:
        spec = sweep.base.replace(**{k: r["cell"][k] for k in (*law_parameters(), "width", "depth") if k in r["cell"]})
        for j, res in enumerate(r["results"]):
            values = {q: v[j] for q, v in r["values"].items()}
            cells.append({**r["cell"], **res,
                          "exact_mean_square": exact_identity(spec, res["beta"], values, r["inputs_per_draw"])})
    enriched = []
    for entry in critical:
        setting = entry_spec(sweep, entry)
        depths = entry.get("depths")
        out = {**entry, "width": setting.width, "theory_reference": theory_reference(setting, "output").value}
        ref = theory_reference(setting, "output", depths)
        out.update({"theory_basis": ref.basis_dict(), "prediction": ref.prediction.to_dict() if ref.prediction else None})
        if "gradient" in entry:
            out["gradient"] = _with_reference(entry["gradient"], theory_reference(setting, "gradient", depths))
        enriched.append(out)
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



def sample_document(spec, stats: dict[str, Any]) -> dict[str, Any]:
    """One law setting of `rscale sample --json`."""
    from resnet_scale_cli.laws import law_entry

    out: dict[str, Any] = {"law": spec.law} | {p: getattr(spec, p) for p in law_entry(spec.law).params}
    return out | {
        "lags": [int(k) for k in stats["lags"]],
        "autocovariance": {"empirical": stats["empirical"].tolist(), "stderr": stats["stderr"].tolist(),
                           "theory": stats["theory"].tolist()},
        "mean": stats["mean"],
        "variance_times_width": stats["variance_times_width"],
        "hurst_estimate": stats["hurst_estimate"],
    }


def check_document(outcome) -> dict[str, Any]:
    """`rscale check --json`."""
    n_total, n_failed = outcome.n_expectations, outcome.n_failed
    return {"command": "check", "passed": outcome.passed,
            "summary": {"expectations": n_total, "passed": n_total - n_failed, "failed": n_failed},
            "files": outcome.documents, "baseline": outcome.baseline, "baseline_updated": outcome.baseline_updated,
            "versions": versions()}
