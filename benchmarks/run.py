"""rscale benchmarks, measured side by side in one run on one machine.

    python benchmarks/run.py --quick      # under 5 minutes on a 2-core CPU
    python benchmarks/run.py              # the full measurements (the reference on the whole reduced grid, …)
    python benchmarks/run.py --device cuda    # GPU figures, graphs and eager side by side, with the CPU's

1. Speed against a per-sample reference written the straightforward way: weights through the PyPI
   `fbm` package one path at a time, then one forward and one backpropagation (autograd) per input
   and per β with a batch of one. The reduced grid is one column of the paper's Figure 7: one
   Hurst index, 70 β in [0, 1.3], L = 1000, d = 40, 5 weight draws × 10 inputs, output and
   gradient ratios. With --quick the reference is timed on a slice (one draw's weights, a few
   (input, β) pairs) and projected linearly to the grid (its cost is linear in paths and pairs).
2. (measured first) Achieved GFLOP/s of rscale's forward and tangent passes (matrix-product FLOPs only) against the
   machine's large-matmul GFLOP/s measured in the same run.
3. Peak memory and time of the gradient ratio (exact tangents, no stored activations) against
   L ∈ {10³, 10⁴, 10⁵} at d = 64, each in a fresh process.
4. The full Figure-7 grid (51 Hurst indices × 70 β, L = 1000, d = 40, 5 × 10 samples, output and
   gradient ratios): measured on a slice of Hurst indices and projected (--quick), or measured.
5. --device cuda: [1] (in TFLOP/s against the GPU's own large-matmul rate, also with all 51 law settings'
   draws in one pass), [3] with CUDA peak memory, [4] measured on all 51 Hurst indices, and
   `rscale phase --hurst 0.7 --device cuda`, each with the layer loop replayed from CUDA graphs
   and with the eager loop (RSCALE_NO_CUDA_GRAPHS=1) side by side, then the CPU figures of the
   same run (--no-cpu skips them). The per-sample reference is not run on CUDA.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] == __import__("os").path.dirname(__import__("os").path.abspath(__file__)):
    sys.path.pop(0)  # keep benchmarks/ off the path: a script named like a stdlib module would shadow it

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_scale_cli import seeding  # noqa: E402
from resnet_scale_cli.dynamics import ACTIVATIONS, Network, forward  # noqa: E402
from resnet_scale_cli.experiments import cell  # noqa: E402
from resnet_scale_cli.experiments.cell import measure, measure_group  # noqa: E402
from resnet_scale_cli.grids import parse_float_grid  # noqa: E402
from resnet_scale_cli.laws import sample_weights  # noqa: E402
from resnet_scale_cli.spec import RunSpec  # noqa: E402

FIG7 = dict(law="fbm", depth=1000, width=40, samples=50, draws=5, model="full", activation="relu", dtype="float32")
FIG7_BETAS = parse_float_grid("0:1.3:70", "--beta")
FIG7_HURSTS = parse_float_grid("0.05:0.97:51", "--hurst")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def best_time(fn, reps: int, device: torch.device) -> float:
    fn()
    sync(device)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


# ----------------------------------------------------------------------------- 0. the machine
def matmul_gflops(device: torch.device, dtype: torch.dtype, reps: int) -> float:
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    return 2 * n**3 / best_time(lambda: a @ b, reps, device) / 1e9


# ----------------------------------------------------------------------------- 1. the reference
def reference_weights(hurst: float, depth: int, width: int, n_paths: int | None, seed: int) -> tuple[np.ndarray | None, float]:
    """V, W for one draw through the `fbm` package, one path at a time; seconds per path."""
    import warnings

    from fbm import FBM

    np.random.seed(seed)
    process = FBM(n=depth, hurst=float(hurst), length=depth, method="daviesharte")
    total = 2 * width * width
    count = total if n_paths is None else n_paths
    out = np.empty((count, depth))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(count):
            out[j] = process.fgn()
    per_path = (time.perf_counter() - start) / count
    if n_paths is not None:
        return None, per_path
    paths = out.reshape(2, width, width, depth).transpose(0, 3, 1, 2) / math.sqrt(width)  # (V|W, L, d, d)
    return paths.astype(np.float32), per_path


def reference_pair(V: torch.Tensor, W: torch.Tensor, x: torch.Tensor, readout: torch.Tensor, beta: float) -> tuple[float, float]:
    """One input, one β, batch of one: forward, then autograd backward; log10 ratios."""
    depth = V.shape[0]
    scale = depth ** (-beta)
    h0 = x.clone().requires_grad_(True)
    h = h0
    for k in range(depth):
        h = h + scale * (V[k] @ torch.relu(W[k] @ h))
    (p0,) = torch.autograd.grad(readout @ h, h0)
    with torch.no_grad():
        out = torch.log10(torch.linalg.vector_norm(h - h0) / torch.linalg.vector_norm(h0)).item()
        grad = torch.log10(torch.linalg.vector_norm(p0 - readout) / torch.linalg.vector_norm(readout)).item()
    return out, grad


def run_reference(hurst: float, quick: bool) -> dict:
    """Time (and statistics of) the per-sample reference on the reduced grid."""
    depth, width, draws, inputs = FIG7["depth"], FIG7["width"], FIG7["draws"], FIG7["samples"] // FIG7["draws"]
    torch.manual_seed(0)
    pair_betas = [0.5, 0.75, 1.0] if quick else list(FIG7_BETAS)
    draw_count = 1 if quick else draws
    inputs_used = inputs
    weight_seconds, pair_seconds, pairs, values = 0.0, 0.0, 0, {b: ([], []) for b in pair_betas}
    per_path = None
    for i in range(draw_count):
        start = time.perf_counter()
        weights, per_path = reference_weights(hurst, depth, width, None, seed=i)
        weight_seconds += time.perf_counter() - start
        V, W = torch.from_numpy(weights[0]), torch.from_numpy(weights[1])
        readout = torch.randn(width)
        for _ in range(inputs_used):
            x = torch.randn(width)
            for beta in pair_betas:
                start = time.perf_counter()
                out, grad = reference_pair(V, W, x, readout, beta)
                pair_seconds += time.perf_counter() - start
                pairs += 1
                values[beta][0].append(out)
                values[beta][1].append(grad)
        log(f"  reference: draw {i + 1}/{draw_count} done ({pairs} pairs)")
    total_paths = draws * 2 * width * width
    total_pairs = draws * inputs * len(FIG7_BETAS)
    per_pair = pair_seconds / pairs
    projected = per_path * total_paths + per_pair * total_pairs
    return {
        "seconds": projected if quick else weight_seconds + pair_seconds,
        "measured_seconds": weight_seconds + pair_seconds,
        "projected": quick,
        "seconds_per_path": per_path,
        "seconds_per_pair": per_pair,
        "paths_measured": draw_count * 2 * width * width,
        "pairs_measured": pairs,
        "medians": {f"{b:g}": [float(np.median(v[0])), float(np.median(v[1]))] for b, v in values.items()},
    }


def run_rscale_cell(hurst: float, device: str, reps: int) -> tuple[float, dict]:
    spec = RunSpec(hurst=hurst, betas=FIG7_BETAS, device=device, **FIG7)
    measure(spec.replace(depth=20, betas=(0.5,), samples=5))  # warm-up
    times, meas = [], None
    for _ in range(reps):
        start = time.perf_counter()
        meas = measure(spec)
        sync(spec.torch_device())
        times.append(time.perf_counter() - start)
    medians = {}
    for j, beta in enumerate(meas.betas):
        medians[beta] = [float(np.nanmedian(meas.values["output_log10"][j])), float(np.nanmedian(meas.values["gradient_log10"][j]))]
    return min(times), medians


# ----------------------------------------------------------------------------- 2. efficiency
def _fig7_weights(draws: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """V and W of `draws` Figure-7 draws (fBm, H = 0.7, L = 1000, d = 40), layer-major."""
    gens = [seeding.generator(0, (i,), device) for i in range(draws)]
    options = dict(hurst=0.7, dtype=torch.float32, device=device, layer_major=True)
    return (sample_weights("fbm", FIG7["depth"], FIG7["width"], gens, **options),
            sample_weights("fbm", FIG7["depth"], FIG7["width"], gens, **options))


def _pass_rows(name: str, draws: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(rows, row scales, states) of a pass: "forward", the Figure-7 cell batch (70 β × 10 inputs
    per draw), or "tangent", 70 states each with its d exact basis probes (41 rows per state)."""
    width = FIG7["width"]
    states = len(FIG7_BETAS) * (FIG7["samples"] // FIG7["draws"] if name == "forward" else 1)
    h0 = torch.randn(draws, states, width, dtype=torch.float32, device=device)
    scales = torch.rand(states, dtype=torch.float64, device=device)
    if name == "forward":
        return h0, scales, states
    tangents = torch.eye(width, dtype=torch.float32, device=device).expand(draws, states, width, width)
    return (torch.cat([h0, tangents.reshape(draws, -1, width)], dim=1),
            torch.cat([scales, scales.repeat_interleave(width)]), states)


def _rate(seconds: float, x0: torch.Tensor) -> dict:
    """Matrix-product GFLOP/s of a full-model pass over rows x0 (draws, rows, d): 2 products of
    2·rows·d² per draw and layer."""
    draws, rows, width = x0.shape
    flops = FIG7["depth"] * 2 * 2 * draws * rows * width * width
    return {"seconds": seconds, "gflops": flops / seconds / 1e9, "rows_per_draw": rows, "draws": draws}


def pass_gflops(device: torch.device, reps: int, settings: int = 1) -> dict:
    """Matrix-product GFLOP/s of the forward pass (Figure-7 cell batch) and of the tangent pass
    (70 β × 1 input, exact d basis probes: 41 rows per state); `settings` law settings' draws
    stacked on the batch axis as `measure_group` does (5 draws each)."""
    draws = FIG7["draws"] * settings
    net = Network(*_fig7_weights(draws, device), "full", ACTIVATIONS["relu"], layer_major=True)
    out = {}
    for name in ("forward", "tangent"):
        x0, scales, states = _pass_rows(name, draws, device)
        out[name] = _rate(best_time(lambda: forward(net, x0, scales, states), reps, device), x0)
    return out


def pass_gflops_workers(reps: int, settings: int = 8, tangent_settings: int = 2) -> dict | None:
    """CPU: the forward and tangent passes as cells run them there (`experiments.cell.CPU_WORKERS`):
    the stack of `settings` law settings' draws (5 each; 8 ≈ a Figure-7 pass of 7; the tangent
    pass, 41× the rows, `tangent_settings`) split into one contiguous part per worker thread, each
    running its draws through all layers at one intra-op thread. FLOPs counted as in
    `pass_gflops`; None with one thread (nothing to split)."""
    from concurrent.futures import ThreadPoolExecutor

    threads = torch.get_num_threads()
    if threads < 2:
        return None
    device = torch.device("cpu")
    out = {}
    for name, n_set in (("forward", settings), ("tangent", tangent_settings)):
        draws = FIG7["draws"] * n_set
        workers = min(threads, draws)  # no empty parts (as `cell._parts`)
        V, W = _fig7_weights(draws, device)
        x0, scales, states = _pass_rows(name, draws, device)
        bounds = [draws * j // workers for j in range(workers + 1)]
        nets = [Network(V[:, a:b], W[:, a:b], "full", ACTIVATIONS["relu"], layer_major=True)  # contiguous copies
                for a, b in zip(bounds, bounds[1:])]
        parts = [x0[a:b].contiguous() for a, b in zip(bounds, bounds[1:])]

        def one(j: int, nets=nets, parts=parts, scales=scales, states=states) -> None:
            torch.set_num_threads(1)
            forward(nets[j], parts[j], scales, states)

        def run(one=one, workers=workers) -> None:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, range(workers)))

        try:
            seconds = best_time(run, reps, device)
        finally:
            torch.set_num_threads(threads)
        out[name] = _rate(seconds, x0) | {"workers": workers}
    return out


# ----------------------------------------------------------------------------- 3. depth scaling
def peak_rss_gb() -> float:
    """This process's peak resident set size in GiB: VmHWM of its own address space (Linux). Not
    `ru_maxrss`, which a child started by fork/exec inherits from its parent's peak (a probe
    started by a 1.3 GB benchmark process read 1.3 GB at L = 1000)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 2**30  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # Linux: KiB


def depth_probe(depth: int, device: str) -> None:
    """Child process: the gradient ratio at depth L, d = 64, exact tangents; prints JSON."""
    spec = RunSpec(law="fbm", hurst=0.7, depth=depth, width=64, samples=1, betas=(0.5,), grad_method="tangent",
                   device=device, dtype="float32")
    if spec.torch_device().type == "cuda":  # the CUDA context is not part of the pass
        torch.zeros(1, device=spec.torch_device())
        torch.cuda.synchronize()
    start = time.perf_counter()
    meas = measure(spec)
    seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    cuda_peak = torch.cuda.max_memory_allocated() / 2**30 if spec.torch_device().type == "cuda" else None
    print(json.dumps({"depth": depth, "seconds": seconds, "peak_rss_gb": peak, "cuda_peak_gb": cuda_peak,
                      "gradient_log10": float(meas.values["gradient_log10"][0][0])}))


def depth_scaling(depths: list[int], device: str, env: dict | None = None) -> list[dict]:
    rows = []
    baseline = subprocess.run([sys.executable, __file__, "--import-baseline"], capture_output=True, text=True,
                              cwd=ROOT, check=True)
    idle = float(baseline.stdout)
    for depth in depths:
        log(f"  depth {depth} …")
        proc = subprocess.run([sys.executable, __file__, "--depth-probe", str(depth), "--device", device],
                              capture_output=True, text=True, cwd=ROOT, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"depth probe {depth} failed: {proc.stderr.strip().splitlines()[-1:]}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["import_baseline_gb"] = idle
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- main
def fig7_grid(args, device: torch.device) -> tuple[float, float, list[float]]:
    """[4] The Figure-7 grid through `measure_group` (all Hurst indices that fit the memory budget
    in one pass; `--no-group`: one Hurst index after another), measured or projected (--quick)."""
    log(f"[4] the full Figure-7 grid ({'one H at a time' if args.no_group else 'law settings grouped'})")
    cell.GROUP_SETTINGS = not args.no_group
    cell.CPU_WORKERS = args.cpu_workers
    quick = args.quick and device.type != "cuda"  # on CUDA the whole grid is measured
    hursts = [FIG7_HURSTS[0], FIG7_HURSTS[25], FIG7_HURSTS[-1]] if quick else list(FIG7_HURSTS)
    fig7_measured = fig7_seconds(args.device, hursts)
    return fig7_measured, fig7_measured / len(hursts) * len(FIG7_HURSTS), hursts


def fig7_seconds(device: str, hursts: list[float], memory_gb: float | None = None) -> float:
    """Seconds of `measure_group` over the Figure-7 grid restricted to `hursts` (after a small warm-up);
    `memory_gb`: the cells' memory budget (default: RunSpec's), which bounds the settings per pass."""
    budget = {} if memory_gb is None else {"memory_gb": memory_gb}
    measure(RunSpec(hurst=0.5, betas=(0.5,), device=device, **{**FIG7, "depth": 20, "samples": 5}))  # warm-up
    start = time.perf_counter()
    measure_group([RunSpec(hurst=h, betas=FIG7_BETAS, device=device, **FIG7, **budget) for h in hursts])
    sync(torch.device(device))
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- 5. CUDA
def phase_seconds(device: str, env: dict | None) -> float | None:
    """`rscale phase --hurst 0.7 --device DEVICE` in a fresh process: its elapsed_seconds (after imports)."""
    proc = subprocess.run([sys.executable, "-m", "resnet_scale_cli", "phase", "--hurst", "0.7", "--device", device,
                           "--json", "--quiet"], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        log(f"  rscale phase failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(proc.stdout)["elapsed_seconds"]


def cuda_main(args, device: torch.device) -> None:
    """--device cuda: every figure with the layer loop replayed from CUDA graphs and with the eager
    loop (`RSCALE_NO_CUDA_GRAPHS=1`), side by side, and the CPU figures of the same run (--no-cpu skips them)."""
    from rich.console import Console
    from rich.table import Table

    from resnet_scale_cli.dynamics import replay

    started = time.perf_counter()
    gpu = torch.cuda.get_device_name(device)
    log(f"rscale CUDA benchmarks on {gpu}, torch {torch.__version__}, float32 matmul precision "
        f"{torch.get_float32_matmul_precision()} (TF32 {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'})")
    envs = {"graphs": dict(os.environ, RSCALE_NO_CUDA_GRAPHS="0"), "eager": dict(os.environ, RSCALE_NO_CUDA_GRAPHS="1")}

    log("[0] large-matmul throughput")
    peak = matmul_gflops(device, torch.float32, 8)
    log("[1] forward and tangent passes, graphs and eager")
    passes = {}
    for mode in envs:
        replay.ENABLED = mode == "graphs"
        passes[mode] = {"1 setting": pass_gflops(device, 3), "51 settings": pass_gflops(device, 3, settings=len(FIG7_HURSTS))}
    replay.ENABLED = True
    peak = max(peak, matmul_gflops(device, torch.float32, 8))
    log("[4] the full Figure-7 grid (51 H measured), graphs (first run with the captures, then again) and eager")
    fig7 = {"graphs_first": fig7_seconds(args.device, FIG7_HURSTS), "graphs_again": fig7_seconds(args.device, FIG7_HURSTS),
            "graphs_16gb": fig7_seconds(args.device, FIG7_HURSTS, memory_gb=16.0)}  # all 51 settings in one pass
    replay.ENABLED = False
    fig7["eager"] = fig7_seconds(args.device, FIG7_HURSTS)
    replay.ENABLED = True
    log("[3] depth scaling of the gradient ratio at d = 64, graphs and eager")
    depths = {mode: depth_scaling([1000, 10000, 100000], args.device, env) for mode, env in envs.items()}
    log("[6] rscale phase --hurst 0.7 --device cuda, graphs and eager")
    phase = {mode: phase_seconds(args.device, env) for mode, env in envs.items()}
    cpu = None
    if not args.no_cpu:
        log("[cpu] the same figures on the CPU (Figure-7 grid projected from 3 Hurst indices)")
        cpu_device = torch.device("cpu")
        cpu_peak = matmul_gflops(cpu_device, torch.float32, 8)
        cpu_passes = pass_gflops(cpu_device, 2)
        hursts = [FIG7_HURSTS[0], FIG7_HURSTS[25], FIG7_HURSTS[-1]]
        cpu = {"matmul_gflops": cpu_peak, "passes": cpu_passes, "threads": torch.get_num_threads(),
               "fig7_seconds_projected": fig7_seconds("cpu", hursts) / len(hursts) * len(FIG7_HURSTS)}

    def tflops(row: dict) -> str:
        return f"{row['gflops'] / 1e3:.3f} TFLOP/s ({row['gflops'] / peak:.1%})"

    table = Table(title=f"rscale CUDA benchmarks, {gpu}")
    for column in ("measurement", "CUDA graphs", "CUDA eager", f"CPU ({torch.get_num_threads()} threads)", "note"):
        table.add_column(column, justify="left" if column in ("measurement", "note") else "right")
    table.add_row("large matmul, float32", f"{peak / 1e3:.1f} TFLOP/s", "", f"{cpu['matmul_gflops']:.0f} GFLOP/s" if cpu else "—",
                  "8192² (CUDA) / 2048² (CPU), best of 16; pass rates below in % of it")
    for name, key, settings in (("forward pass", "forward", "1 setting"), ("forward pass", "forward", "51 settings"),
                                ("tangent pass", "tangent", "1 setting"), ("tangent pass", "tangent", "51 settings")):
        row = passes["graphs"][settings][key]
        cpu_cell = (f"{cpu['passes'][key]['gflops']:.0f} GFLOP/s ({cpu['passes'][key]['gflops'] / cpu['matmul_gflops']:.0%})"
                    if cpu and settings == "1 setting" else "—")
        table.add_row(f"{name}, {settings}", tflops(row), tflops(passes["eager"][settings][key]), cpu_cell,
                      f"{row['draws']} draws × {row['rows_per_draw']} rows, L = 1000, d = 40; "
                      f"{row['seconds'] * 1e3:.1f} / {passes['eager'][settings][key]['seconds'] * 1e3:.1f} ms")
    table.add_row("Figure-7 grid (51 H × 70 β), measured", f"{fig7['graphs_first']:.2f} s / {fig7['graphs_again']:.2f} s",
                  f"{fig7['eager']:.2f} s", f"{cpu['fig7_seconds_projected']:.1f} s (projected)" if cpu else "—",
                  "graphs: first run (captures included) / again; target ≤ 1.0 s; default budget (2 GB: 8 passes)")
    table.add_row("  the same, --memory-gb 16", f"{fig7['graphs_16gb']:.2f} s", "—", "—", "all 51 Hurst indices in one pass")
    for g_row, e_row in zip(depths["graphs"], depths["eager"]):
        table.add_row(f"gradient ratio, L = {g_row['depth']}, d = 64", f"{g_row['seconds']:.2f} s", f"{e_row['seconds']:.2f} s",
                      "—", f"CUDA peak {g_row['cuda_peak_gb']:.2f} / {e_row['cuda_peak_gb']:.2f} GB; target at 10⁵: ≤ 2 s, ≤ 4 GB")
    table.add_row("rscale phase --hurst 0.7 --device cuda", *(f"{phase[m]:.2f} s" if phase[m] is not None else "failed"
                                                               for m in ("graphs", "eager")), "—",
                  "elapsed after imports (fresh process); target ≤ 1 s")
    Console(stderr=False, width=200).print(table)
    summary = {
        "device": "cuda", "gpu": gpu, "torch": torch.__version__, "matmul_tflops": round(peak / 1e3, 2),
        "passes": {mode: {settings: {k: {"tflops": round(r["gflops"] / 1e3, 4), "efficiency": round(r["gflops"] / peak, 4),
                                         "seconds": round(r["seconds"], 5), "draws": r["draws"], "rows_per_draw": r["rows_per_draw"]}
                                     for k, r in rows.items()} for settings, rows in by.items()} for mode, by in passes.items()},
        "fig7_seconds_measured": {k: round(v, 3) for k, v in fig7.items()},
        "gradient_ratio": {mode: [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
                           for mode, rows in depths.items()},
        "phase_seconds": phase,
        "cpu": None if cpu is None else {"matmul_gflops": round(cpu["matmul_gflops"], 1), "threads": cpu["threads"],
                                         "fig7_seconds_projected": round(cpu["fig7_seconds_projected"], 2),
                                         "passes": {k: round(r["gflops"], 1) for k, r in cpu["passes"].items()}},
        "graph_capture_failed": replay._failed,
        "benchmark_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="project the slow parts from measured slices (< 5 min)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-group", action="store_true", help="measure the Figure-7 grid one Hurst index at a time")
    parser.add_argument("--cpu-workers", type=int, default=None,
                        help="CPU: threads a pass is split over by draws (experiments.cell.CPU_WORKERS; default: "
                             "torch's thread count; 1: one pass on torch's intra-op threads)")
    parser.add_argument("--fig7-only", action="store_true", help="measure only the Figure-7 grid [4]; prints its JSON")
    parser.add_argument("--no-graphs", action="store_true", help="--fig7-only on CUDA: the eager layer loop (no CUDA graphs)")
    parser.add_argument("--no-cpu", action="store_true", help="--device cuda: skip the CPU figures of the same run")
    parser.add_argument("--depth-probe", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--import-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from resnet_scale_cli.dynamics import replay

    if args.no_graphs:
        replay.ENABLED = False
    if args.import_baseline:  # child process: peak RSS after the imports a depth probe makes
        print(peak_rss_gb())
        return
    if args.depth_probe:
        depth_probe(args.depth_probe, args.device)
        return
    device = torch.device(args.device)
    if args.fig7_only:
        measured, projected, hursts = fig7_grid(args, device)
        print(json.dumps({"fig7_seconds_measured": round(measured, 2) if len(hursts) == len(FIG7_HURSTS) else None,
                          "fig7_seconds_projected": round(projected, 2), "hursts_measured": len(hursts),
                          "seconds_measured": round(measured, 2), "grouped": not args.no_group, "device": str(device),
                          "cpu_workers": args.cpu_workers,
                          "threads": torch.get_num_threads(), "torch": torch.__version__,
                          "cuda_graphs": device.type == "cuda" and not args.no_graphs and replay._failed is None,
                          "graph_capture_failed": replay._failed}))
        return
    if device.type == "cuda":
        cuda_main(args, device)
        return
    reps = 2 if args.quick else 3
    started = time.perf_counter()
    log(f"rscale benchmarks on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {device}")

    log("[0] large-matmul throughput")
    peak = matmul_gflops(device, torch.float32, 8)

    log("[1] forward and tangent passes against the matmul throughput")
    passes = pass_gflops(device, reps)
    split = pass_gflops_workers(reps) if device.type == "cpu" else None
    peak = max(peak, matmul_gflops(device, torch.float32, 8))  # measured again: the best of both stands

    log("[2] rscale on the reduced grid (one Figure-7 column) and the per-sample reference")
    rscale_seconds, rscale_medians = run_rscale_cell(0.7, args.device, reps)
    reference = run_reference(0.7, args.quick)
    speedup = reference["seconds"] / rscale_seconds

    log("[3] depth scaling of the gradient ratio at d = 64")
    depths = depth_scaling([1000, 10000, 100000], args.device)

    fig7_measured, fig7_projected, hursts = fig7_grid(args, device)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"rscale benchmarks ({'quick' if args.quick else 'full'}), device {device}")
    table.add_column("measurement")
    table.add_column("value", justify="right")
    table.add_column("note")
    table.add_row("large matmul, float32", f"{peak:.1f} GFLOP/s", "2048² @ 2048² (CPU) / 8192² (CUDA), best of 16 runs before and after [1]")
    table.add_row("reduced grid: rscale", f"{rscale_seconds:.2f} s", "H = 0.7, 70 β, L = 1000, d = 40, 5 draws × 10 inputs, both ratios")
    table.add_row("reduced grid: per-sample reference", f"{reference['seconds']:.1f} s",
                  (f"projected from {reference['paths_measured']} paths and {reference['pairs_measured']} pairs measured "
                   f"({reference['seconds_per_path'] * 1e3:.2f} ms/path, {reference['seconds_per_pair'] * 1e3:.1f} ms/pair)")
                  if reference["projected"] else "measured on the whole grid")
    table.add_row("speed-up vs reference", f"{speedup:.0f}×", "target ≥ 100×")
    for beta, (out_ref, grad_ref) in reference["medians"].items():
        ours = rscale_medians[min(rscale_medians, key=lambda b: abs(b - float(beta)))]
        table.add_row(f"  median log10 ratios at β = {beta}", f"{ours[0]:+.2f} / {ours[1]:+.2f}",
                      f"reference {out_ref:+.2f} / {grad_ref:+.2f} (output / gradient; other random numbers)")
    for name, row in passes.items():
        table.add_row(f"{name} pass", f"{row['gflops']:.1f} GFLOP/s", f"efficiency {row['gflops'] / peak:.0%} of matmul; "
                      f"{row['rows_per_draw']} rows × 5 draws, {row['seconds']:.3f} s, torch's intra-op threads")
    for name, row in (split or {}).items():
        table.add_row(f"{name} pass, {row['workers']} workers", f"{row['gflops']:.1f} GFLOP/s",
                      f"efficiency {row['gflops'] / peak:.0%} of matmul; {row['rows_per_draw']} rows × {row['draws']} draws "
                      f"split over {row['workers']} threads as cells run on the CPU, {row['seconds']:.3f} s")
    for row in depths:
        table.add_row(f"gradient ratio, L = {row['depth']}, d = 64", f"{row['seconds']:.1f} s",
                      f"peak RSS {row['peak_rss_gb']:.2f} GB (of which {row['import_baseline_gb']:.2f} GB after imports)"
                      + (f", CUDA peak {row['cuda_peak_gb']:.2f} GB" if row["cuda_peak_gb"] is not None else ""))
    table.add_row("Figure-7 grid (51 H × 70 β)", f"{fig7_projected:.1f} s",
                  f"{'projected from' if args.quick else 'measured over'} {len(hursts)} Hurst indices "
                  f"({fig7_measured:.1f} s); target ≤ 120 s")
    Console(stderr=False, width=160).print(table)

    summary = {
        "fig7_seconds_projected": round(fig7_projected, 2),
        "fig7_seconds_measured": None if args.quick else round(fig7_measured, 2),
        "speedup_vs_reference": round(speedup, 1),
        "reference_projected": reference["projected"],
        "matmul_efficiency": round(passes["forward"]["gflops"] / peak, 3),
        "tangent_matmul_efficiency": round(passes["tangent"]["gflops"] / peak, 3),
        "worker_matmul_efficiency": None if split is None else {k: round(r["gflops"] / peak, 3) for k, r in split.items()},
        "matmul_gflops": round(peak, 1),
        "peak_memory_gb_depth_1e5": round(depths[-1]["peak_rss_gb"] if depths[-1]["cuda_peak_gb"] is None else depths[-1]["cuda_peak_gb"], 3),
        "peak_memory_measured": True,
        "depth_scaling": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in depths],
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "quick": args.quick,
        "fig7_grouped": not args.no_group,
        "benchmark_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
