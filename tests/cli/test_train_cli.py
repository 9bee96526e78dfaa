"""`rscale train` as a user or a script meets it: the JSON contract, one-line errors with exit 2,
figures, --out/--resume, and a --help that loads neither torch nor matplotlib."""

import json

import pytest

from helpers import ROOT, assert_one_line_error, main_in_fresh_interpreter

#: a grid small enough for command-line tests (two depths, two networks, a few steps)
TINY = ["--depth", "4,8", "--width", "8", "--n-examples", "8", "--n-test", "16", "--steps", "6", "--samples", "2",
        "--track-points", "4", "--device", "cpu"]


def test_json_is_one_document_with_the_contract(cli):
    code, out, err = cli("train", *TINY, "--law", "tied", "--data", "synthetic", "--seed", "0", "--json")
    assert code == 0, err
    doc = json.loads(out)  # exactly one document on stdout
    assert doc["command"] == "train"
    assert doc["spec"]["depths"] == [4, 8] and doc["spec"]["law"] == "tied" and doc["spec"]["steps"] == 6
    assert [r["depth"] for r in doc["results"]] == [4, 8]
    for row in doc["results"]:
        for name in ("max_weight_increment", "final_loss", "test_metric"):
            assert set(row[name]) >= {"median", "q05", "q95", "mean"}, name
        assert row["diverged"] == 0 and row["diverged_at"] == []
        assert len(row["values"]["max_weight_increment"]) == 2
    exponent = doc["exponent"]
    assert set(exponent) >= {"estimate", "interval", "theory"}
    assert exponent["theory"] == -1.0 and len(exponent["interval"]) == 2
    assert doc["metric"] == {"test_metric": "r2", "loss": "mean squared error"}
    assert "versions" in doc and "train" not in err  # no progress bar off a terminal


def test_iid_states_no_theory(cli):
    code, out, _ = cli("train", *TINY, "--law", "iid", "--json")
    assert code == 0
    exponent = json.loads(out)["exponent"]
    assert exponent["theory"] is None and "i.i.d." in exponent["note"]


def test_digits_is_classification_with_accuracy(cli):
    code, out, err = cli("train", *TINY, "--data", "digits", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["metric"] == {"test_metric": "accuracy", "loss": "cross-entropy"}
    assert all(0.0 <= r["test_metric"]["median"] <= 1.0 for r in doc["results"])


def test_table_reports_the_exponent_and_its_theory(cli):
    code, out, _ = cli("train", *TINY, "--no-color")
    assert code == 0
    assert "exponent of max_{k,t}" in out and "theory: -1" in out and "PL regime" in out


@pytest.mark.parametrize("args, needle", [
    (["--lr", "0"], "--lr"),
    (["--lr", "-0.1"], "--lr"),
    (["--steps", "0"], "--steps"),
    (["--data", "cifar"], "--data"),
    (["--optimizer", "lbfgs"], "--optimizer"),
    (["--depth", "1,8"], "--depth"),
    (["--depth", "8,x"], "--depth"),
    (["--batch-size", "4"], "--batch-size"),
    (["--optimizer", "sgd", "--batch-size", "100"], "--batch-size"),
    (["--resume"], "--resume"),
    (["--plot", "figure.txt"], "--plot"),
    (["--hurst", "1.5"], "--hurst"),
    (["--data", "digits", "--n-examples", "1800"], "--n-examples"),
    (["--net", "densenet"], "--net"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, needle):
    assert_one_line_error(*cli("train", "--steps", "1", "--depth", "4", *args), needle)


def test_heunnet_json_has_the_contract_and_n_plus_one_layers(cli):
    code, out, err = cli("train", *TINY, "--net", "heunnet", "--backprop", "adjoint", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["spec"]["net"] == "heunnet" and doc["spec"]["backprop"] == "adjoint"
    assert doc["exponent"]["theory"] == -1.0 and doc["exponent"]["basis"].startswith("first-order argument")
    for row, depth in zip(doc["results"], (4, 8)):
        assert set(row) >= {"depth", "max_weight_increment", "final_loss", "test_metric", "diverged"}
        assert row["info"]["net"] == "heunnet" and row["info"]["weight_layers"] == depth + 1
        assert row["info"]["end_layer_lr_factor"] == 2.0
        assert len(row["snapshots"]["k_over_L"]) == depth + 1
        assert set(row["adjoint_gradient_error"]) >= {"median", "q05", "q95", "mean"}
    code, out, _ = cli("train", *TINY, "--json")
    assert json.loads(out)["spec"]["net"] == "resnet"


def test_heunnet_table_names_the_net_its_end_step_and_the_adjoint_error(cli):
    code, out, _ = cli("train", *TINY, "--net", "heunnet", "--backprop", "adjoint", "--no-color")
    assert code == 0
    flat = " ".join(out.split())
    assert "HeunNet, adjoint backprop" in flat and "2× the step" in flat
    assert "adjoint's relative gradient error at step 0" in flat and "L = 8:" in flat


def test_unknown_config_key_is_refused(cli, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('law = "tied"\nlearning_rate = 0.1\n')
    assert_one_line_error(*cli("train", "--config", str(config), "--steps", "1"), "learning_rate")


def test_divergence_is_reported_with_its_step(cli):
    code, out, _ = cli("train", *TINY, "--lr", "50", "--json")
    assert code == 0
    doc = json.loads(out)  # no NaN: json.loads would accept it, so check the values
    for row in doc["results"]:
        assert row["diverged"] == 2 and row["final_loss"] is None and row["max_weight_increment"] is None
        assert all(1 <= s <= 6 for s in row["diverged_at"])
    assert doc["diverged"] == 4 and doc["exponent"]["estimate"] is None
    code, out, _ = cli("train", *TINY, "--lr", "50", "--no-color")
    assert "diverged" in out and "at step" in out and "nan" not in out.lower()


@pytest.mark.slow
def test_plot_writes_the_three_figures(cli, tmp_path):
    code, out, err = cli("train", *TINY, "--plot", str(tmp_path / "fig.png"))
    assert code == 0, err
    for name in ("smoothness", "weights", "loss"):
        path = tmp_path / f"fig_{name}.png"
        assert path.stat().st_size > 1000 and str(path) in out


@pytest.mark.slow
def test_compare_draws_other_runs_and_refuses_other_files(cli, tmp_path):
    code, out, _ = cli("train", *TINY, "--law", "iid", "--json")
    (tmp_path / "iid.json").write_text(out)
    code, out, err = cli("train", *TINY, "--plot", str(tmp_path / "both.svg"), "--compare", str(tmp_path / "iid.json"))
    assert code == 0, err
    svg = (tmp_path / "both_smoothness.svg").read_text()
    assert "i.i.d." in svg and "tied" in svg  # one curve per initialization, labelled
    (tmp_path / "other.json").write_text('{"command": "run"}')
    for path in (tmp_path / "missing.json", tmp_path / "other.json"):
        code, out, err = cli("train", *TINY, "--plot", str(tmp_path / "x.png"), "--compare", str(path))
        assert_one_line_error(code, out, err, "--compare")


def test_out_and_resume(cli, tmp_path):
    out_dir = tmp_path / "run"
    code, first, _ = cli("train", *TINY, "--out", str(out_dir), "--json")
    assert code == 0
    assert (out_dir / "summary.json").exists() and (out_dir / "checkpoints" / "train-L8.pt").exists()
    assert len((out_dir / "results.jsonl").read_text().splitlines()) == 2
    assert json.loads((out_dir / "summary.json").read_text()) == json.loads(first)
    code, _, err = cli("train", *TINY, "--out", str(out_dir))  # a used folder needs --resume
    assert code == 2 and "--resume" in err
    code, again, _ = cli("train", *TINY, "--out", str(out_dir), "--resume", "--json")
    assert code == 0
    a, b = json.loads(first), json.loads(again)
    assert a["results"] == b["results"] and a["exponent"] == b["exponent"]
    assert_one_line_error(*cli("train", *TINY, "--out", str(out_dir), "--resume", "--lr", "0.01"), "other settings")


@pytest.mark.slow  # starts a fresh interpreter (the slow tier holds the subprocess tests)
def test_help_imports_neither_torch_nor_matplotlib():
    codes, imported, stdout = main_in_fresh_interpreter(["train", "--help"], cwd=ROOT)
    assert codes == [0] and not {"torch", "matplotlib"} & imported
    assert "--backprop" in stdout and "synthetic | digits" in stdout and "resnet | heunnet" in stdout
    assert "[default: tied]" in stdout and "[default: gelu]" in stdout  # train's own defaults


@pytest.mark.parametrize("path", sorted((ROOT / "sample_configs").glob("train/*.toml")), ids=lambda p: p.name)
def test_sample_configs_are_valid_train_settings(path):
    from resnet_scale_cli.experiments.training_spec import TrainSpec
    from resnet_scale_cli.settings import build_experiment_spec

    spec, _ = build_experiment_spec(TrainSpec, str(path), {}, aliases={"depth": "depths"})
    assert len(spec.depths) >= 2
