"""`--help` as a user reads it: panels, conventional metavars, defaults equal to what the command
runs (`--dry-run`), paragraphs unbroken; errors in rscale's own one-line words; value checks that
answer before torch is imported; `--threads` on every command that measures."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_scale_cli.grids import parse_float_grid
from resnet_scale_cli.settings import GRID_METAVAR, PANELS

ROOT = Path(__file__).resolve().parents[2]
MLP = str(ROOT / "examples" / "blocks.py") + ":mlp"

#: the commands that measure (every one takes --threads and --dry-run), with the arguments they need
MEASURING = {"run": [], "sweep": [], "phase": [], "sample": [], "limit": [], "spectrum": [], "adjoint": [], "train": [],
             "inspect": [MLP]}
#: panels beyond the six shared ones: train's data and optimization, check's baseline
OWN_PANELS = {"Data", "Training", "Check"}
#: options that never enter a spec (outputs and figures, execution): their defaults are not resolved
NOT_SPEC = {"json_out", "quiet", "no_color", "resume", "dry_run", "lags", "paths", "hist_depth", "hist_beta", "config",
            "workers", "scheduler", "scheduler_file", "out", "plot", "plot_hist", "plot_profiles", "compare", "help",
            "dpi", "figsize"}
#: defaults stated in words, as the value the command resolves for them at default settings
WORDS = {"one per sample": None, "exact": None, "the width d": None, "full batch": None, "width": None,
         "Gaussian": None, "the critical β of σ_max": None, "1/2 iid, H fbm, 1 rbf and tied": 0.5, "off": None}


def _commands():
    import typer

    import resnet_scale_cli.cli  # noqa: F401  (registers the commands)
    from resnet_scale_cli.cli.app import app

    group = typer.main.get_command(app)
    return {name: group.commands[name] for name in group.commands}


def _options(command):
    return [p for p in command.params if p.param_type_name == "option" and p.name != "help"]


def test_every_option_sits_in_a_named_panel():
    """Grid, law, model, sampling, execution, output (train and check add their own): no option
    is left in the catch-all panel."""
    for name, command in _commands().items():
        for option in _options(command):
            panel = getattr(option, "rich_help_panel", None)
            assert panel in (*PANELS, *OWN_PANELS), f"{name} {option.opts}: panel {panel!r}"


def test_metavars_are_conventional_and_the_same_in_every_command():
    """No `<bool>`/`<str>`: a flag shows no value, numbers INT/FLOAT, paths FILE/DIR, grids
    LIST|START:STOP:N; one option shows one metavar (or its grid form) in every command."""
    seen: dict[str, set[str]] = {}
    for name, command in _commands().items():
        for option in _options(command):
            metavar = option.metavar
            assert metavar is not None and "<" not in metavar, f"{name} {option.opts}: {metavar!r}"
            if option.is_flag:
                assert metavar == "", f"{name} {option.opts} is a flag but shows {metavar!r}"
            seen.setdefault(option.opts[0], set()).add(metavar)
    for flag, metavars in seen.items():
        assert len(metavars - {GRID_METAVAR}) <= 1, f"{flag}: {metavars}"
    assert seen["--out"] == {"DIR"} and seen["--plot"] == {"FILE"} and seen["--config"] == {"FILE"}
    assert seen["--threads"] == {"INT"} and seen["--memory-gb"] == {"FLOAT"} and seen["--json"] == {""}


def test_command_descriptions_are_unbroken_paragraphs():
    """A docstring's paragraph reaches the help as one line, which rich wraps to the terminal
    (no line break where the source happened to end a line)."""
    for name, command in _commands().items():
        for paragraph in (command.help or "").split("\n\n"):
            assert "\n" not in paragraph, f"{name}: {paragraph!r}"


def _shown_default(option) -> str | None:
    match = re.search(r"\[default: ([^\]]*)\]", (option.help or "").replace("\\[", "["))
    return match.group(1) if match else None


def _equal(shown: str, resolved, option) -> bool:
    """The help's default text read as the option reads a value, against the resolved value."""
    if shown == str(resolved):
        return True
    if shown in WORDS:
        return resolved == WORDS[shown]
    if option.is_flag:
        return resolved is (shown == option.opts[0])
    if isinstance(resolved, list):
        return list(parse_float_grid(shown, "default")) == [float(v) for v in resolved]
    if isinstance(resolved, bool) or resolved is None:
        return False
    if isinstance(resolved, (int, float)):
        return math.isclose(float(shown), float(resolved))
    return shown == str(resolved)


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(MEASURING))
def test_help_defaults_are_what_the_command_runs(cli, monkeypatch, command):
    """For every option with a default: `--help` shows the value `--dry-run` resolves (phase's
    β grid and 24 samples, inspect's 32 samples, limit's float64, …)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    code, out, err = cli(command, *MEASURING[command], "--dry-run", "--json")
    assert code == 0 and err == "", err
    resolved = json.loads(out)["spec"]
    assert resolved["threads"] == 3  # OMP_NUM_THREADS, as torch would read it
    checked = 0
    for option in _options(_commands()[command]):
        shown = _shown_default(option)
        if option.name in NOT_SPEC or option.name == "threads":
            continue
        key = "samples" if (command, option.name) == ("sample", "draws") else option.name
        assert shown is not None, f"{command} --{option.name}: no default in --help"
        assert key in resolved, f"{command} --{option.name}: not in the resolved spec {sorted(resolved)}"
        assert _equal(shown, resolved[key], option), f"{command} --{option.name}: help {shown!r}, runs {resolved[key]!r}"
        checked += 1
    assert checked >= 5


def test_dry_run_measures_nothing_and_honors_flags(cli):
    code, out, _ = cli("phase", "--beta", "0.5", "--samples", "3", "--threads", "1", "--dry-run", "--json")
    spec = json.loads(out)["spec"]
    assert code == 0 and spec["beta"] == [0.5] and spec["samples"] == 3 and spec["threads"] == 1
    assert spec["depth"] == [100, 300, 1000, 3000]


@pytest.mark.parametrize("args, words", [
    (["run", "--law", "iidd"], "--law: unknown value 'iidd'; did you mean 'iid'?"),
    (["run", "--device", "cpux"], "did you mean 'cpu'?"),
    (["run", "--depth", "abc"], "--depth: expected a whole number, got 'abc'"),
    (["run", "--memory-gb", "x"], "--memory-gb: expected a number, got 'x'"),
    (["adjoint", "--net", "resnt"], "did you mean 'resnet'?"),
    (["limit", "--refinement", "1.5"], "--refinement: expected a whole number"),
    (["check", "--confidence", "x", "f.toml"], "--confidence: expected a number"),
    (["sweep", "--depth", "10:x:3"], "--depth"),
])
def test_errors_speak_rscale_not_the_parser(cli, args, words):
    code, out, err = cli(*args)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert words in err and "Value error" not in err and "Input should be" not in err, err


@pytest.mark.parametrize("command", ["run", "sweep", "limit", "spectrum", "adjoint", "train"])
def test_a_config_key_typo_gets_a_did_you_mean(cli, tmp_path, command):
    config = tmp_path / "settings.toml"
    config.write_text("seed = 1\ndepht = 30\n")
    code, _, err = cli(command, "--config", str(config))
    assert code == 2 and f"{config}:2: unknown key 'depht'; did you mean 'depth'?" in err, err


def test_a_check_file_key_typo_gets_a_did_you_mean(cli, tmp_path):
    check = tmp_path / "check.toml"
    check.write_text('samplse = 4\n[[expect]]\ntype = "regime"\n')
    code, _, err = cli("check", str(check))
    assert code == 2 and "unknown key 'samplse'" in err and "did you mean 'samples'?" in err, err


@pytest.mark.parametrize("args", [["run", "--lengthscale", "inf"], ["adjoint", "--lengthscale", "inf"],
                                  ["limit", "--lengthscale", "inf"], ["spectrum", "--hurst", "nan"]])
def test_non_finite_numbers_are_refused_by_every_command(cli, args):
    code, _, err = cli(*args)
    assert code == 2 and "finite number" in err and err.count("\n") == 1, err


def test_non_finite_numbers_and_repeated_depths_are_refused_by_every_spec():
    from resnet_scale_cli.errors import SpecError
    from resnet_scale_cli.experiments.adjoint import AdjointSpec
    from resnet_scale_cli.experiments.limit import LimitSpec
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec
    from resnet_scale_cli.spec import RunSpec

    for cls in (RunSpec, AdjointSpec, LimitSpec, SpectrumSpec):
        with pytest.raises(SpecError, match="finite"):
            cls(law="rbf", lengthscale=math.inf)
    for cls in (AdjointSpec, LimitSpec, SpectrumSpec):
        with pytest.raises(SpecError, match="repeated depth"):
            cls(depths=(100, 300, 100))
    with pytest.raises(SpecError, match="twice"):
        RunSpec(betas=(0.5, 0.5))


@pytest.mark.parametrize("args", [["sweep", "--depth", "100,100"], ["limit", "--depth", "100,300,100"],
                                  ["spectrum", "--depth", "100,100"], ["adjoint", "--depth", "16,16"],
                                  ["train", "--depth", "8,8"], ["run", "--beta", "0.5,0.5"]])
def test_repeated_grid_values_are_refused_with_one_line(cli, args):
    code, _, err = cli(*args)
    assert code == 2 and "given twice" in err and err.count("\n") == 1, err


@pytest.mark.slow
def test_value_checks_answer_before_torch_is_imported():
    """A range error exits 2 without importing torch (in a fresh process, every command)."""
    script = """
import sys
from resnet_scale_cli.cli.app import main
for args in (["run", "--depth", "0"], ["sweep", "--samples", "0"], ["phase", "--width", "0"], ["limit", "--depth", "0"],
             ["spectrum", "--depth", "0"], ["adjoint", "--depth", "0"], ["train", "--depth", "0"], ["sample", "--depth", "0"],
             ["inspect", %r, "--samples", "3", "--draws", "2"], ["inspect", %r, "--hurst", "1.5"],
             ["run", "--config", "-"]):
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code == 2, (args, exc.code)
print("torch" in sys.modules)
""" % (MLP, MLP)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, input="lawz = 1\n", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", proc.stderr
    assert proc.stderr.count("rscale: error:") == 11
    assert "--draws (2) must divide --samples (3)" in proc.stderr and "--hurst must be in" in proc.stderr, proc.stderr


def test_threads_are_applied_before_the_work():
    import torch

    from resnet_scale_cli.settings import apply_threads

    before = torch.get_num_threads()
    try:
        apply_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_threads_must_be_positive(cli):
    for command in ("run", "sweep", "limit", "check"):
        code, _, err = cli(command, "--threads", "0", *(["f.toml"] if command == "check" else []))
        assert code == 2 and "--threads must be at least 1" in err, (command, err)


@pytest.mark.parametrize("command", [None, *sorted(MEASURING), "check"])
def test_help_shows_no_bool_and_help_is_a_flag(cli, monkeypatch, command):
    """At 80 columns no option shows `<bool>` (typer's own --help, --version and completion
    options included): --help reads like rscale's other flags, in a command's Output panel."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, _ = cli(*([command] if command else []), "--help")
    assert code == 0 and "<bool>" not in out, out
    assert not re.search(r"<(str|list|path|int|float)", out), out  # arguments show their name (FILE, BLOCK) alone
    help_line = next(line for line in out.splitlines() if "--help" in line)
    assert "Show this message and exit." in help_line  # one line, no value between flag and words
    assert re.search(r"--help\s{2,}Show this message", help_line), help_line
    if command is not None:  # in the Output panel: the last panel before --help's line opens with "Output"
        panels = [line for line in out.splitlines()[:out.splitlines().index(help_line)] if "╭─" in line]
        assert "Output" in panels[-1], panels
