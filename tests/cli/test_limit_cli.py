"""`rscale limit`: the JSON contract, exit codes, --out/--resume, --plot, the table, configs."""

from __future__ import annotations

import json

import pytest

from helpers import ROOT, assert_one_line_error, document, main_in_fresh_interpreter

SMALL = ["--depth", "8,16", "--width", "3", "--samples", "4", "--refinement", "2", "--device", "cpu"]


def test_json_contract(cli):
    doc = document(cli, "limit", "--law", "iid", "--model", "simple", "--beta", "0.5", *SMALL, "--seed", "0")
    assert doc["command"] == "limit"
    spec = doc["spec"]
    assert spec["refinement"] == 2 and spec["depths"] == [8, 16] and spec["beta"] == 0.5 and spec["seed"] == 0
    assert {"law", "dist", "hurst", "lengthscale", "model", "activation", "width", "samples", "device", "dtype",
            "memory_gb"} <= set(spec)
    assert [r["depth"] for r in doc["results"]] == [8, 16]
    for row in doc["results"]:
        for q in ("distance_max", "distance_final", "reference_change"):
            assert set(row[q]) == {"median", "q05", "q95", "mean"} and row[q]["median"] > 0
        assert row["distance_max"]["median"] >= row["distance_final"]["median"] * (1 - 1e-12)
    rate = doc["rate"]
    assert {"estimate", "interval", "theory", "quantity", "basis", "pairwise"} <= set(rate)
    assert rate["theory"] == 0.5 and rate["quantity"] == "distance_max" and len(rate["interval"]) == 2
    assert doc["limit"]["kind"] == "sde" and doc["reference"]["threshold"] == 10
    assert "versions" in doc and "elapsed_seconds" in doc


def test_rbf_theory_rate_is_one_and_hurst_implies_fbm(cli):
    code, out, _ = cli("limit", "--law", "rbf", *SMALL, "--json")
    assert code == 0 and json.loads(out)["rate"]["theory"] == 1.0
    code, out, _ = cli("limit", "--hurst", "0.7", *SMALL, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["spec"]["law"] == "fbm" and doc["spec"]["beta"] == 0.7
    assert doc["rate"]["theory_range"] == [pytest.approx(0.4), 1.0]


@pytest.mark.parametrize("args,flag", [
    (["--beta", "0.3"], "--beta"), (["--law", "rbf", "--beta", "0.5"], "--beta"), (["--model", "full"], "--model full"),
    (["--law", "fbm", "--hurst", "0.3"], "--hurst"), (["--dist", "rademacher"], "--dist"),
    (["--refinement", "1"], "--refinement"), (["--refinement", "3"], "--refinement"), (["--depth", "1,8"], "--depth"),
    (["--depth", "16"], "--depth"), (["--samples", "1"], "--samples"), (["--resume"], "--resume"),
    (["--plot", "x.gif"], "--plot"), (["--law", "rbf", "--hurst", "0.7"], "--hurst"),
])
def test_bad_input_exits_2_with_one_line(cli, args, flag):
    base = [a for a in SMALL if a not in ("--depth", "8,16")] if "--depth" in args else SMALL
    assert_one_line_error(*cli("limit", *base, *args), flag)


def test_out_and_resume(cli, tmp_path):
    out = tmp_path / "run"
    code, first, err = cli("limit", "--law", "tied", *SMALL, "--out", str(out), "--json")
    assert code == 0, err
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["cell"] == {"depth": 8}
    summary = json.loads((out / "summary.json").read_text())
    first = json.loads(first)
    assert summary["results"] == first["results"] and summary["rate"] == first["rate"]
    assert_one_line_error(*cli("limit", "--law", "tied", *SMALL, "--out", str(out)), "--resume")
    (out / "results.jsonl").write_text(lines[0] + "\n" + lines[1][:20])  # a kill after the first cell, mid-line
    code, again, err = cli("limit", "--law", "tied", *SMALL, "--out", str(out), "--resume", "--json")
    assert code == 0, err
    again = json.loads(again)
    assert again["results"] == first["results"] and again["rate"] == first["rate"]
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    code, _, err = cli("limit", "--law", "tied", *SMALL, "--seed", "1", "--out", str(out), "--resume")
    assert code == 2 and "other settings" in err


def test_a_draw_too_big_for_the_machine_is_refused_before_running(cli, monkeypatch):
    import resnet_scale_cli.resources as resources

    monkeypatch.setattr(resources, "available_bytes", lambda device: 1000)
    code, out, err = cli("limit", *SMALL)
    assert_one_line_error(code, out, err, "--refinement")
    assert "GB" in err


@pytest.mark.slow
def test_plot_and_table(cli, tmp_path):
    figure = tmp_path / "limit.png"
    code, out, err = cli("limit", "--law", "fbm", "--hurst", "0.7", *SMALL, "--plot", str(figure))
    assert code == 0, err
    assert figure.stat().st_size > 10_000
    assert "rate" in out and "theory" in out and "figure written to" in out and "reference" in out


@pytest.mark.parametrize("case", ["iid", "rbf", "tied", "fbm"])
def test_sample_configs_make_valid_specs(case):
    """One config per case in sample_configs/limit/ (a folder of its own: they are not sweep configs)."""
    from resnet_scale_cli.experiments.limit import LimitSpec
    from resnet_scale_cli.settings import build_experiment_spec

    path = ROOT / "sample_configs" / "limit" / f"{case}.toml"
    spec, _ = build_experiment_spec(LimitSpec, str(path), {}, aliases={"depth": "depths"})
    assert len(spec.depths) >= 3 and spec.law == case


def test_config_with_flag_overrides(cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('law = "tied"\nmodel = "full"\nactivation = "tanh"\ndepth = [8, 16, 32]\nwidth = 3\n')
    code, out, err = cli("limit", "--config", str(config), "--depth", "8,16", "--samples", "3", "--refinement", "2",
                         "--device", "cpu", "--json")
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert (spec["law"], spec["model"], spec["activation"], spec["depths"]) == ("tied", "full", "tanh", [8, 16])


@pytest.mark.slow  # starts a fresh interpreter (the slow tier holds the subprocess tests)
def test_help_and_usage_errors_import_neither_torch_nor_matplotlib():
    codes, imported, _ = main_in_fresh_interpreter(["limit", "--help"], ["limit", "--beta", "0.3"],
                                                   ["limit", "--refinement", "3"], cwd=ROOT)
    assert codes == [0, 2, 2] and not {"torch", "matplotlib"} & imported
