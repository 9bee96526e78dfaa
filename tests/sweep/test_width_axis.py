"""Width d as a grid axis: cells and critical β keyed by d, single-width sweeps unchanged."""

import dataclasses
import json

import pytest

from resnet_scale_cli import api
from resnet_scale_cli.checks import load_check
from resnet_scale_cli.checks.baseline import baseline_statistics
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.registry import run_sweep
from resnet_scale_cli.settings import build_sweep
from resnet_scale_cli.spec import RunSpec
from resnet_scale_cli.sweep import SweepSpec, cell_id


@pytest.mark.slow
def test_width_grid_reports_critical_beta_and_interval_per_width():
    """d ∈ {8, 64} at H = 0.8, L ∈ {32, 128}: one critical-β entry per width, each with its
    bootstrap interval around it, for both ratios, the width and the pairwise crossings."""
    sweep, _ = build_sweep(None, {"hurst": "0.8", "width": "8,64", "samples": 6, "device": "cpu"},
                           depths="32,128", betas="0.2:1.4:7")
    study = api.grid_study("phase", sweep)
    critical = study.document["critical"]
    assert [(c["hurst"], c["width"]) for c in critical] == [(0.8, 8), (0.8, 64)]
    for entry in critical:
        for info in (entry, entry["gradient"]):
            assert info["regime_basis"] == "trend"
            beta, (lo, hi) = info["critical_beta"], info["interval"]
            assert beta is not None and 0.2 < beta < 1.4, entry
            assert lo is not None and hi is not None and lo <= beta <= hi
            assert [p["depths"] for p in info["pairwise"]] == [[32, 128]]
        assert entry["theory_reference"] == 0.8 and entry["gradient"]["theory_reference"] is None
        assert entry["prediction"]["width"] == entry["width"]
    assert study.document["spec"]["widths"] == [8, 64] and "width" not in study.document["spec"]
    assert {c["width"] for c in study.document["cells"]} == {8, 64}


def test_single_width_keeps_cell_ids_and_stored_settings_of_a_sweep_without_width_axis(tmp_path):
    base = RunSpec(law="fbm", hurst=0.7, depth=20, width=8, betas=(0.5, 1.0), samples=2, device="cpu")
    sweep, _ = build_sweep(None, {"hurst": "0.7", "width": "8", "samples": 2, "device": "cpu"}, depths="20,30",
                           betas="0.5,1")
    assert not sweep.width_axis
    assert [cell_id(c) for c in sweep.cells()] == [{"law": "fbm", "hurst": 0.7, "depth": 20},
                                                   {"law": "fbm", "hurst": 0.7, "depth": 30}]
    # the stored settings as written before width was an axis: the spec less depth and hurst
    expected = {k: v for k, v in dataclasses.asdict(base).items() if k not in ("depth", "hurst")}
    expected.update(betas=[0.5, 1.0], depths=[20, 30], hursts=[0.7])
    assert json.dumps(sweep.to_dict(), sort_keys=True) == json.dumps(expected, sort_keys=True)
    run_sweep(sweep, out=tmp_path)
    assert json.loads((tmp_path / "sweep.json").read_text()) == {"sweep": expected}
    assert all("width" not in json.loads(line)["cell"] for line in (tmp_path / "results.jsonl").read_text().splitlines())


def test_a_width_cell_measures_the_same_as_in_a_single_width_sweep():
    """Streams are keyed by (law, d, L): the d = 8 cells of a width grid equal a d = 8 sweep's."""
    base = RunSpec(law="iid", depth=16, width=8, betas=(0.5,), samples=3, device="cpu")
    grid = run_sweep(SweepSpec(base, (16,), (), (8, 12)))
    alone = run_sweep(SweepSpec(base, (16,), ()))
    assert grid[0]["cell"] == {"law": "iid", "width": 8, "depth": 16} and grid[1]["cell"]["width"] == 12
    assert grid[0]["values"] == alone[0]["values"]


def test_check_files_with_a_width_grid_name_the_width_of_each_expectation():
    text = """
law = "iid"
width = [8, 12]
depth = 16
beta = 0.5
samples = 4
device = "cpu"

[[expect]]
type = "statistic"
stat = "output_log10.median"
beta = 0.5
width = 12
max = 3.0
"""
    check = load_check("w.toml", text)
    assert check.expectations[0].options["setting"] == {"width": 12}
    with pytest.raises(SpecError, match="say which width"):
        load_check("w.toml", text.replace("width = 12\n", ""))
    with pytest.raises(SpecError, match="not among the widths"):
        load_check("w.toml", text.replace("width = 12\n", "width = 9\n"))
    keys = [s["key"] for s in baseline_statistics(run_sweep(check.sweep))]
    assert len(keys) == len(set(keys)) and any("d=12" in k for k in keys)
