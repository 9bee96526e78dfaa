"""Speed of `rscale train`: one training run of 1000 full-batch gradient-descent steps at
L = 256, d = 16 on 512 examples (full model V σ(W h), GELU, tied initialization, one seed),
the issue's target being under a minute on a 2-core CPU; for the ResNet (Euler, N weight layers)
and the HeunNet (Heun, N + 1 weight layers, two residual evaluations per step), side by side.

    python benchmarks/training.py                 # the reference run (1000 steps), both nets
    python benchmarks/training.py --steps 200     # shorter, projected to 1000 steps
    python benchmarks/training.py --net heunnet --backprop adjoint
    python benchmarks/training.py --samples 4     # four seeds on the batch axis in the same run
    python benchmarks/training.py --device cuda

Prints the figures (each net's ms per step, and the HeunNet's against the ResNet's), then one
JSON object on the last line (`runs`: one entry per net). `cpu_seconds` (the process's CPU time)
tells what the run costs when other processes share the cores and `seconds` overstates it.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_scale_cli.experiments.training import (  # noqa: E402
    BACKPROPS, NETS, TrainSpec, load_dataset, measure_training_cell,
)


def _time_net(spec: TrainSpec, depth: int, data) -> dict:
    """One warmed-up training run of `spec` at `depth`: wall-clock and CPU seconds, ms per step."""
    measure_training_cell(spec.replace(steps=2), depth, data=data)  # warm-up (allocations, kernels)
    start, cpu_start = time.perf_counter(), time.process_time()
    record = measure_training_cell(spec, depth, data=data)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    per_step = seconds / spec.steps
    return {
        "net": spec.net, "backprop": spec.backprop, "weight_layers": record["info"]["weight_layers"],
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2), "ms_per_step": round(1e3 * per_step, 2),
        "cpu_ms_per_step": round(1e3 * cpu_seconds / spec.steps, 2),
        "projected_seconds_1000_steps": round(1000 * per_step, 1),
        "initial_loss": record["initial_loss"]["median"], "final_loss": record["final_loss"]["median"],
        "device": record["info"]["device"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=256)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--activation", default="gelu")
    parser.add_argument("--net", default="resnet,heunnet", help="resnet, heunnet or both (comma-separated, timed in turn)")
    parser.add_argument("--backprop", default="exact", choices=BACKPROPS)
    args = parser.parse_args()
    nets = [n.strip() for n in args.net.split(",") if n.strip()]
    unknown = [n for n in nets if n not in NETS]
    if not nets or unknown:
        parser.error(f"--net: unknown {', '.join(unknown) or 'empty'}; choose from {', '.join(NETS)}")
    spec = TrainSpec(law="tied", depths=(args.depth,), width=args.width, n_examples=args.examples, n_test=256,
                     steps=args.steps, samples=args.samples, device=args.device, dtype=args.dtype,
                     activation=args.activation, lr=0.05, backprop=args.backprop)
    data = load_dataset(spec)
    runs = [_time_net(spec.replace(net=net), args.depth, data) for net in nets]
    for run in runs:
        print(f"train {run['net']} ({run['backprop']}): L = {args.depth}, d = {args.width}, n = {args.examples}, "
              f"{args.samples} seed(s), {args.steps} steps in {run['seconds']:.1f} s ({run['ms_per_step']:.1f} ms/step, "
              f"{run['cpu_ms_per_step']:.1f} ms CPU/step; 1000 steps ≈ {run['projected_seconds_1000_steps']:.0f} s)",
              file=sys.stderr)
    by_net = {run["net"]: run for run in runs}
    ratio = None
    if {"resnet", "heunnet"} <= set(by_net):
        ratio = round(by_net["heunnet"]["cpu_ms_per_step"] / by_net["resnet"]["cpu_ms_per_step"], 2)
        print(f"HeunNet / ResNet per step: {ratio:.2f}× (CPU time)", file=sys.stderr)
    out = {
        "benchmark": "train",
        "depth": args.depth, "width": args.width, "examples": args.examples, "samples": args.samples,
        "steps": args.steps, "activation": args.activation, "dtype": args.dtype, "backprop": args.backprop,
        "runs": runs, "heunnet_over_resnet_cpu": ratio,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
