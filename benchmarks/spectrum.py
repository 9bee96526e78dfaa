"""`rscale spectrum` against the tangent pass the engine already runs, on the same cells (issue 16's
speed requirement: at most 1.5×).

    python benchmarks/spectrum.py                           # 27 β (0:1.3:27) × L = 100,300,1000,3000, d = 40, 4 draws
    python benchmarks/spectrum.py --depths 100,300 --threads 1

The cells: i.i.d. Gaussian weights, full model, ReLU, float64 (the spectrum's default; the tangent
pass at the same dtype), one input per draw. The tangent pass is `experiments.cell.measure` with
--grad-method tangent and no --probes (d exact tangent probes per β: the full J_L, norms only);
the spectrum is `experiments.spectrum.measure_spectrum_cell` (the same engine pass with QR
re-orthonormalization, then the singular values). Runs alternate per depth so both see the same
machine load; per-depth seconds, totals and their ratio are printed, then one JSON line.
"""

from __future__ import annotations

import os
import sys

# benchmarks/inspect.py is named like the standard library's `inspect`, which torch imports:
# take this folder off the import path before anything imports it
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_scale_cli.experiments import cell  # noqa: E402
from resnet_scale_cli.experiments.spectrum import SpectrumSpec, measure_spectrum_cell, spectrum_cells  # noqa: E402
from resnet_scale_cli.grids import parse_float_grid, parse_int_grid  # noqa: E402
from resnet_scale_cli.spec import RunSpec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="100,300,1000,3000")
    parser.add_argument("--betas", default="0:1.3:27")
    parser.add_argument("--width", type=int, default=40)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    depths, betas = parse_int_grid(args.depths, "--depths"), parse_float_grid(args.betas, "--betas")
    spec = SpectrumSpec(depths=depths, betas=betas, width=(args.width,), samples=args.samples, device="cpu")
    rows = []
    for c in spectrum_cells(spec):
        run_spec = RunSpec(law="iid", model="full", depth=c["depth"], width=args.width, betas=betas,
                           samples=args.samples, grad_method="tangent", dtype="float64", device="cpu")
        start = time.perf_counter()
        with torch.no_grad():
            cell.measure(run_spec)
        tangent = time.perf_counter() - start
        start = time.perf_counter()
        record = measure_spectrum_cell(spec, c)
        spectrum = time.perf_counter() - start
        rows.append({"depth": c["depth"], "tangent_s": round(tangent, 3), "spectrum_s": round(spectrum, 3),
                     "ratio": round(spectrum / tangent, 3), "qr_steps": record["info"]["qr_steps"]})
        print(f"L = {c['depth']:>5}: tangent pass {tangent:8.2f} s   spectrum {spectrum:8.2f} s   ratio {spectrum / tangent:.2f}",
              flush=True)
    total_t = sum(r["tangent_s"] for r in rows)
    total_s = sum(r["spectrum_s"] for r in rows)
    print(f"total: tangent pass {total_t:.2f} s, spectrum {total_s:.2f} s, ratio {total_s / total_t:.2f} "
          f"({len(betas)} β × {len(depths)} depths, d = {args.width}, {args.samples} draws, "
          f"{torch.get_num_threads()} threads)")
    print(json.dumps({"benchmark": "spectrum", "width": args.width, "samples": args.samples, "betas": len(betas),
                      "depths": list(depths), "threads": torch.get_num_threads(), "tangent_s": round(total_t, 3),
                      "spectrum_s": round(total_s, 3), "ratio": round(total_s / total_t, 3),
                      "per_depth": [{k: v for k, v in r.items() if k != "qr_steps"} for r in rows]}))


if __name__ == "__main__":
    main()
