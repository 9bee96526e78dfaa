"""The distributed path (`--workers`, Dask) against serial, measured side by side in one run.

    python benchmarks/distributed.py --quick    # ~2 minutes on a 2-core CPU (8 Hurst indices of Figure 7)
    python benchmarks/distributed.py            # the whole Figure-7 grid (51 Hurst indices), ~3 minutes
    python benchmarks/distributed.py --workers 4 --device cuda

1. Overhead per cell: a grid of tiny cells (law iid, one depth each so that each cell is its own
   task, d = 3, 2 samples, 1 β: the measurement itself takes about a millisecond), serial against
   a warm `LocalCluster` of 2 worker processes (started, and its workers' imports done, before
   timing). (distributed − serial) / cells is what the distributed path adds per task: submitting,
   scheduling, shipping the measure and the record, and the client's store line.
2. Speed-up on the Figure-7 grid (fbm, H ∈ 0.05:0.97:51 (--quick: 8 of them), 70 β, L = 1000,
   d = 40, 5 draws × 10 inputs, both ratios): serial in this process (torch's default threads)
   and with one torch thread (as each worker runs) against the same cluster; the records are
   checked to be identical. The cluster's start-up is timed on its own, and the load average
   before and after is printed: on a shared machine, other processes change every figure.

Every run writes its store to a temporary folder, as `rscale sweep --out` does. The last line
printed is one JSON object with the figures.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] == __import__("os").path.dirname(__import__("os").path.abspath(__file__)):
    sys.path.pop(0)  # benchmarks/inspect.py would shadow the standard library's inspect

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])  # workers

import numpy as np  # noqa: E402
import torch  # noqa: E402

from resnet_scale_cli import api  # noqa: E402
from resnet_scale_cli.grids import parse_float_grid  # noqa: E402
from resnet_scale_cli.spec import RunSpec  # noqa: E402
from resnet_scale_cli.sweep import SweepSpec  # noqa: E402
from resnet_scale_cli.sweep.distributed import DaskExecutor  # noqa: E402

FIG7 = dict(law="fbm", depth=1000, width=40, samples=50, draws=5, model="full", activation="relu", dtype="float32")
FIG7_BETAS = parse_float_grid("0:1.3:70", "--beta")
FIG7_HURSTS = parse_float_grid("0.05:0.97:51", "--hurst")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(sweep: SweepSpec, executor=None) -> tuple[float, list[dict]]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        study = api.grid_study("sweep", sweep, out=out, executor=executor)
        return time.perf_counter() - start, study.records


def tiny_grid(cells: int, device: str) -> SweepSpec:
    base = RunSpec(law="iid", depth=10, width=3, samples=2, betas=(0.5,), device=device)
    return SweepSpec(base=base, depths=tuple(range(10, 10 + cells)), params=())


def fig7_grid(hursts: tuple[float, ...], device: str) -> SweepSpec:
    return SweepSpec(base=RunSpec(hurst=hursts[0], betas=FIG7_BETAS, device=device, **FIG7), depths=(FIG7["depth"],),
                     params=hursts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 Hurst indices of the Figure-7 grid instead of 51")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cells", type=int, default=60, help="tiny cells of the overhead grid")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    hursts = tuple(FIG7_HURSTS[:: max(1, len(FIG7_HURSTS) // 8)][:8]) if args.quick else tuple(FIG7_HURSTS)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.CRITICAL)
    client = Client(cluster)
    startup = time.perf_counter() - started
    executor = DaskExecutor(client=client)
    timed(tiny_grid(2 * args.workers, args.device), executor)  # workers import torch and rscale
    timed(tiny_grid(2, args.device))
    log(f"cluster of {args.workers} workers started in {startup:.2f} s; measuring the overhead per cell …")

    tiny = tiny_grid(args.cells, args.device)
    serial_tiny = min(timed(tiny)[0] for _ in range(3))
    dask_tiny = min(timed(tiny, executor)[0] for _ in range(3))
    overhead = (dask_tiny - serial_tiny) / args.cells
    log(f"tiny cells: serial {serial_tiny / args.cells * 1e3:.1f} ms/cell, distributed {dask_tiny / args.cells * 1e3:.1f} "
        f"ms/cell: overhead {overhead * 1e3:.1f} ms per cell")

    fig7 = fig7_grid(hursts, args.device)
    log(f"Figure-7 grid ({len(hursts)} H × {len(FIG7_BETAS)} β, L = {FIG7['depth']}, d = {FIG7['width']}): serial …")
    serial_seconds, serial_records = timed(fig7)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    log(f"  serial ({threads} torch threads) {serial_seconds:.1f} s; serial, 1 thread (as each worker) …")
    one_thread_seconds, _ = timed(fig7)
    torch.set_num_threads(threads)
    log(f"  serial, 1 thread {one_thread_seconds:.1f} s; {args.workers} workers …")
    dask_seconds, dask_records = timed(fig7, executor)
    identical = json.dumps(serial_records) == json.dumps(dask_records)
    log(f"  {args.workers} workers {dask_seconds:.1f} s: speed-up {serial_seconds / dask_seconds:.2f}× against serial, "
        f"{one_thread_seconds / dask_seconds:.2f}× against serial on 1 thread (records identical: {identical})")
    client.close()
    cluster.close()
    print(json.dumps({
        "workers": args.workers, "device": args.device, "cpus": os.cpu_count(), "torch_threads_serial": threads,
        "cluster_startup_seconds": round(startup, 2),
        "tiny_cells": args.cells, "serial_ms_per_cell": round(serial_tiny / args.cells * 1e3, 2),
        "distributed_ms_per_cell": round(dask_tiny / args.cells * 1e3, 2), "overhead_ms_per_cell": round(overhead * 1e3, 2),
        "fig7_hursts": len(hursts), "fig7_serial_seconds": round(serial_seconds, 2),
        "fig7_serial_1thread_seconds": round(one_thread_seconds, 2), "fig7_distributed_seconds": round(dask_seconds, 2),
        "speedup": round(serial_seconds / dask_seconds, 3), "speedup_vs_1thread": round(one_thread_seconds / dask_seconds, 3),
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "records_identical": identical, "torch": torch.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
