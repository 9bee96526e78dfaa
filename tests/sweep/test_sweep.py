"""Sweeps and phase diagrams: grids, resumable runs, regime analysis, figures, JSON."""

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from resnet_scale_cli.analysis.regimes import _crossing, analyze
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.registry import run_sweep
from resnet_scale_cli.grids import parse_float_grid, parse_int_grid
from resnet_scale_cli.spec import RunSpec
from resnet_scale_cli.sweep import SweepSpec

ROOT = Path(__file__).resolve().parents[2]



# ----------------------------------------------------------------------------- grids
def test_grid_syntax():
    assert parse_float_grid("0.25,0.5,1", "--beta") == (0.25, 0.5, 1.0)
    assert parse_float_grid("0:1.3:27", "--beta")[:3] == (0.0, 0.05, 0.1) and len(parse_float_grid("0:1.3:27", "b")) == 27
    with pytest.raises(SpecError, match="1 is given twice"):  # a repeated value is refused, not merged
        parse_float_grid("1,0.5,1", "--beta")
    assert parse_int_grid("10:1000:10", "--depth") == (10, 120, 230, 340, 450, 560, 670, 780, 890, 1000)
    assert parse_int_grid("10:1000:3:log", "--depth") == (10, 100, 1000)
    with pytest.raises(SpecError, match="100 is given twice"):
        parse_int_grid("100,100,30", "--depth")
    for bad in ("1:0:3", "0:1", "0:1:0", "a,b", "0:1:2.5", "", "0:10:3:log"):
        with pytest.raises(SpecError, match="--beta"):
            parse_float_grid(bad, "--beta")
    with pytest.raises(SpecError, match="--depth"):
        parse_int_grid("10.5,20", "--depth")


@pytest.mark.parametrize("args", [
    ["sweep", "--depth", "10:5:3"], ["sweep", "--depth", "0,10"], ["phase", "--beta", "0:1"],
    ["phase", "--hurst", "0.2,1.5"], ["sweep", "--law", "iid", "--hurst", "0.2,0.5"], ["sweep", "--resume"],
    ["phase", "--plot", "x.gif"], ["sweep", "--depth", "10", "--hist-depth", "20", "--plot-hist", "h.png"],
])
def test_bad_grids_exit_2_naming_the_flag(capsys, args, cli):
    code, out, err = cli(*args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and err.startswith("rscale: error: ")


# ----------------------------------------------------------------------------- resumable sweeps
#: 9 cells, measured three at a time (the cells of one depth share a group): an interrupt after the first
#: group leaves at most two groups written, even on a loaded machine
SWEEP_ARGS = ["sweep", "--hurst", "0.3,0.6,0.9", "--depth", "200,400,800", "--width", "24", "--samples", "16",
              "--draws", "8", "--beta", "0.3,0.6,1", "--device", "cpu", "--seed", "5"]


def _kill_after_first_cell(out: Path, sig: int, rscale_popen) -> None:
    # the sweep starts with SIGINT's default action, as from a shell: a child inherits an ignored
    # SIGINT, and Python then raises no KeyboardInterrupt (earlier tests in this process may have
    # left SIGINT ignored)
    proc = rscale_popen(*SWEEP_ARGS, "--out", str(out), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    results = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    lines = results.read_bytes().count(b"\n")
    assert 1 <= lines < 9 and not (out / "summary.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_sweep_resumes_to_identical_summary(tmp_path, sig, rscale_popen):
    whole = tmp_path / "whole"
    proc = rscale_popen(*SWEEP_ARGS, "--out", str(whole))
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    part = tmp_path / "part"
    _kill_after_first_cell(part, sig, rscale_popen)
    with open(part / "results.jsonl", "ab") as handle:  # a torn line, as a kill mid-write leaves
        handle.write(b'{"cell": {"law": "fbm", "hu')
    proc = rscale_popen(*SWEEP_ARGS, "--out", str(part), "--resume")
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    assert (part / "summary.json").read_text() == (whole / "summary.json").read_text()
    lines = (part / "results.jsonl").read_text().splitlines()
    assert len(lines) == 9 and all(isinstance(json.loads(line), dict) for line in lines)  # the torn tail was cut


def test_resume_refuses_other_settings_and_out_refuses_overwrite(capsys, tmp_path, cli):
    out = tmp_path / "o"
    args = ["sweep", "--depth", "10,20", "--width", "3", "--samples", "2", "--device", "cpu", "--out", str(out), "--json"]
    assert cli(*args)[0] == 0
    code, _, err = cli(*args)
    assert code == 2 and "--resume" in err
    code, _, err = cli(*args[:-1], "--resume", "--seed", "9")
    assert code == 2 and "other settings" in err
    code, out_text, _ = cli(*args, "--resume")
    assert code == 0 and len(json.loads(out_text)["cells"]) == 2 * 3


def test_cells_do_not_depend_on_the_rest_of_the_grid():
    base = RunSpec(law="fbm", width=8, samples=4, betas=(0.5, 1.0), device="cpu", dtype="float64")
    big = run_sweep(SweepSpec(base, (50, 100), (0.3, 0.7)))
    small = run_sweep(SweepSpec(base.replace(betas=(1.0,)), (100,), (0.7,)))
    cell = next(r for r in big if r["cell"] == {"law": "fbm", "hurst": 0.7, "depth": 100})
    np.testing.assert_allclose(np.array(small[0]["values"]["output_log10"][0], dtype=float),
                               np.array(cell["values"]["output_log10"][1], dtype=float), rtol=0, atol=1e-12)


def test_a_sweep_may_start_at_depth_one_but_not_below():
    base = RunSpec(width=2, samples=1, betas=(0.5,), device="cpu")
    assert [c.depth for c in SweepSpec(base, (1, 2), ()).cells()] == [1, 2]
    with pytest.raises(SpecError, match="^--depth must be at least 1, got 0$"):
        SweepSpec(base, (0, 2), ())


def test_the_first_swept_width_becomes_the_base_width():
    base = RunSpec(width=40, samples=1, betas=(0.5,), device="cpu")
    one = SweepSpec(base, (4,), (), widths=(3,))
    assert one.base.width == 3 and not one.width_axis and [c.width for c in one.cells()] == [3]
    two = SweepSpec(base, (4,), (), widths=(1, 40))  # d = 1 is a valid width
    assert two.base.width == 1 and two.width_axis and [c.width for c in two.cells()] == [1, 40]
    with pytest.raises(SpecError, match="^--width must be a whole number of at least 1, got 0$"):
        SweepSpec(base, (4,), (), widths=(0, 2))


class _Recording:
    """An executor that records the tasks it ran and forwards no per-layer progress (as a cluster)."""

    name = "recording"
    reports_progress = False

    def __init__(self):
        self.ran = []

    def map(self, measure, cells, indices, progress):
        for i, cell in zip(indices, cells):
            self.ran.append(i)
            yield i, measure(cell, None)


def test_run_sweep_passes_its_executor_progress_and_on_cell_through(tmp_path):
    """Without gradients a cell is one forward pass of L layers over one chunk of its 2 draws: the
    bar's units are L per cell, 2 + 3 here, whoever runs the cells, also for reused cells."""
    sweep = SweepSpec(RunSpec(width=2, samples=2, betas=(0.5,), gradients=False, device="cpu"), (2, 3), ())
    layers: list[int] = []
    serial = run_sweep(sweep, progress=layers.append)
    assert sum(layers) == 2 + 3  # per layer, from the engine through the grouped measurement

    executor, advanced, seen = _Recording(), [], []
    records = run_sweep(sweep, out=tmp_path, executor=executor, progress=advanced.append,
                        on_cell=lambda record, reused: seen.append((record["cell"]["depth"], reused)))
    assert executor.ran == [0, 1]  # one task per depth, run by the given executor
    assert advanced == [2, 3]  # the runner counts each cell the executor completed, by its layers
    assert seen == [(2, False), (3, False)]
    assert records == serial

    executor, advanced, seen = _Recording(), [], []
    resumed = run_sweep(sweep, out=tmp_path, resume=True, executor=executor, progress=advanced.append,
                        on_cell=lambda record, reused: seen.append((record["cell"]["depth"], reused)))
    assert executor.ran == [] and resumed == serial
    assert advanced == [2, 3]  # reused cells advance the bar by their cost at once
    assert seen == [(2, True), (3, True)]


# ----------------------------------------------------------------------------- analysis
def test_crossing_interpolates_and_reports_bounds():
    betas = np.array([0.0, 0.5, 1.0])
    got = _crossing(betas, np.array([[1.0, 0.5, -0.5], [1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]]))
    assert got[0] == pytest.approx(0.75) and got[1] == np.inf and got[2] == -np.inf


def _synthetic_records(slopes, depths=(100, 1000), noise=0.01, samples=20):
    rng = np.random.default_rng(0)
    records = []
    for depth in depths:
        values = [list(s * np.log10(depth) + noise * rng.standard_normal(samples)) for s in slopes]
        records.append({"cell": {"law": "iid", "depth": depth}, "betas": list(np.linspace(0, 1, len(slopes))),
                        "inputs_per_draw": 1, "values": {"output_log10": values}})
    return records


def test_regimes_and_critical_beta_on_synthetic_trends():
    (entry,) = analyze(_synthetic_records([2.0, 0.5, 0.0, -0.5, -1.0]))  # β = 0, .25, .5, .75, 1
    assert [r["regime"] for r in entry["regimes"]] == ["explosion", "explosion", "stable", "identity", "identity"]
    assert entry["critical_beta"] == pytest.approx(0.5, abs=0.01)
    lo, hi = entry["interval"]
    assert lo <= entry["critical_beta"] <= hi and hi - lo < 0.05
    for r, slope in zip(entry["regimes"], [2.0, 0.5, 0.0, -0.5, -1.0]):
        assert r["slope_interval"][0] <= r["slope"] <= r["slope_interval"][1]
        assert abs(r["slope"] - slope) < 0.05


def _critical(law, samples, betas, depths=(100, 1000), width=40, **extra):
    base = RunSpec(law=law, width=width, samples=samples, betas=parse_float_grid(betas, "--beta"), device="cpu",
                   gradients=False, **extra)
    param = {"fbm": "hurst", "rbf": "lengthscale"}.get(law)
    return analyze(run_sweep(SweepSpec(base, depths, (getattr(base, param),) if param else ())))[0]


@pytest.mark.slow
def test_iid_critical_beta_is_one_half_and_its_interval_is_honest():
    """A 16-sample estimate's 95 % interval covers the estimate of a run with 8× the samples."""
    small = _critical("iid", 16, "0.35:0.65:7")
    large = _critical("iid", 128, "0.35:0.65:7", seed=1)
    assert abs(large["critical_beta"] - 0.5) < 0.05
    assert small["interval"][0] <= large["critical_beta"] <= small["interval"][1]


@pytest.mark.slow
def test_rbf_critical_beta_is_one():
    entry = _critical("rbf", 16, "0.8:1.2:9", width=20, lengthscale=0.1)
    assert abs(entry["critical_beta"] - 1.0) < 0.1


@pytest.mark.slow
def test_fbm_critical_beta_rises_with_hurst():
    base = RunSpec(law="fbm", width=24, samples=12, betas=parse_float_grid("0.3:1.1:9", "b"), device="cpu", gradients=False)
    low, high = analyze(run_sweep(SweepSpec(base, (100, 1000), (0.3, 0.85))))
    assert abs(low["critical_beta"] - 0.5) < 0.1
    assert high["critical_beta"] > low["interval"][1]


# ----------------------------------------------------------------------------- commands, JSON, figures
@pytest.mark.slow
def test_phase_json_contract_and_figure(capsys, tmp_path, cli):
    fig = tmp_path / "phase.png"
    code, out, _ = cli("phase", "--law", "iid", "--depth", "30,100", "--beta", "0:1:5", "--width", "8",
                        "--samples", "6", "--draws", "3", "--device", "cpu", "--plot", str(fig), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["command"] == "phase" and doc["spec"]["depths"] == [30, 100]
    assert len(doc["cells"]) == 2 * 5
    assert {"law", "depth", "beta", "output_log10", "gradient_log10", "samples", "overflowed"} <= set(doc["cells"][0])
    (crit,) = doc["critical"]
    assert crit["law"] == "iid" and len(crit["interval"]) == 2 and "critical_beta" in crit
    assert [r["beta"] for r in crit["regimes"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for r in crit["regimes"]:
        assert r["regime"] in ("identity", "stable", "explosion") and len(r["slope_interval"]) == 2
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_phase_over_hurst_json_and_figure(capsys, tmp_path, cli):
    fig = tmp_path / "fig7.svg"
    code, out, _ = cli("phase", "--hurst", "0.2:0.8:3", "--depth", "30,100", "--beta", "0:1:5",
                        "--width", "6", "--samples", "4", "--device", "cpu", "--plot", str(fig), "--json")
    assert code == 0
    doc = json.loads(out)
    assert [c["hurst"] for c in doc["critical"]] == [0.2, 0.5, 0.8]
    assert all(c["law"] == "fbm" for c in doc["critical"])
    assert fig.read_text().lstrip().startswith("<?xml")


@pytest.mark.slow
def test_sweep_plots_and_table(capsys, tmp_path, cli):
    curves, hist = tmp_path / "curves.png", tmp_path / "hist.png"
    code, out, _ = cli("sweep", "--depth", "10,30", "--beta", "0.5,1", "--width", "5", "--samples", "8",
                        "--device", "cpu", "--plot", str(curves), "--plot-hist", str(hist), "--hist-beta", "0.5")
    assert code == 0 and "critical β" in out
    assert curves.stat().st_size > 0 and hist.stat().st_size > 0


def test_fig6_config_runs(capsys, cli):
    code, out, _ = cli("sample", "--config", str(ROOT / "sample_configs" / "fig6_fbm_paths.toml"),
                        "--depth", "200", "--width", "6", "--json")
    assert code == 0 and [s["hurst"] for s in json.loads(out)["settings"]] == [0.2, 0.5, 0.8]
