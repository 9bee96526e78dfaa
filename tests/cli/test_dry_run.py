"""`--dry-run`: the resolved spec, the number of cells, the memory against the budget and a time
estimate, exit 0, nothing measured (no output folder, no figure); `--json` gives one document.
Expected counts and bytes are written out from the settings (closed forms), not read back from
the estimator."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MLP = str(ROOT / "examples" / "blocks.py") + ":mlp"
MEASURING = {"run": [], "sweep": [], "phase": [], "sample": [], "limit": [], "spectrum": [], "adjoint": [], "train": [],
             "inspect": [MLP]}
GB = 2**30


def _dry(cli, *args):
    code, out, err = cli(*args, "--dry-run", "--json")
    assert code == 0 and err == "", err
    return json.loads(out)


@pytest.mark.parametrize("command", sorted(MEASURING))
def test_every_command_plans_cells_and_memory_and_measures_nothing(cli, tmp_path, command):
    out, figure = tmp_path / "out", tmp_path / "figure.png"
    folder = ["--out", str(out)] if command != "sample" else []
    document = _dry(cli, command, *MEASURING[command], *folder, "--plot", str(figure))
    assert document["dry_run"] is True and document["command"] == command
    assert isinstance(document["cells"]["count"], int) and document["cells"]["count"] >= 1
    memory = document["memory"]
    assert memory["bytes"] > 0 and memory["budget_gb"] == document["spec"]["memory_gb"]
    assert memory["within_budget"] is True and memory["refused"] is None
    assert abs(memory["gb"] - memory["bytes"] / GB) < 1e-5
    assert document["time"]["estimated"] is (command in ("run", "sweep", "phase"))
    assert not out.exists() and not figure.exists()  # nothing measured, nothing written


def test_cells_count_the_grid(cli):
    """sweep: depths × Hurst indices; spectrum: depths × widths; samples and draws per cell."""
    sweep = _dry(cli, "sweep", "--law", "fbm", "--hurst", "0.3,0.7", "--depth", "10,20,30", "--samples", "6", "--draws", "3")
    assert sweep["cells"] == {"count": 6, "samples": 6, "draws": 3, "betas": 3}
    spectrum = _dry(cli, "spectrum", "--depth", "10,20", "--width", "4,8", "--samples", "2")
    assert spectrum["cells"]["count"] == 4 and spectrum["cells"]["samples"] == 2
    assert _dry(cli, "sample", "--law", "fbm", "--hurst", "0.2,0.5,0.8", "--draws", "4")["cells"] == {"count": 3, "draws": 4}


def test_memory_is_the_preflight_need_written_out(cli):
    """run, simple model, no gradients: V is L·d² float32 numbers, plus 4 copies of the rows
    (β × inputs per draw) of d numbers: 100·8²·4 + 4·(1·1)·8·4 bytes."""
    document = _dry(cli, "run", "--model", "simple", "--depth", "100", "--width", "8", "--beta", "0.5", "--samples", "2",
                    "--no-gradients")
    assert document["memory"]["bytes"] == 100 * 8**2 * 4 + 4 * 1 * 8 * 4
    full = _dry(cli, "run", "--model", "full", "--depth", "100", "--width", "8", "--beta", "0.5", "--samples", "2",
                "--no-gradients", "--dtype", "float64")
    assert full["memory"]["bytes"] == 2 * 100 * 8**2 * 8 + 4 * 1 * 8 * 8


def test_a_run_over_budget_is_reported_not_measured(cli):
    document = _dry(cli, "run", "--depth", "1000", "--width", "40", "--memory-gb", "0.001")
    assert document["memory"]["within_budget"] is False
    assert "--memory-gb 0.001 budget" in document["memory"]["refused"]


def test_time_counts_the_multiply_adds(cli):
    """Simple model, no gradients: draws · L · rows · d² multiply-adds (rows = β × inputs);
    with the exact reverse gradient three passes' worth."""
    args = ("run", "--model", "simple", "--depth", "10", "--width", "4", "--beta", "0.5,1", "--samples", "6", "--draws", "3")
    plain = _dry(cli, *args, "--no-gradients")["time"]
    assert plain["multiply_adds"] == 3 * 10 * (2 * 2) * 16 and plain["weight_numbers"] == 3 * 10 * 16
    assert plain["layer_steps"] == 10 and plain["seconds"] >= 0
    assert _dry(cli, *args)["time"]["multiply_adds"] == 3 * plain["multiply_adds"]
    assert _dry(cli, "limit")["time"] == {"estimated": False, "seconds": None,
                                          "basis": "not estimated: no calibrated time model for limit"}


def test_without_json_the_plan_reads_as_lines(cli):
    code, out, err = cli("sweep", "--depth", "10,20", "--dry-run")
    assert code == 0 and err == "", err
    lines = out.splitlines()
    assert lines[0].startswith("rscale sweep --dry-run")
    assert any(line.startswith("cells   2") for line in lines)
    assert any(line.startswith("memory  ") and "budget 2 GB" in line for line in lines)
    assert any(line.startswith("time    about") for line in lines)


def test_check_lists_files_expectations_and_cells(cli):
    path = ROOT / "examples" / "check_mlp_block.toml"
    document = _dry(cli, "check", str(path))
    (entry,) = document["files"]
    expected = sum(line.strip() == "[[expect]]" for line in path.read_text().splitlines())
    assert entry["file"] == str(path) and len(entry["expectations"]) == expected >= 1
    assert entry["command"] == "inspect" and entry["cells"]["count"] == len(entry["spec"]["depths"])
    assert entry["memory"]["bytes"] > 0


@pytest.mark.slow
def test_dry_runs_import_no_torch_where_the_spec_is_torch_free():
    """Every measuring command but inspect (whose memory needs the user's block, a torch
    module) plans without importing torch, in a fresh process."""
    script = """
import io, json, sys
from contextlib import redirect_stdout
from resnet_scale_cli.cli.app import main
for command in ("run", "sweep", "phase", "sample", "limit", "spectrum", "adjoint", "train"):
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        try:
            main([command, "--dry-run", "--json"])
        except SystemExit as exc:
            assert exc.code == 0, (command, exc.code)
    document = json.loads(buffer.getvalue())
    assert "cells" in document and "memory" in document, command
print("torch" in sys.modules)
"""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", proc.stderr
