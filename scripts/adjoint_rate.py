"""The rate of the adjoint's gradient error against depth, from `rscale train --backprop adjoint
--json` documents: adjoint_gradient_error (‖g_adjoint − g_exact‖/‖g_exact‖ at step 0, per network)
fitted as ∝ N^slope (slope of log10 median on log10 N, 95 % bootstrap interval over networks,
`analysis.power_law_fit`), with the pairwise slopes of consecutive depths.

    rscale train --net heunnet --law tied --backprop adjoint --depth 8,16,32,64,128 --steps 1 \\
        --samples 8 --dtype float64 --device cpu --json > heun_tied.json
    python scripts/adjoint_rate.py heun_tied.json [more.json ...]

Prints one line per document, then a JSON list on the last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_scale_cli.analysis import power_law_fit  # noqa: E402


def adjoint_rate(document: dict) -> dict:
    """The fit of one train document's adjoint_gradient_error against its depths."""
    spec = document["spec"]
    if spec.get("backprop") != "adjoint":
        raise SystemExit(f"not an adjoint run (backprop = {spec.get('backprop')!r})")
    rows = sorted(document["results"], key=lambda r: r["depth"])
    depths = [r["depth"] for r in rows]
    samples = [[v for v in r["values"]["adjoint_gradient_error"] if v is not None] for r in rows]
    fit = power_law_fit(depths, samples, seed=spec["seed"], key="adjoint-rate")
    return {"net": spec.get("net", "resnet"), "law": spec["law"], "lengthscale": spec["lengthscale"],
            "beta": spec["beta"], "dtype": spec["dtype"], "depths": depths,
            "median_error": [r["adjoint_gradient_error"]["median"] for r in rows],
            "slope": fit["slope"], "interval": fit["interval"], "pairwise": [p["slope"] for p in fit["pairwise"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("documents", nargs="+", type=Path)
    args = parser.parse_args()
    fits = [adjoint_rate(json.loads(path.read_text())) for path in args.documents]
    for path, fit in zip(args.documents, fits):
        errors = ", ".join(f"{e:.2g}" for e in fit["median_error"])
        pairwise = ", ".join(f"{p:+.2f}" for p in fit["pairwise"])
        print(f"{path.name}: {fit['net']} {fit['law']}: slope {fit['slope']:+.2f} "
              f"[{fit['interval'][0]:+.2f}, {fit['interval'][1]:+.2f}]; pairwise {pairwise}; "
              f"median errors {errors} at N = {fit['depths']}", file=sys.stderr)
    print(json.dumps(fits))


if __name__ == "__main__":
    main()
