"""`rscale adjoint` on the command line: the JSON contract, the table, the figure, config files,
--out/--resume, exit codes, and a --help that imports neither torch nor matplotlib."""

from __future__ import annotations

import json

import pytest

from helpers import ROOT, assert_one_line_error, document, main_in_fresh_interpreter

TINY = ["--depth", "8,16", "--width", "6", "--samples", "3", "--device", "cpu"]


def test_json_prints_one_document_with_the_contract(cli):
    doc = document(cli, "adjoint", "--law", "rbf", "--lengthscale", "0.3", "--net", "heunnet", "--model", "full",
                   *TINY, "--seed", "0")
    assert doc["command"] == "adjoint"
    assert doc["spec"]["net"] == "heunnet" and doc["spec"]["depths"] == [8, 16] and doc["spec"]["dtype"] == "float64"
    assert [r["depth"] for r in doc["results"]] == [8, 16]
    for row in doc["results"]:
        for q in ("activation_error", "gradient_error", "input_gradient_error", "smoothness_delta"):
            assert set(row[q]) == {"median", "q05", "q95", "mean"}
        assert set(row["memory_bytes"]) == {"exact", "adjoint"}
    for q in ("activation_error", "gradient_error", "input_gradient_error"):
        assert {"estimate", "interval", "bound"} <= set(doc["rates"][q])
        assert doc["rates"][q]["bound"] == 2
    assert doc["info"]["memory_method"] and "versions" in doc and "elapsed_seconds" in doc


def test_table_labels_the_bound(cli):
    code, out, err = cli("adjoint", *TINY, "--net", "resnet", "--law", "tied")
    assert code == 0, err
    assert "measured rate" in out and "1 (bound)" in out and "reverse-euler" in out and "memory-free" in out


@pytest.mark.slow
def test_plot_writes_the_figure(cli, tmp_path):
    path = tmp_path / "adjoint.png"
    code, out, err = cli("adjoint", *TINY, "--plot", str(path), "--json")
    assert code == 0, err
    assert path.stat().st_size > 10_000
    json.loads(out)


def test_config_file_and_flags(cli, tmp_path):
    config = tmp_path / "adjoint.toml"
    config.write_text('net = "heunnet"\nlaw = "tied"\ndepth = [8, 16]\nwidth = 6\nsamples = 2\ndevice = "cpu"\n')
    code, out, err = cli("adjoint", "--config", str(config), "--width", "5", "--json")
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert (spec["net"], spec["law"], spec["width"], spec["samples"], spec["depths"]) == ("heunnet", "tied", 5, 2, [8, 16])


def test_out_and_resume(cli, tmp_path):
    folder = tmp_path / "run"
    code, first, err = cli("adjoint", *TINY, "--out", str(folder), "--json")
    assert code == 0, err
    assert (folder / "results.jsonl").read_text().count("\n") == 2
    assert_one_line_error(*cli("adjoint", *TINY, "--out", str(folder)), "--resume")
    code, again, err = cli("adjoint", *TINY, "--out", str(folder), "--resume", "--json")
    assert code == 0, err
    assert json.loads(again)["results"] == json.loads(first)["results"]


@pytest.mark.parametrize("args,needle", [
    (["--net", "odenet"], "odenet"), (["--depth", "abc"], "--depth"), (["--depth", "0,8"], "--depth"),
    (["--width", "0"], "--width"), (["--samples", "0"], "--samples"), (["--batch", "0"], "--batch"),
    (["--beta", "-1"], "--beta"), (["--hurst", "1.5"], "--hurst"), (["--law", "iid", "--lengthscale", "0.2"], "--lengthscale"),
    (["--resume"], "--resume"), (["--plot", "figure.txt"], "--plot"), (["--dtype", "float16"], "float16"),
    (["--activation", "softplus"], "softplus"),
])
def test_bad_input_exits_2_with_one_line(cli, args, needle):
    assert_one_line_error(*cli("adjoint", *TINY, *args), needle)


def test_unknown_config_key_exits_2(cli, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("probes = 3\n")
    assert_one_line_error(*cli("adjoint", "--config", str(config)), "probes")


@pytest.mark.slow  # starts a fresh interpreter (the slow tier holds the subprocess tests)
def test_help_lists_the_nets_without_importing_torch():
    codes, imported, stdout = main_in_fresh_interpreter(["adjoint", "--help"])
    assert codes == [0] and imported == set()
    words = set(stdout.replace("│", " ").replace(".", " ").split())
    assert {"resnet", "heunnet", "--net", "--batch"} <= words


def test_the_sample_config_runs(cli):
    config = ROOT / "sample_configs" / "adjoint" / "heunnet_rbf.toml"
    code, out, err = cli("adjoint", "--config", str(config), "--depth", "8,16", "--samples", "2", "--width", "6", "--json")
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert (spec["net"], spec["law"], spec["lengthscale"], spec["dtype"]) == ("heunnet", "rbf", 0.1, "float64")
