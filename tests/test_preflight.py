"""One memory preflight for every command: the least memory of a unit of work (one weight draw,
or a whole cell where draws are not split) is computed from the spec alone and refused over
`--memory-gb` or the free memory, before any tensor exists, in one line naming the estimate.

Fast tier: the cost models against byte counts done by hand, and that each is a lower bound of
the memory the work really holds (`experiments.memory.PeakMemory`). Slow tier: every command,
asked for far too much, exits 2 with one line on stderr while the child's own peak resident
memory (VmHWM) stays under 1.5 GB."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_scale_cli import resources
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.resources import GB, Need, check_fits, check_need, sample_need
from resnet_scale_cli.spec import RunSpec

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "examples" / "blocks.py") + ":mlp"


# ----------------------------------------------------------------------------- the shared check
def test_check_need_refuses_over_the_budget_then_over_the_free_memory():
    need = Need(3 * GB, "--depth 5: one draw", "what it counts", "--depth")
    with pytest.raises(SpecError) as exc:
        check_need(need, memory_gb=2, device="cpu", available=100 * GB)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith("--depth 5: one draw needs about 3 GB (what it counts)")
    assert "--memory-gb 2 budget" in message and "reduce --depth, or raise --memory-gb" in message
    with pytest.raises(SpecError, match=r"needs about 3 GB \(what it counts\), more than the 1 GB free on cpu; reduce --depth$"):
        check_need(need, memory_gb=4, device="cpu", available=GB)
    check_need(need, memory_gb=3, device="cpu", available=3 * GB)  # equal is enough
    check_need(need, memory_gb=None, device="cpu", available=3 * GB)


def test_check_need_reads_the_free_memory_when_not_given(monkeypatch):
    monkeypatch.setattr(resources, "available_bytes", lambda device: 1000)
    with pytest.raises(SpecError, match="GB free on cpu"):
        check_need(Need(1001, "w", "c", "r"), memory_gb=1, device="cpu")
    check_need(Need(1000, "w", "c", "r"), memory_gb=1, device="cpu")
    monkeypatch.setattr(resources, "available_bytes", lambda device: None)  # unknown: only the budget
    check_need(Need(GB, "w", "c", "r"), memory_gb=1, device="cpu")


def test_run_refuses_a_draw_over_its_budget():
    spec = RunSpec(depth=1000, width=40, device="cpu", memory_gb=1e-3)  # V and W: 2·1000·1600·4 B = 12.8 MB
    with pytest.raises(SpecError, match=r"--depth 1000 --width 40: one weight draw needs about .* --memory-gb 0.001"):
        check_fits(spec, available=10**12)
    check_fits(spec.replace(memory_gb=0.02), available=10**12)


def test_sample_need_counted_by_hand():
    # 2 draws · 10 layers · 3² entries = 180 numbers: float32 twice (8 B) and float64 once (8 B)
    assert sample_need(RunSpec(depth=10, width=3, samples=2, device="cpu")).bytes == 180 * 16
    assert sample_need(RunSpec(depth=10, width=3, samples=2, device="cpu", dtype="float64")).bytes == 180 * 24


# ----------------------------------------------------------------------------- spectrum
def test_spectrum_draw_counted_by_hand():
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec, draw_bytes, draw_need

    spec = SpectrumSpec(depths=(10,), width=(3,), betas=(0.5,), device="cpu", dtype="float64")
    # V and W 2·10·9·8 = 1440 B; 4 copies of 1·(3 + 1) rows of 3 numbers: 4·4·3·8 = 384 B;
    # 6 float64 3×3 QR matrices for the one state: 6·9·8 = 432 B
    assert draw_bytes(spec, 10, 3) == 1440 + 384 + 432
    assert draw_bytes(spec.replace(model="simple"), 10, 3) == 720 + 384 + 432
    two = spec.replace(betas=(0.5, 1.0), dtype="float32")  # 2·10·9·4 = 720; 4·2·4·3·4 = 384; 6·2·9·8 = 864
    assert draw_bytes(two, 10, 3) == 720 + 384 + 864
    need = draw_need(spec, {"law": "iid", "depth": 10})
    assert need.bytes == 2256 and need.where == "--depth 10 --width 3: one weight draw" and "--model simple" in need.reduce


def test_spectrum_cells_are_refused_before_measuring():
    from resnet_scale_cli import api
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec, spectrum_cells

    spec = SpectrumSpec(depths=(10, 1000), width=(3,), betas=(0.5,), device="cpu", memory_gb=1e-5)  # 10.7 kB
    with pytest.raises(SpecError, match=r"^--depth 1000 --width 3: one weight draw needs about 0\.000135 GB"):
        api.total_cost(api.SPECTRUM, spec)  # depth 10 fits (2256 B), depth 1000: 144 000 + 816 B does not
    assert len(spectrum_cells(spec.replace(depths=(10,)))) == 1


def test_spectrum_chunks_count_the_whole_draw():
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec, draws_per_chunk

    spec = SpectrumSpec(depths=(10,), width=(3,), betas=(0.5,), samples=8, device="cpu", dtype="float64",
                        memory_gb=3 * 2256 / 2**29)  # half the budget holds three draws of 2256 B
    assert draws_per_chunk(spec, {"depth": 10}) == 3


# ----------------------------------------------------------------------------- adjoint
def test_adjoint_cell_counted_by_hand():
    from resnet_scale_cli.experiments.adjoint import AdjointSpec, cell_bytes

    spec = AdjointSpec(depths=(10,), width=3, samples=2, device="cpu", dtype="float64")
    # weights and two gradient buffers, V and W: 3·2·10 layers·2 draws·9 = 1080 numbers; 11 stored
    # states and 4 rows of temporaries of 2 draws·1 input·3 = 6 numbers: 90; 8 bytes each
    assert cell_bytes(spec, 10) == (1080 + 90) * 8
    assert cell_bytes(dataclasses.replace(spec, net="heunnet"), 10) == (3 * 2 * 11 * 2 * 9 + 90) * 8  # θ_0..θ_N
    assert cell_bytes(dataclasses.replace(spec, model="simple", batch=2), 10) == (540 + 15 * 2 * 2 * 3) * 8


def test_adjoint_takes_memory_gb_and_refuses_before_measuring(monkeypatch):
    from resnet_scale_cli import api
    from resnet_scale_cli.experiments.adjoint import AdjointSpec

    with pytest.raises(SpecError, match="--memory-gb must be positive"):
        AdjointSpec(memory_gb=0)
    spec = AdjointSpec(depths=(10, 20), width=3, samples=2, device="cpu", memory_gb=(1170 * 8 + 1) / GB)
    assert api.total_cost(api.ADJOINT, dataclasses.replace(spec, depths=(10,))) == 10
    with pytest.raises(SpecError, match=r"^--depth 20 --width 3 --samples 2: the cell needs about .* --memory-gb"):
        api.total_cost(api.ADJOINT, spec)
    monkeypatch.setattr(resources, "available_bytes", lambda device: 100)
    with pytest.raises(SpecError, match="GB free on cpu"):
        api.adjoint(dataclasses.replace(spec, depths=(10,), memory_gb=2.0))


# ----------------------------------------------------------------------------- train
def _train(**kw):
    from resnet_scale_cli.experiments.training_spec import TrainSpec

    return TrainSpec(**{"depths": (4,), "width": 3, "samples": 2, "n_examples": 5, "device": "cpu", **kw})


def test_train_cell_counted_by_hand():
    from resnet_scale_cli.experiments.training_spec import cell_bytes

    # P = 4 layers·2 networks·3·3·2 (V and W) = 144; θ, θ(0), ∇θ: 432 numbers. Workspace for 5
    # rows: h_k and p_k 2·5·2·5·3 = 300, e_k, z_k, σ(z_k) 3·4·2·5·3 = 360. float32.
    assert cell_bytes(_train(), 4) == (432 + 660) * 4
    assert cell_bytes(_train(optimizer="adam"), 4) == (720 + 660) * 4  # + Adam's two moments
    assert cell_bytes(_train(net="heunnet"), 4) == (3 * 180 + 5 * 2 * 5 * 3) * 4  # 5 layers; states h_0..h_4
    assert cell_bytes(_train(model="linear"), 4) == (3 * 72 + 300 + 120) * 4  # V only; e_k only
    assert cell_bytes(_train(hidden=4), 4) == (3 * 4 * 2 * 24 + 300 + 3 * 4 * 2 * 5 * 4) * 4  # m = 4
    assert cell_bytes(_train(optimizer="sgd", batch_size=2), 4) == (432 + 2 * 5 * 2 * 2 * 3 + 3 * 4 * 2 * 2 * 3) * 4


def test_train_takes_memory_gb_refuses_before_training_and_resumes_across_budgets():
    from resnet_scale_cli import api
    from resnet_scale_cli.experiments.training import _fingerprint

    with pytest.raises(SpecError, match="--memory-gb must be positive"):
        _train(memory_gb=-1.0)
    spec = _train(depths=(4, 8), memory_gb=1092 * 4 / GB)
    with pytest.raises(SpecError, match=r"^--depth 8 --width 3 --samples 2: the cell needs about .* reduce --depth"):
        api.total_cost(api.TRAIN, spec)
    assert api.total_cost(api.TRAIN, spec.replace(depths=(4,))) == spec.steps
    assert _fingerprint(spec) == _fingerprint(spec.replace(memory_gb=64.0))


# ----------------------------------------------------------------------------- inspect
def test_inspect_draw_counted_by_hand():
    from resnet_scale_cli.experiments.inspect_block import InspectSpec, draw_bytes

    spec = InspectSpec(block=MLP, depths=(10,), width=3, betas=(0.5,), samples=2, device="cpu")
    # parameters 10·18; with gradients at least the block's input per layer, 3 rows × 3 numbers: 90;
    # the draws per chunk allow for 8 saved tensors per layer: 720; float32
    assert draw_bytes(spec, 10, 18, 3, 3) == (180 + 90) * 4
    assert draw_bytes(spec, 10, 18, 3, 3, saved=8) == (180 + 720) * 4
    assert draw_bytes(spec.replace(gradients=False), 10, 18, 3, 3) == (180 + 4 * 9) * 4


def test_inspect_counts_the_blocks_parameters_and_refuses_before_measuring():
    from resnet_scale_cli import api
    from resnet_scale_cli.experiments.inspect_block import InspectSpec

    # mlp: V and W of 3 × 3, P = 18; one input per draw, 1 β: (10·18 + 10·3) · 4 = 840 B
    spec = InspectSpec(block=MLP, depths=(10, 20), width=3, betas=(0.5,), samples=2, device="cpu",
                       memory_gb=840 / GB)
    with pytest.raises(SpecError, match=r"^--depth 20 --width 3: one draw needs about .*L·P = 20·18 parameters"):
        api.total_cost(api.INSPECT, spec)
    assert api.total_cost(api.INSPECT, spec.replace(depths=(10,))) > 0


# ----------------------------------------------------------------------------- lower bounds
def _peak(fn) -> int:
    from resnet_scale_cli.experiments.memory import PeakMemory

    with PeakMemory("cpu") as meter:
        fn()
    return meter.peak_bytes


@pytest.mark.slow
def test_each_least_need_is_at_most_what_the_work_holds():
    """The estimates are lower bounds (never refuse work that would fit): each is compared with
    the bytes of tensors the measurement holds at once."""
    import torch

    from resnet_scale_cli.experiments import adjoint, inspect_block, spectrum, training, training_spec
    from resnet_scale_cli.experiments.sample import weight_statistics

    torch.manual_seed(0)
    s = spectrum.SpectrumSpec(depths=(64,), width=(12,), betas=(0.5, 1.0), samples=1, device="cpu")
    assert spectrum.draw_bytes(s, 64, 12) <= _peak(lambda: spectrum.measure_spectrum_cell(s, {"law": "iid", "depth": 64}))
    a = adjoint.AdjointSpec(depths=(64,), width=12, samples=2, batch=3, device="cpu")
    assert adjoint.cell_bytes(a, 64) <= _peak(lambda: adjoint.measure_adjoint_cell(a, 64))
    for kw in ({}, {"optimizer": "adam", "net": "heunnet"}, {"backprop": "adjoint", "model": "simple"}):
        t = _train(depths=(16,), width=12, steps=2, **kw)
        assert training_spec.cell_bytes(t, 16) <= _peak(lambda: training.measure_training_cell(t, 16)), kw
    i = inspect_block.InspectSpec(block=MLP, depths=(32,), width=12, betas=(0.5,), samples=1, device="cpu",
                                  batching="loop")
    assert inspect_block.draw_bytes(i, 32, 2 * 144, 1, 12) <= _peak(lambda: inspect_block.measure_inspect_cell(i, 32))
    r = RunSpec(depth=64, width=12, samples=2, device="cpu")
    assert sample_need(r).bytes <= _peak(lambda: weight_statistics(r, 4))


# ----------------------------------------------------------------------------- every command, as a user runs it
#: run rscale ARGS in a child that writes its own peak resident memory (VmHWM, kB) to a file at exit
WRAPPER = """
import sys
from resnet_scale_cli.cli.app import main
try:
    main(sys.argv[2:])
finally:
    with open('/proc/self/status') as status:
        hwm = next(line.split()[1] for line in status if line.startswith('VmHWM:'))
    with open(sys.argv[1], 'w') as out:
        out.write(hwm)
"""
PEAK_LIMIT_KB = 1.5 * 2**20

OVERSIZED = {
    "run": ["run", "--depth", "100000000", "--width", "1000"],
    "run-free": ["run", "--depth", "100000000", "--width", "1000", "--memory-gb", "1e12"],
    "sweep": ["sweep", "--depth", "10,100000000", "--width", "1000", "--samples", "2"],
    "phase": ["phase", "--depth", "10,100000000", "--width", "4096", "--samples", "2"],
    "limit": ["limit", "--depth", "1000000,2000000", "--width", "1000"],
    "spectrum-width": ["spectrum", "--depth", "100,200", "--width", "100000"],
    "spectrum-depth": ["spectrum", "--depth", "1000000", "--width", "40"],
    "spectrum-free": ["spectrum", "--depth", "100,200", "--width", "100000", "--memory-gb", "1e9"],
    "adjoint": ["adjoint", "--depth", "10000000,20000000", "--width", "1000"],
    "train": ["train", "--depth", "1000000", "--width", "1000"],
    "train-free": ["train", "--depth", "1000000", "--width", "1000", "--memory-gb", "1e9"],
    "inspect": ["inspect", MLP, "--width", "2000", "--depth", "1000000,2000000"],
    "sample": ["sample", "--depth", "10000000", "--width", "1000"],
}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@pytest.mark.parametrize("case", list(OVERSIZED))
def test_oversized_work_exits_2_in_one_line_before_allocating(case, tmp_path):
    peak = tmp_path / "vmhwm"
    child = subprocess.run([sys.executable, "-c", WRAPPER, str(peak), *OVERSIZED[case], "--device", "cpu"],
                           capture_output=True, text=True, timeout=300, cwd=ROOT, env=dict(os.environ, NO_COLOR="1"))
    assert child.returncode == 2, child.stderr
    assert child.stdout == "" and child.stderr.count("\n") == 1, child.stderr
    assert "needs about" in child.stderr and " GB (" in child.stderr and "reduce --" in child.stderr, child.stderr
    assert ("GB free on cpu" if case.endswith("-free") else "--memory-gb") in child.stderr, child.stderr
    assert int(peak.read_text()) < PEAK_LIMIT_KB, f"peak resident memory {int(peak.read_text()) / 2**20:.2f} GB"
