"""Shared fixtures: the device matrix, the in-process CLI runner and the subprocess runners."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Callable

import pytest
import torch

# The suite's tensors are small: on the CPU one intra-op thread spares each operation a barrier
# between threads (the fast tier took 34 s with two, 28 s with one on the 2-core machine). Tests of
# the threaded CPU passes set `experiments.cell.CPU_WORKERS` themselves.
torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: a cell small enough for command-line tests
FAST = ["--depth", "20", "--width", "4", "--samples", "4", "--device", "cpu"]


def pytest_collection_modifyitems(config, items):
    """Tests that start rscale in subprocesses are `slow` (the fast tier runs in process)."""
    for item in items:
        if {"rscale_process", "rscale_popen"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def one_thread():
    """Each test starts on one intra-op thread (a command's `--threads` or a threaded pass may have
    changed it) and leaves the count as it found it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=DEVICES)
def device(request):
    """Every available device: cpu, and cuda when present."""
    return request.param


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """Run `rscale ARGS` in process: returns (exit code, stdout, stderr)."""
    from resnet_scale_cli.cli import main

    def call(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            main(list(args))
        out, err = capsys.readouterr()
        return exc.value.code, out, err

    return call


#: warnings are errors in the children too, as in process (pyproject's filterwarnings): a warning
#: that would reach a user's stderr fails the test (exit 3) instead of passing unseen
CHILD_WARNINGS = ["-W", "error", "-W", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"]


def rscale_command(*args: str) -> list[str]:
    return [sys.executable, *CHILD_WARNINGS, "-m", "resnet_scale_cli", *args]


@pytest.fixture
def rscale_process() -> Callable[..., subprocess.CompletedProcess]:
    """Run `rscale ARGS` in a subprocess (NO_COLOR set, stdin optional); returns the finished process."""

    def run(*args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 300):
        return subprocess.run(rscale_command(*args), capture_output=True, text=True, input=stdin,
                              env=env or dict(os.environ, NO_COLOR="1"), timeout=timeout)

    return run


@pytest.fixture
def rscale_popen() -> Callable[..., subprocess.Popen]:
    """Start `rscale ARGS` in the background (stdout and stderr piped, text mode)."""

    def start(*args: str, **popen: Any) -> subprocess.Popen:
        return subprocess.Popen(rscale_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, NO_COLOR="1"), **popen)

    return start
