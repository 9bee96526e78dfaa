"""`rscale inspect BLOCK`: the document, the same numbers as `rscale phase`, resume, figures,
one-line errors (exit 2), and a --help without torch."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from helpers import MLP, ROOT, assert_one_line_error, check_toml, document, main_in_fresh_interpreter

SMALL = ["--width", "4", "--depth", "6,12", "--beta", "0.5,1", "--samples", "4", "--device", "cpu", "--profile-points", "3"]


def test_json_document(cli):
    doc = document(cli, "inspect", MLP, *SMALL)
    assert doc["command"] == "inspect" and set(doc) >= {"spec", "cells", "critical", "profiles", "versions"}
    spec = doc["spec"]
    assert spec["block"] == MLP and spec["parameters"] == 2 * 4 * 4 and spec["factory_keywords"] == ["width"]
    assert spec["depths"] == [6, 12] and spec["betas"] == [0.5, 1.0] and spec["homogeneous"] == "auto"
    assert spec["homogeneous_detected"] is True and spec["log_norm_carrying"] is True and spec["batching_used"] == "vmap"
    assert len(doc["cells"]) == 4 and {c["depth"] for c in doc["cells"]} == {6, 12}
    assert set(doc["cells"][0]) >= {"law", "depth", "beta", "output_log10", "gradient_log10", "samples", "overflowed"}
    (entry,) = doc["critical"]
    assert entry["law"] == "iid" and entry["depths"] == [6, 12] and "gradient" in entry and entry["theory_reference"] == 0.5
    assert len(doc["profiles"]) == 4
    profile = doc["profiles"][0]
    assert profile["k"] == [2, 4, 6] and profile["t"] == pytest.approx([1 / 3, 2 / 3, 1])
    assert len(profile["state_log10"]) == len(profile["increment_log10"]) == len(profile["gradient_log10"]) == 3


def test_a_law_without_a_reference_compares_with_none(cli, monkeypatch):
    """A law that declares no theory reference: the critical β is still read, its reference is null."""
    import dataclasses

    from resnet_scale_cli.laws import LAWS

    monkeypatch.setitem(LAWS, "tied", dataclasses.replace(LAWS["tied"], references=None))
    (entry,) = document(cli, "inspect", MLP, "--law", "tied", *SMALL)["critical"]
    assert entry["law"] == "tied" and entry["depths"] == [6, 12] and entry["theory_reference"] is None


def test_same_numbers_as_phase(cli):
    """The MLP example under a law draws the engine's weights, inputs and readouts: the cells and
    the critical β of `inspect` are those of `phase --model full` at the same settings."""
    settings = ["--law", "tied", "--width", "5", "--depth", "8,16", "--beta", "0.25,0.75,1.25", "--samples", "6",
                "--seed", "4", "--dtype", "float64", "--device", "cpu"]
    ours = document(cli, "inspect", MLP, *settings, "--profile-points", "2")
    theirs = document(cli, "phase", *settings, "--model", "full", "--activation", "relu")
    assert len(ours["cells"]) == len(theirs["cells"])
    for a, b in zip(ours["cells"], theirs["cells"]):
        assert (a["depth"], a["beta"]) == (b["depth"], b["beta"])
        for q in ("output_log10", "gradient_log10"):
            for stat in ("median", "q05", "q95", "mean"):
                assert a[q][stat] == pytest.approx(b[q][stat], abs=1e-10)
    assert ours["critical"][0]["critical_beta"] == pytest.approx(theirs["critical"][0]["critical_beta"], abs=1e-9)


def test_out_and_resume_end_identical(cli, tmp_path):
    full = tmp_path / "full"
    first = document(cli, "inspect", MLP, *SMALL, "--out", str(full))
    saved = json.loads((full / "summary.json").read_text())
    assert saved == {k: v for k, v in first.items() if k != "elapsed_seconds"}
    # an interrupted run: only the first cell's line made it to disk
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(full / "sweep.json", part / "sweep.json")
    lines = (full / "results.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) == 2
    (part / "results.jsonl").write_text(lines[0])
    resumed = document(cli, "inspect", MLP, *SMALL, "--out", str(part), "--resume")
    assert {k: v for k, v in resumed.items() if k not in ("elapsed_seconds", "versions")} == \
           {k: v for k, v in first.items() if k not in ("elapsed_seconds", "versions")}
    assert (part / "results.jsonl").read_text() == "".join(lines)
    code, _, err = cli("inspect", MLP, *SMALL, "--out", str(full))  # results there already
    assert code == 2 and "--resume" in err
    code, _, err = cli("inspect", MLP, *SMALL, "--width", "5", "--out", str(full), "--resume")
    assert code == 2 and "other settings" in err


@pytest.mark.slow  # matplotlib
def test_figures_and_human_output(cli, tmp_path):
    phase, profiles = tmp_path / "phase.png", tmp_path / "profiles.svg"
    code, out, err = cli("inspect", MLP, *SMALL, "--plot", str(phase), "--plot-profiles", str(profiles), "--no-color")
    assert code == 0, err
    assert phase.stat().st_size > 1000 and profiles.stat().st_size > 1000
    assert "critical β" in out and "profiles along depth" in out and "blocks.py:mlp" in out
    assert f"figure written to {phase}" in out
    assert_one_line_error(*cli("inspect", MLP, *SMALL[:2], "--depth", "6", "--plot", str(phase)), "at least two depths")


def test_config_file_names_the_block(cli, tmp_path):
    config = tmp_path / "inspect.toml"
    config.write_text(f'block = "{MLP}"\nwidth = 4\ndepth = [6, 12]\nbetas = [0.5]\nsamples = 2\ndevice = "cpu"\n'
                      'profile_points = 2\ninit = "moments"\n')
    doc = document(cli, "inspect", "--config", str(config))
    assert doc["spec"]["block"] == MLP and doc["spec"]["init"] == "moments" and doc["spec"]["betas"] == [0.5]
    config.write_text(config.read_text() + "sampels = 3\n")
    code, _, err = cli("inspect", "--config", str(config))
    assert code == 2 and "sampels" in err and f"{config}:9" in err


BAD_BLOCKS = {
    "import_error": ("import definitely_not_a_module_xyz\n", "importing"),
    "shape": ("from torch import nn\ndef block(width):\n    return nn.Linear(width, width + 1)\n", "output shape"),
    "nan": ("import torch\nfrom torch import nn\nclass N(nn.Module):\n    def forward(self, h):\n"
            "        return h * float('nan')\ndef block(width):\n    return N()\n", "NaN"),
    "raises": ("def block(width):\n    raise ValueError('no\\nway')\n", "the factory raised"),
}


@pytest.mark.parametrize("case", sorted(BAD_BLOCKS))
def test_factory_errors_exit_2_in_one_line(cli, tmp_path, case):
    body, cause = BAD_BLOCKS[case]
    path = tmp_path / f"{case}.py"
    path.write_text(body)
    code, out, err = cli("inspect", f"{path}:block", *SMALL, "--json")
    assert_one_line_error(code, out, err, f"{path}:block")
    assert cause in err


@pytest.mark.parametrize("block, cause", [("no_colon", "BLOCK must be"), ("", "BLOCK: name the block"),
                                          ("nowhere/x.py:f", "no such file"), (MLP + "_missing", "has no attribute")])
def test_bad_block_text_exits_2(cli, block, cause):
    assert_one_line_error(*cli("inspect", block, *SMALL), cause)


def test_missing_block_exits_2(cli):
    assert_one_line_error(*cli("inspect", "--depth", "4,8"), "BLOCK: name the block")


def test_a_block_that_fails_while_running_exits_2(cli, tmp_path):
    path = tmp_path / "late.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        class Late(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.w = nn.Parameter(torch.ones(width))
                self.calls = 0
            def forward(self, h):
                self.calls += 1
                if self.calls > 12:
                    raise RuntimeError("tired")
                return torch.relu(h) * self.w
        def late(width):
            return Late(width)
    """))
    code, out, err = cli("inspect", f"{path}:late", *SMALL)
    assert_one_line_error(code, out, err, "tired")
    assert f"{path}:late" in err


def test_choices_agree_with_the_library():
    """--init, --homogeneous and --batching accept each choice the spec declares
    (`fields.settings_of(InspectSpec)`, the library's tuples) and refuse any other value, naming those choices."""
    import typer

    from resnet_scale_cli.cli import app
    from resnet_scale_cli.experiments import inspect_spec
    from resnet_scale_cli.fields import settings_of

    library = {"--init": inspect_spec.INITS, "--homogeneous": inspect_spec.HOMOGENEOUS, "--batching": inspect_spec.BATCHING}
    declared = {s.flag: tuple(s.check.options) for _, s in settings_of(inspect_spec.InspectSpec) if s.flag in library}
    assert declared == library
    command = typer.main.get_command(app).commands["inspect"]
    for flag, choices in library.items():
        name = flag.removeprefix("--")
        assert [command.make_context("inspect", [flag, c]).params[name] for c in choices] == list(choices)
        with pytest.raises(Exception, match=f"^{flag}: unknown value 'other' \\(choose from {', '.join(choices)}\\)$"):
            command.make_context("inspect", [flag, "other"])


@pytest.mark.slow  # starts a fresh interpreter (the slow tier holds the subprocess tests)
def test_help_without_torch_names_the_security_note():
    codes, imported, stdout = main_in_fresh_interpreter(["inspect", "--help"], cwd=ROOT,
                                                        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": ""})
    assert codes == [0] and not {"torch", "matplotlib"} & imported
    words = " ".join(stdout.replace("│", " ").split())  # the help's text, wherever it wraps
    assert "imported and run as Python code" in words and "BLOCK" in words


def test_a_check_file_can_target_a_block(cli, tmp_path):
    """`block = ...` in a check file: the grid of `inspect`, read by the same expectations; a
    failing expectation exits 1, a broken factory 2 (one line)."""
    check = tmp_path / "block.toml"
    check.write_text(check_toml(
        {"name": "my-block", "block": MLP, "width": 4, "depth": [6, 24], "beta": "0,2", "samples": 4,
         "profile_points": 2, "device": "cpu"},
        {"type": "regime", "beta": 2, "regime": "identity"},
        {"type": "statistic", "stat": "output_log10.median", "beta": 0, "depth": 24, "min": 0.0}))
    doc = document(cli, "check", str(check))
    assert doc["passed"] and doc["files"][0]["spec"]["block"] == MLP
    check.write_text(check.read_text().replace('regime = "identity"', 'regime = "explosion"'))
    code, out, _ = cli("check", str(check), "--json")
    assert code == 1 and not json.loads(out)["passed"]
    check.write_text(check.read_text().replace(MLP, MLP + "_nope"))
    assert_one_line_error(*cli("check", str(check)), "has no attribute")


def test_check_keys_of_a_block_are_inspects():
    import dataclasses

    from resnet_scale_cli.checks.blocks import INSPECT_KEYS
    from resnet_scale_cli.experiments.inspect_block import InspectSpec
    from resnet_scale_cli.spec import RunSpec

    own = {f.name for f in dataclasses.fields(InspectSpec)} - {f.name for f in dataclasses.fields(RunSpec)}
    assert own == set(INSPECT_KEYS)
