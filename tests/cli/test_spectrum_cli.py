"""`rscale spectrum`: the JSON contract, exit 2 with one line on bad input,
--out/--resume, --plot, the table, config files."""

from __future__ import annotations

import json

import pytest

from helpers import assert_one_line_error, check_toml, document

SMALL = ["--depth", "10,20", "--width", "3", "--samples", "4", "--device", "cpu"]
STATS = {"median", "q05", "q95", "mean"}


def test_json_contract(cli):
    doc = document(cli, "spectrum", "--law", "iid", *SMALL, "--beta", "0.25,0.5,1", "--seed", "0")
    assert doc["command"] == "spectrum"
    spec = doc["spec"]
    assert spec["depths"] == [10, 20] and spec["betas"] == [0.25, 0.5, 1.0] and spec["seed"] == 0
    assert spec["width"] == [3] and spec["samples"] == 4 and spec["dtype"] == "float64"
    assert [(c["depth"], c["beta"]) for c in doc["cells"]] == [(L, b) for L in (10, 20) for b in (0.25, 0.5, 1.0)]
    for c in doc["cells"]:
        assert c["law"] == "iid"
        for q in ("log10_sigma_max", "log10_sigma_min", "log10_condition", "mean_log10_sigma", "log10_deviation",
                  "lyapunov_top"):
            assert set(c[q]) == STATS, q
        assert c["log10_condition"]["median"] >= 0
        assert set(c["exact_mean_square"]) == {"factor", "gain", "deviation"}
    (crit,) = doc["critical"]
    assert {"critical_beta", "interval", "bound", "regimes", "regime_basis", "pairwise", "condition", "deviation",
            "sigma_max", "theory_reference", "theory_basis", "quantity"} <= set(crit)
    assert crit["quantity"] == "log10_deviation" and crit["depths"] == [10, 20]
    for reg in crit["regimes"]:
        assert reg["regime"] in ("explosion", "stable", "identity", "undetermined") and len(reg["slope_interval"]) == 2
    assert {"histograms", "lyapunov", "theory", "versions", "elapsed_seconds"} <= set(doc)


def test_law_settings_and_widths_are_grid_axes(cli):
    doc = document(cli, "spectrum", "--hurst", "0.3,0.7", "--depth", "10,20", "--width", "3,4", "--samples", "2",
                   "--beta", "0.5", "--device", "cpu")
    assert doc["spec"]["law"] == "fbm"
    assert [(c["hurst"], c["width"], c["depth"]) for c in doc["cells"]] == [
        (h, w, L) for h in (0.3, 0.7) for w in (3, 4) for L in (10, 20)]
    assert [(e["hurst"], e["width"]) for e in doc["critical"]] == [(0.3, 3), (0.3, 4), (0.7, 3), (0.7, 4)]
    assert doc["critical"][0]["theory_basis"]["kind"] in ("theorem", "first-order", "prediction", "none")


@pytest.mark.parametrize("args, flag", [
    (["--depth", "0"], "--depth"),
    (["--beta", "-1"], "--beta"),
    (["--samples", "0"], "--samples"),
    (["--hurst", "1.5"], "--hurst"),
    (["--width", "0"], "--width"),
    (["--plot", "figure.txt"], "--plot"),
    (["--resume"], "--resume"),
    (["--law", "iid", "--hurst", "0.3"], "--hurst"),
])
def test_bad_input_exits_2_with_one_line(cli, args, flag):
    assert_one_line_error(*cli("spectrum", *args), flag)


def test_out_and_resume_end_identical(cli, tmp_path):
    args = ["spectrum", *SMALL, "--beta", "0.5,1", "--out", str(tmp_path / "run"), "--json"]
    code, out, err = cli(*args)
    assert code == 0, err
    first = json.loads(out)
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    (tmp_path / "run" / "results.jsonl").write_text(lines[0] + "\n")  # as if interrupted after one depth
    code, out, err = cli(*args, "--resume")
    assert code == 0, err
    second = json.loads(out)
    for doc in (first, second):
        doc.pop("elapsed_seconds")
    assert first == second
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["cells"] == second["cells"]


@pytest.mark.slow
def test_table_and_plot(cli, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, err = cli("spectrum", *SMALL, "--beta", "0.25,1", "--plot", str(tmp_path / "s.png"), "--no-color")
    assert code == 0, err
    assert "σ_max" in out and "critical β" in out and (tmp_path / "s.png").stat().st_size > 0


def test_config_file(cli, tmp_path):
    config = tmp_path / "s.toml"
    config.write_text('law = "iid"\nmodel = "linear"\ndepth = [10, 20]\nbeta = "0.5,1"\nwidth = 3\nsamples = 2\n'
                      'device = "cpu"\n')
    doc = document(cli, "spectrum", "--config", str(config))
    assert doc["spec"]["model"] == "linear" and doc["cells"][0]["exact_mean_square"]["factor"] == 1.0
    config.write_text("nonsense = 1\n")
    assert_one_line_error(*cli("spectrum", "--config", str(config)), "nonsense")


CHECK = check_toml(
    {"name": "tiny-spectrum", "command": "spectrum", "law": "iid", "width": 3, "depth": [10, 20], "beta": "0.25,1",
     "samples": 4, "device": "cpu"},
    {"type": "spectrum_statistic", "stat": "log10_sigma_max.median", "beta": 1.0, "depth": 20, "min": 0.0, "max": 0.5},
    {"type": "spectrum_critical_beta", "of": "condition", "min": 0.0, "max": 1.3})


def test_check_files_target_sigma_max_and_condition(cli, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CHECK)
    code, out, err = cli("check", str(path), "--json")
    assert code == 0, out + err
    (doc,) = json.loads(out)["files"]
    assert [e["type"] for e in doc["expectations"]] == ["spectrum_statistic", "spectrum_critical_beta"]
    assert all(e["passed"] for e in doc["expectations"])
    path.write_text(CHECK.replace("min = 0.0\nmax = 0.5", "max = -1.0"))
    code, out, err = cli("check", str(path))
    assert code == 1
    path.write_text(CHECK.replace('type = "spectrum_statistic"', 'type = "statistic"'))
    code, out, err = cli("check", str(path))
    assert code == 2 and "spectrum" in err and len(err.strip().splitlines()) == 1


def test_check_file_keys_cover_the_spec():
    """checks.files accepts every SpectrumSpec field (SPECTRUM_KEYS is listed by hand to keep torch
    out of check-file parsing)."""
    import dataclasses

    from resnet_scale_cli.checks.files import SETTING_KEYS
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec

    assert {f.name for f in dataclasses.fields(SpectrumSpec)} <= SETTING_KEYS
