"""A weight law defined outside the package — a stationary Ornstein–Uhlenbeck path across depth,
declared in this file alone — runs through every command that takes a law once `RSCALE_LAWS`
names it: its parameter `ou_rate` is a flag and a config key of each, reaches the sampler (the
numbers change with it) and is echoed in the JSON `spec`; the commands that need a
continuous-depth limit refuse it with one line. Bad `RSCALE_LAWS` values are one line, exit 2.

The OU law: x_k = X(k/L), k = 1..L, of a stationary OU process with unit variance and
autocorrelation exp(−λ|s − t|), drawn exactly as the AR(1) recursion x_1 ~ N(0, 1),
x_{k+1} = ρ x_k + √(1 − ρ²) ε_k, ρ = exp(−λ/L).
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_scale_cli.laws.base import Law, into
from resnet_scale_cli.values import LAW as LAW_PANEL, POSITIVE, Setting

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def ou_sampler(depth, settings, dtype, device):
    import torch

    rho = math.exp(-float(settings["ou_rate"]) / depth)

    def draw(n_paths, gen, out=None):
        noise = torch.randn((depth, n_paths), generator=gen, dtype=dtype, device=device)
        paths = torch.empty_like(noise)
        paths[0] = noise[0]
        for k in range(1, depth):
            paths[k] = rho * paths[k - 1] + math.sqrt(1.0 - rho * rho) * noise[k]
        return into(out, paths)

    return draw


def ou_autocorrelation(lags, depth, settings):
    import numpy as np

    return np.exp(-float(settings["ou_rate"]) * np.abs(lags) / depth)


RATE = Setting(POSITIVE, "OU rate λ > 0.", 2.0, panel=LAW_PANEL, name="ou_rate", symbol="λ")
OU = Law("ou", "stationary Ornstein–Uhlenbeck path across depth, rate λ", ("ou_rate",), ou_sampler, ou_autocorrelation,
         parameter="ou_rate", symbol="λ", parameters=(RATE,), smoothness=0.5)
NOT_A_LAW = 3
#: a law whose parameter takes the name of a command's own setting (--width)
CLASH = Law("clash", "OU with its rate named like a command's setting", ("width",), ou_sampler, ou_autocorrelation,
            parameters=(Setting(POSITIVE, "a rate.", 2.0, panel=LAW_PANEL, name="width"),))


def rscale(*args, laws="test_new_law_commands:OU", cwd=None):
    env = {**os.environ, "RSCALE_LAWS": laws, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "resnet_scale_cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=300)


def one_line_refusal(done, *words):
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def document(done):
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # one JSON document, nothing else


def numbers(value):
    """Every number in a document but its `spec` and its timings, in order."""
    if isinstance(value, dict):
        return [n for k, v in value.items() if k not in ("spec", "versions", "run_info")
                and not any(word in k for word in ("second", "time")) for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return [value] if isinstance(value, float) else []


def rates(doc):
    """The OU rates a document's spec holds (a grid command's as a list; `sample`'s per setting)."""
    spec = doc["spec"]
    found = spec.get("ou_rate", spec.get("ou_rates", [s.get("ou_rate") for s in doc.get("settings", [])]))
    return found if isinstance(found, list) else [found]


SMALL = ("--width", 4, "--samples", 2, "--device", "cpu", "--seed", 3)
COMMANDS = {
    "run": ("run", "--depth", 8, "--beta", "0.5,1", *SMALL),
    "sweep": ("sweep", "--depth", "4,8", "--beta", "0.5,1", *SMALL),
    "phase": ("phase", "--depth", "4,8", "--beta", "0.5,1", *SMALL),
    "sample": ("sample", "--depth", 16, "--width", 4, "--lags", 3, "--device", "cpu"),
    "spectrum": ("spectrum", "--depth", "4,8", "--beta", "0.5,1", *SMALL),
    "adjoint": ("adjoint", "--depth", "4,8", *SMALL),
    "train": ("train", "--depth", "4,8", "--steps", 2, "--n-examples", 4, "--hidden", 4, *SMALL),
    "inspect": ("inspect", "examples/blocks.py:mlp", "--depth", "4,8", "--beta", "0.5,1", *SMALL),
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_the_law_and_its_parameter_reaches_the_sampler(command):
    args = (*COMMANDS[command], "--law", "ou", "--json")
    fast, slow = document(rscale(*args, "--ou-rate", 3)), document(rscale(*args, "--ou-rate", 0.5))
    assert fast["spec"]["law"] == "ou" and rates(fast) == [3] and rates(slow) == [0.5]
    assert numbers(fast) and numbers(fast) != numbers(slow)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["sweep", "phase", "spectrum", "sample"])
def test_its_parameter_alone_is_a_grid_of_the_law(command):
    done = document(rscale(*COMMANDS[command], "--ou-rate", "1,3", "--json"))
    assert done["spec"]["law"] == "ou"
    entries = done.get("cells", done.get("settings"))
    assert sorted({entry["ou_rate"] for entry in entries}) == [1, 3]


@pytest.mark.slow
def test_a_config_key_works_like_the_flag_and_a_check_file_takes_the_law(tmp_path):
    flagged = document(rscale(*COMMANDS["run"], "--law", "ou", "--ou-rate", 3, "--json"))
    (tmp_path / "ou.toml").write_text('law = "ou"\nou_rate = 3\n')
    configured = document(rscale(*COMMANDS["run"], "--config", tmp_path / "ou.toml", "--json"))
    assert configured["spec"] == flagged["spec"] and numbers(configured) == numbers(flagged)
    assert configured["spec"]["ou_rate"] == 3
    implied = document(rscale(*COMMANDS["run"], "--ou-rate", 3, "--json"))  # the parameter alone implies the law
    assert implied["spec"]["law"] == "ou" and numbers(implied) == numbers(flagged)
    (tmp_path / "check.toml").write_text(
        'law = "ou"\nou_rate = 3\ndepth = 8\nwidth = 4\nsamples = 2\nbeta = [0.5, 1.0]\ndevice = "cpu"\n\n'
        '[[expect]]\ntype = "statistic"\nstat = "output_log10.median"\nbeta = 1.0\ndepth = 8\nmin = -100\nmax = 100\n')
    checked = rscale("check", tmp_path / "check.toml", "--json")
    report = document(checked)
    assert report["passed"] and report["files"][0]["spec"]["ou_rates"] == [3]
    assert report["files"][0]["expectations"][0]["ou_rate"] == 3


@pytest.mark.slow
def test_the_commands_that_need_a_limit_refuse_it_with_one_line():
    one_line_refusal(rscale("limit", "--law", "ou", "--ou-rate", 3, "--depth", "4,8", *SMALL, "--json"),
                     "--law ou has no continuous-depth limit")
    one_line_refusal(rscale(*COMMANDS["train"], "--law", "ou", "--ou-rate", 3, "--limit-reference", 2, "--json"),
                     "--law ou has no continuous-depth limit")


@pytest.mark.slow
def test_a_bad_value_of_its_parameter_is_one_line():
    one_line_refusal(rscale(*COMMANDS["run"], "--law", "ou", "--ou-rate", -1), "--ou-rate must be positive")
    one_line_refusal(rscale(*COMMANDS["run"], "--law", "iid", "--ou-rate", 3), "--ou-rate applies to --law ou")


@pytest.mark.slow
@pytest.mark.parametrize("laws, words", [
    ("no_such_module_anywhere:OU", ("RSCALE_LAWS", "no_such_module_anywhere")),
    ("test_new_law_commands:MISSING", ("RSCALE_LAWS", "MISSING")),
    ("test_new_law_commands:NOT_A_LAW", ("RSCALE_LAWS", "not a Law")),
    ("test_new_law_commands", ("RSCALE_LAWS", "module:NAME")),
    ("resnet_scale_cli.laws.iid:LAW", ("RSCALE_LAWS", "'iid'")),
    ("test_new_law_commands:CLASH", ("'clash'", "'width'", "another name")),
])
def test_a_bad_rscale_laws_is_one_line_and_exit_2(laws, words):
    one_line_refusal(rscale("--help", laws=laws), *words)
