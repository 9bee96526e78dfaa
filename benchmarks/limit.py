"""Speed of `rscale limit`: a 5-depth grid up to L = 3000 with 32 draws (d = 40, r = 16, float64),
the i.i.d. case of the issue's contract, whose fine reference dominates the cost
(r·L·d² Brownian-bridge normals per draw and 1.5·r·L small products per layer).

    python benchmarks/limit.py                      # iid, 30,100,300,1000,3000
    python benchmarks/limit.py --law rbf --model full --activation tanh
    python benchmarks/limit.py --threads 1          # intra-op threads (default: torch's)

Prints one line per depth (wall and CPU seconds) and, last, one JSON object with the totals, the
fitted rate, and the machine's load average (other processes slow a shared machine down).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_scale_cli.experiments.limit import LimitSpec, measure_limit_cell, summarize_limit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--law", default="iid")
    parser.add_argument("--model", default="simple")
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--depths", default="30,100,300,1000,3000")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--width", type=int, default=40)
    parser.add_argument("--refinement", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = LimitSpec(law=args.law, model=args.model, activation=args.activation, samples=args.samples,
                     width=args.width, refinement=args.refinement, device=args.device,
                     depths=tuple(int(x) for x in args.depths.split(",")))
    records, per_depth = [], []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for depth in spec.depths:
        w, c = time.perf_counter(), time.process_time()
        records.append(measure_limit_cell(spec, depth))
        per_depth.append({"depth": depth, "wall_s": round(time.perf_counter() - w, 2), "cpu_s": round(time.process_time() - c, 2)})
        print(f"L = {depth:5d}: {per_depth[-1]['wall_s']:7.2f} s wall, {per_depth[-1]['cpu_s']:7.2f} s CPU", flush=True)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = summarize_limit(spec, records)
    print(json.dumps({
        "benchmark": "limit", "spec": spec.to_dict(), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "per_depth": per_depth, "rate": summary["rate"]["estimate"], "rate_interval": summary["rate"]["interval"],
        "theory": summary["rate"]["theory"], "threads": torch.get_num_threads(), "load_average": os.getloadavg(),
        "cpus": os.cpu_count(), "torch": torch.__version__, "machine": platform.machine(),
    }))


if __name__ == "__main__":
    main()
