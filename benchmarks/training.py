"""Speed of `rscale train`: one training run of 1000 full-batch gradient-descent steps at
L = 256, d = 16 on 512 examples (full model V σ(W h), GELU, tied initialization, one seed),
the issue's target being under a minute on a 2-core CPU.

    python benchmarks/training.py                 # the reference run (1000 steps)
    python benchmarks/training.py --steps 200     # shorter, projected to 1000 steps
    python benchmarks/training.py --samples 4     # four seeds on the batch axis in the same run
    python benchmarks/training.py --device cuda

Prints the figures, then one JSON object on the last line. `cpu_seconds` (the process's CPU
time) tells what the run costs when other processes share the cores and `seconds` overstates it.
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

from resnet_scale_cli.experiments.training import TrainSpec, load_dataset, measure_training_cell  # noqa: E402


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
    args = parser.parse_args()
    spec = TrainSpec(law="tied", depths=(args.depth,), width=args.width, n_examples=args.examples, n_test=256,
                     steps=args.steps, samples=args.samples, device=args.device, dtype=args.dtype,
                     activation=args.activation, lr=0.05)
    data = load_dataset(spec)
    measure_training_cell(spec.replace(steps=2), args.depth, data=data)  # warm-up (allocations, kernels)
    start, cpu_start = time.perf_counter(), time.process_time()
    record = measure_training_cell(spec, args.depth, data=data)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    per_step = seconds / args.steps
    out = {
        "benchmark": "train",
        "depth": args.depth, "width": args.width, "examples": args.examples, "samples": args.samples,
        "steps": args.steps, "activation": args.activation, "device": record["info"]["device"], "dtype": args.dtype,
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2), "ms_per_step": round(1e3 * per_step, 2),
        "projected_seconds_1000_steps": round(1000 * per_step, 1),
        "initial_loss": record["initial_loss"]["median"], "final_loss": record["final_loss"]["median"],
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "load_average": os.getloadavg()[0],
    }
    print(f"train: L = {args.depth}, d = {args.width}, n = {args.examples}, {args.samples} seed(s), "
          f"{args.steps} steps in {seconds:.1f} s ({1e3 * per_step:.1f} ms/step; 1000 steps ≈ {1000 * per_step:.0f} s)",
          file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
