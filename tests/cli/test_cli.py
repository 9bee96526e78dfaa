"""The command line as a user (or a script) meets it: exit codes, one-line errors, JSON."""

import json

import pytest


from conftest import FAST



BAD_INPUTS = [
    ["run", "--law", "fbm", "--hurst", "1.2"],
    ["run", "--law", "fbm", "--hurst", "0"],
    ["run", "--law", "rbf", "--lengthscale", "0"],
    ["run", "--lengthscale", "-1"],
    ["run", "--depth", "0"],
    ["run", "--width", "0"],
    ["run", "--width", "abc"],
    ["run", "--beta", "-0.5"],
    ["run", "--beta", "0.5,,1"],
    ["run", "--beta", "1:0:3"],
    ["run", "--samples", "0"],
    ["run", "--law", "nope"],
    ["run", "--model", "nope"],
    ["run", "--activation", "nope"],
    ["run", "--dist", "nope"],
    ["run", "--grad-method", "nope"],
    ["run", "--dtype", "float16"],
    ["run", "--draws", "3", "--samples", "10"],
    ["run", "--probes", "0"],
    ["run", "--config", "/nonexistent/settings.toml"],
    ["run", "--plot", f"{__file__}/fig.png"],  # a regular file where a folder would go (missing folders are made)
    ["run", "--plot", "figure.txt"],
    ["run", "--unknown-flag"],
    ["sample", "--law", "fbm", "--hurst", "1"],
    ["sample", "--lags", "-1"],
    ["nonexistent-command"],
]


@pytest.mark.parametrize("args", BAD_INPUTS, ids=lambda a: " ".join(a))
def test_bad_input_exits_2_with_one_line(capsys, args, cli):
    code, out, err = cli(*args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rscale: error: "), err
    assert "Traceback" not in err


def test_device_cuda_without_cuda(capsys, cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    code, _, err = cli("run", "--device", "cuda", *FAST[:-2])
    assert code == 2 and "CUDA is not available" in err


def test_unknown_config_key_is_refused(capsys, tmp_path, cli):
    cfg = tmp_path / "c.toml"
    cfg.write_text("depth = 10\nwidht = 3\n")
    code, _, err = cli("run", "--config", str(cfg))
    assert code == 2 and "widht" in err


def test_run_json_contract(capsys, cli):
    code, out, err = cli("run", *FAST, "--beta", "0.25,0.5,1", "--json", "--seed", "3")
    assert code == 0
    doc = json.loads(out)
    assert doc["command"] == "run"
    assert doc["spec"]["seed"] == 3 and doc["spec"]["depth"] == 20 and doc["spec"]["grad_method_used"] == "reverse"
    assert [r["beta"] for r in doc["results"]] == [0.25, 0.5, 1.0]
    for row in doc["results"]:
        assert row["depth"] == 20 and row["samples"] == 4 and row["overflowed"] == 0
        for key in ("output_log10", "gradient_log10"):
            assert set(row[key]) >= {"median", "q05", "q95", "mean"}
            assert row[key]["q05"] <= row[key]["median"] <= row[key]["q95"]
        assert row["regime"] in ("identity", "stable", "explosion", "undetermined")
        lo, hi = row["median_interval"]
        assert lo <= hi


def test_config_file_and_flag_override(capsys, tmp_path, cli):
    cfg = tmp_path / "c.toml"
    cfg.write_text('law = "fbm"\nhurst = 0.7\ndepth = 30\nwidth = 4\nsamples = 4\nbeta = [0.5, 1.0]\ndevice = "cpu"\n')
    code, out, _ = cli("run", "--config", str(cfg), "--depth", "12", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["spec"]["law"] == "fbm" and doc["spec"]["hurst"] == 0.7 and doc["spec"]["depth"] == 12
    assert doc["spec"]["betas"] == [0.5, 1.0]


@pytest.mark.slow
def test_sample_json_and_plot(capsys, tmp_path, cli):
    fig = tmp_path / "paths.png"
    code, out, _ = cli("sample", "--law", "fbm", "--hurst", "0.2", "--depth", "256", "--width", "10",
                        "--lags", "3", "--plot", str(fig), "--json", "--device", "cpu")
    assert code == 0
    doc = json.loads(out)
    assert doc["command"] == "sample" and doc["spec"]["law"] == "fbm"
    (setting,) = doc["settings"]
    assert setting["hurst"] == 0.2 and setting["lags"] == [0, 1, 2, 3]
    assert len(setting["autocovariance"]["theory"]) == 4
    assert abs(setting["autocovariance"]["theory"][1] - (2 ** 0.4 / 2 - 1)) < 1e-12
    assert 0.0 < setting["hurst_estimate"] < 0.5
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_table_and_plot(capsys, tmp_path, cli):
    fig = tmp_path / "run.pdf"
    code, out, _ = cli("run", *FAST, "--plot", str(fig))
    assert code == 0 and "regime" in out and fig.read_bytes()[:4] == b"%PDF"


def test_version(capsys, cli):
    from resnet_scale_cli import __version__

    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"rscale {__version__}"


def test_subprocess_json_stdout_is_one_document_and_stderr_quiet_off_terminal(rscale_process):
    proc = rscale_process("run", *FAST, "--json")
    assert proc.returncode == 0
    json.loads(proc.stdout)  # exactly one document, nothing else on stdout
    assert proc.stderr == ""  # no progress bar off a terminal


def test_subprocess_bad_input_has_no_traceback(rscale_process):
    proc = rscale_process("run", "--law", "fbm", "--hurst", "2")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "rscale: error: --hurst must be in the open interval (0, 1), got 2.0"


def test_subprocess_config_from_stdin(rscale_process):
    proc = rscale_process("run", "--config", "-", "--json", stdin='depth = 15\nwidth = 3\nsamples = 2\ndevice = "cpu"\n')
    assert proc.returncode == 0 and json.loads(proc.stdout)["spec"]["depth"] == 15
