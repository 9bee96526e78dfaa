"""The JSON documents of the scripting contract (`--json`, summary.json): one function per command."""

from __future__ import annotations

import json
import platform
import sys
from typing import Any

def versions() -> dict[str, str]:
    import numpy
    import torch

    from resnet_scale_cli import __version__

    return {"rscale": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}



def dump_json(document: dict[str, Any]) -> None:
    """Print exactly one JSON document on stdout (NaN and infinity are never emitted)."""
    sys.stdout.write(json.dumps(document, allow_nan=False, indent=2) + "\n")
    sys.stdout.flush()



def run_document(result) -> dict[str, Any]:
    """`rscale run --json`: the spec, the gradient method used, one summary per β."""
    spec = result.spec.to_dict()
    spec.update(result.measurements.info)
    return {
        "command": "run",
        "spec": spec,
        "results": result.results,
        "elapsed_seconds": round(result.elapsed_seconds, 4),
        "versions": versions(),
    }



def theory_beta(spec) -> float:
    """The reference critical β of a law setting (`analysis.theory.critical_beta_reference`)."""
    from resnet_scale_cli.analysis.theory import critical_beta_reference

    return float(critical_beta_reference(spec.law, hurst=spec.hurst, lengthscale=spec.lengthscale))



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



def sample_document(spec, stats: dict[str, Any]) -> dict[str, Any]:
    """One law setting of `rscale sample --json`."""
    from resnet_scale_cli.laws import law_parameter

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


def check_document(outcome) -> dict[str, Any]:
    """`rscale check --json`."""
    n_total, n_failed = outcome.n_expectations, outcome.n_failed
    return {"command": "check", "passed": outcome.passed,
            "summary": {"expectations": n_total, "passed": n_total - n_failed, "failed": n_failed},
            "files": outcome.documents, "baseline": outcome.baseline, "baseline_updated": outcome.baseline_updated,
            "versions": versions()}
