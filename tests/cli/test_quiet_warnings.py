"""Nothing on stderr but rscale's own lines: the entry point ignores Python, numpy and torch
warnings (in its own process and in the processes it starts), except where a caller asked for
them (RSCALE_DEBUG, or a filter that turns warnings into errors, as this suite's)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

entry = importlib.import_module("resnet_scale_cli.cli.app")  # the module (the package's `app` is the Typer app)


@pytest.fixture
def plain_interpreter(monkeypatch):
    """The warning filters of `python` without options (no error filter), restored afterwards."""
    monkeypatch.delenv("RSCALE_DEBUG", raising=False)
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    monkeypatch.delenv("TORCH_CPP_LOG_LEVEL", raising=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        yield seen


def _provoke() -> None:
    """A Python warning, a numpy floating-point warning (x² past 1.8e308) and a torch one."""
    import torch

    warnings.warn("a library's warning", UserWarning)
    assert np.isinf(np.square(np.float64(1e200)))  # numpy: "overflow encountered in square"
    torch.tensor(torch.tensor([1.0]))  # torch: "To copy construct from a tensor, it is recommended …"


def test_quiet_warnings_ignores_them_and_tells_child_processes(plain_interpreter):
    with entry.quiet_warnings():
        _provoke()
        assert os.environ["PYTHONWARNINGS"] == "ignore" and os.environ["TORCH_CPP_LOG_LEVEL"] == "ERROR"
    assert "PYTHONWARNINGS" not in os.environ and "TORCH_CPP_LOG_LEVEL" not in os.environ  # restored
    warnings.warn("after the command", UserWarning)
    assert [str(w.message) for w in plain_interpreter] == ["after the command"]


def test_main_runs_the_command_with_warnings_ignored(plain_interpreter, monkeypatch):
    """`main` itself installs the filter: a command that warns prints nothing but its output."""
    seen_inside = {}

    def command(**_):
        _provoke()
        seen_inside["env"] = os.environ.get("PYTHONWARNINGS")
        return 0

    monkeypatch.setattr(entry, "app", command)
    with pytest.raises(SystemExit) as exc:
        entry.main(["run"])
    assert exc.value.code == 0 and seen_inside["env"] == "ignore"
    assert not plain_interpreter, [str(w.message) for w in plain_interpreter]


@pytest.mark.parametrize("how", ["RSCALE_DEBUG", "error filter"])
def test_warnings_stay_for_callers_who_ask_for_them(plain_interpreter, monkeypatch, how):
    if how == "RSCALE_DEBUG":
        monkeypatch.setenv("RSCALE_DEBUG", "1")
        with entry.quiet_warnings():
            warnings.warn("shown under RSCALE_DEBUG", UserWarning)
        assert [str(w.message) for w in plain_interpreter] == ["shown under RSCALE_DEBUG"]
    else:
        warnings.simplefilter("error")
        with entry.quiet_warnings(), pytest.raises(UserWarning):
            warnings.warn("an error for this test suite", UserWarning)
    assert "PYTHONWARNINGS" not in os.environ


@pytest.mark.slow  # fresh interpreters
@pytest.mark.parametrize("args", [
    ["run", "--law", "iid", "--depth", "4000", "--width", "40", "--beta", "0.1", "--samples", "8", "--seed", "1", "--json"],
    ["run", "--law", "iid", "--beta", "0", "--depth", "2000", "--width", "8", "--samples", "4"],
    ["sweep", "--law", "iid", "--beta", "0,0.5", "--depth", "100,2000", "--width", "8", "--samples", "4", "--json"],
    ["sample", "--law", "fbm", "--hurst", "0.9", "--fbm-backend", "fbm", "--depth", "64", "--json"],
], ids=["run-overflow", "run-beta-0", "sweep-overflow", "sample-fbm-package"])
def test_real_command_lines_print_nothing_on_stderr(rscale_process, args):
    """Command lines that reached numpy's overflow or a library's fallback warning; the child
    gets the environment of a user's shell (no PYTHONWARNINGS, no RSCALE_DEBUG)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "RSCALE_DEBUG")} | {"NO_COLOR": "1"}
    proc = rscale_process(*args, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


@pytest.mark.slow  # starts a Dask cluster
def test_dask_workers_inherit_the_quiet_filter(tmp_path):
    """Worker processes started by `--workers` are Python processes of their own: they start
    with PYTHONWARNINGS=ignore, so a warning in a task reaches no terminal either."""
    pytest.importorskip("distributed")
    code = ("import os, sys, warnings\n"
            "from resnet_scale_cli.sweep.distributed import DaskExecutor\n"
            "from resnet_scale_cli.cli.app import quiet_warnings\n"
            "with quiet_warnings(), DaskExecutor(workers=1) as ex:\n"
            "    print(ex.client.submit(lambda: (os.environ.get('PYTHONWARNINGS'), sys.warnoptions)).result())\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "('ignore', ['ignore'])", proc.stdout
