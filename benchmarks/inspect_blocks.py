"""`inspect` against the built-in engine on the same cell (issue 14's speed requirement).

    python benchmarks/inspect_blocks.py                 # d = 64, L = 1000, 32 draws, 10 β (the issue's cell)
    python benchmarks/inspect_blocks.py --threads 1     # both at one intra-op thread (steadier on a busy machine)

The cell: i.i.d. Gaussian weights N(0, 1/d), f(h) = V relu(W h), output and gradient ratios for
10 values of β, one input per draw. The engine is `rscale run --model full` (exact reverse
pass); inspect runs `examples/blocks.py:mlp` (one module construction per draw and layer,
torch.func.vmap over draws, autograd through the stack, 64 profile positions), and the same
with init "moments" (Gaussian weights with the init's per-tensor moments: no construction). Runs alternate
engine / inspect so that both see the same machine load; the medians and their ratio are
printed, then one JSON line with the figures.
"""

from __future__ import annotations

import os
import sys

# this file is named like the standard library's `inspect`, which torch imports: take the
# script's folder off the import path before anything imports it
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_scale_cli.experiments import inspect_block_stack as stk  # noqa: E402
from resnet_scale_cli.experiments.inspect_block import InspectSpec, cell_key, measure_inspect_cell  # noqa: E402


def engine_seconds(width: int, depth: int, draws: int, betas) -> float:
    from resnet_scale_cli.experiments import cell  # the built-in engine
    from resnet_scale_cli.spec import RunSpec

    spec = RunSpec(law="iid", model="full", activation="relu", depth=depth, width=width, samples=draws,
                   betas=betas, device="cpu", seed=0)
    start = time.perf_counter()
    cell.run(spec)
    return time.perf_counter() - start


def inspect_seconds(width: int, depth: int, draws: int, betas, init: str = "module") -> tuple[float, dict]:
    spec = InspectSpec(block=str(ROOT / "examples" / "blocks.py") + ":mlp", init=init, width=width, depths=(depth,),
                       betas=betas, samples=draws, device="cpu")
    start = time.perf_counter()
    record = measure_inspect_cell(spec, depth)
    return time.perf_counter() - start, record["info"]


def construction_seconds(width: int, depth: int, draws: int) -> float:
    """The share of inspect spent building D × L modules (the module's own initialization)."""
    spec = InspectSpec(block=str(ROOT / "examples" / "blocks.py") + ":mlp", width=width, depths=(depth,), device="cpu")
    block = stk.load_block(spec.block)
    layout = stk.Layout.of(block.build(width, 0, depth), spec.block)
    start = time.perf_counter()
    stk.sample_stack(block, layout, law="iid", width=width, depth=depth, draws=range(draws), root_seed=0,
                     key=cell_key(spec, depth), dtype=torch.float32, device=torch.device("cpu"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    betas = tuple(round(0.1 * i, 2) for i in range(1, 11))
    engine_seconds(8, 16, 2, betas)  # warm-up: imports, allocator
    inspect_seconds(8, 16, 2, betas)
    engine, inspect, moments, info = [], [], [], {}
    for _ in range(args.repeats):
        engine.append(engine_seconds(args.width, args.depth, args.draws, betas))
        t, info = inspect_seconds(args.width, args.depth, args.draws, betas)
        inspect.append(t)
        moments.append(inspect_seconds(args.width, args.depth, args.draws, betas, "moments")[0])
    build = construction_seconds(args.width, args.depth, args.draws)
    e, i, g = statistics.median(engine), statistics.median(inspect), statistics.median(moments)
    print(f"cell: d = {args.width}, L = {args.depth}, {args.draws} draws, {len(betas)} β, output + gradient ratios; "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    print(f"engine  (rscale run --model full)      : {e:7.2f} s  (runs {', '.join(f'{t:.2f}' for t in engine)})")
    print(f"inspect (examples/blocks.py:mlp)       : {i:7.2f} s  (runs {', '.join(f'{t:.2f}' for t in inspect)}; "
          f"batching {info.get('batching')}, of which {build:.2f} s building {args.draws * args.depth} modules)")
    print(f"inspect --init moments                 : {g:7.2f} s  (runs {', '.join(f'{t:.2f}' for t in moments)}; "
          f"Gaussian weights with the init's per-tensor moments, no module per layer)")
    print(f"ratio inspect / engine                 : {i / e:7.2f}  (requirement: at most 3); with --init moments {g / e:.2f}")
    print(json.dumps({"width": args.width, "depth": args.depth, "draws": args.draws, "betas": len(betas),
                      "threads": torch.get_num_threads(), "load_average": os.getloadavg()[0], "engine_seconds": engine,
                      "inspect_seconds": inspect, "inspect_moments_seconds": moments, "construction_seconds": build,
                      "ratio": i / e, "ratio_moments": g / e, "batching": info.get("batching")}))


if __name__ == "__main__":
    main()
