"""`benchmarks/run.py --device cuda` (issue 10, item 3) run through on the CPU with shrunken sizes.

CI has no GPU, so nothing else runs `cuda_main`. Here every line of it runs: the passes with the
layer loop through the replay's buffers (`replay.ON_CPU`) and eager, the Figure-7 grid, the depth
probes (in process, at L = 16) and the phase timing (in process, a small grid). Its figures mean
nothing on this machine; what is checked is the report's structure: each row measured what its
label says (draws, rows per draw), and the JSON line holds what docs/performance.md's GPU table reads.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from resnet_scale_cli.dynamics import replay
from resnet_scale_cli.experiments import cell

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("rscale_benchmarks_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "FIG7", dict(module.FIG7, depth=24, width=6, samples=10))
    monkeypatch.setattr(module, "FIG7_BETAS", (0.25, 0.5, 1.0))
    monkeypatch.setattr(module, "matmul_gflops", lambda device, dtype, reps: 1.0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "no GPU (test)")
    monkeypatch.setattr(replay, "ON_CPU", True)
    monkeypatch.setattr(cell, "CPU_WORKERS", 1)  # the replay's static buffers are per process, not per thread
    return module


@pytest.mark.slow
def test_cuda_report_runs_and_each_row_measures_what_it_says(bench, monkeypatch, capsys):
    probes = []

    def depth_scaling(depths, device, env=None):
        assert depths == [1000, 10000, 100000] and env["RSCALE_NO_CUDA_GRAPHS"] in ("0", "1")
        rows = []
        for depth in depths:
            probes.append(depth)
            bench.depth_probe(16, device)  # the child process's code, in process and shallow
            row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
            rows.append(dict(row, depth=depth, cuda_peak_gb=0.0 if row["cuda_peak_gb"] is None else row["cuda_peak_gb"]))
        return rows

    phase_calls = []

    def phase_seconds(device, env):
        from resnet_scale_cli.cli import main

        phase_calls.append(env["RSCALE_NO_CUDA_GRAPHS"])
        with pytest.raises(SystemExit) as done:
            main(["phase", "--hurst", "0.7", "--device", device, "--depth", "8,16", "--beta", "0.5,1", "--samples", "2",
                  "--width", "4", "--json", "--quiet"])
        assert done.value.code == 0
        return json.loads(capsys.readouterr().out)["elapsed_seconds"]

    monkeypatch.setattr(bench, "depth_scaling", depth_scaling)
    monkeypatch.setattr(bench, "phase_seconds", phase_seconds)
    bench.cuda_main(argparse.Namespace(device="cpu", no_cpu=False), torch.device("cpu"))
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert "rscale CUDA benchmarks" in out and "Figure-7 grid" in out

    settings = len(bench.FIG7_HURSTS)  # 51, the grid's own Hurst indices (at L = 24, d = 6)
    inputs_per_draw = bench.FIG7["samples"] // bench.FIG7["draws"]
    for mode in ("graphs", "eager"):
        by = summary["passes"][mode]
        for label, n in (("1 setting", 1), ("51 settings", settings)):
            row = by[label]
            assert row["forward"]["draws"] == bench.FIG7["draws"] * n
            assert row["forward"]["rows_per_draw"] == len(bench.FIG7_BETAS) * inputs_per_draw  # every input of a draw
            assert row["tangent"]["rows_per_draw"] == len(bench.FIG7_BETAS) * (1 + bench.FIG7["width"])  # states + d probes
            assert row["forward"]["tflops"] > 0 and row["tangent"]["tflops"] > 0
    assert set(summary["fig7_seconds_measured"]) == {"graphs_first", "graphs_again", "graphs_16gb", "eager"}
    assert all(v > 0 for v in summary["fig7_seconds_measured"].values())
    assert probes == [1000, 10000, 100000] * 2 and phase_calls == ["0", "1"]
    assert [r["depth"] for r in summary["gradient_ratio"]["graphs"]] == [1000, 10000, 100000]
    assert all(summary["phase_seconds"][m] > 0 for m in ("graphs", "eager"))
    assert summary["cpu"]["fig7_seconds_projected"] > 0 and set(summary["cpu"]["passes"]) == {"forward", "tangent"}
    assert summary["graph_capture_failed"] is None
