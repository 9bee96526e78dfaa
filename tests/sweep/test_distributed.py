"""Grids on a Dask cluster (`--workers`, `--scheduler`, `--scheduler-file`; issue 15).

The fast tier checks the options and the runner without a cluster (the missing extra simulated by
hiding the modules); the slow tier runs real `LocalCluster`s of 2 worker processes: a distributed
sweep's summary.json equals a serial one's once `run_info` is deleted, an interrupted distributed
sweep resumes (serially or distributed) to the uninterrupted summary, a worker killed mid-task
loses nothing, and a bad-input error inside a task exits 2 with one line, keeping written cells.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from resnet_scale_cli.sweep.runner import run_grid
from resnet_scale_cli.sweep.store import RESULTS, SUMMARY, ResultStore
from resnet_scale_cli.sweep.grid import cell_key

#: the issue's contract command at a reduced width (L ≤ 300)
CONTRACT = ["sweep", "--hurst", "0.6,0.7", "--depth", "100,300", "--beta", "0.5,0.7", "--samples", "8", "--seed", "0",
            "--width", "8", "--device", "cpu"]
TINY = ["sweep", "--depth", "10,20", "--width", "3", "--samples", "2", "--device", "cpu"]


def _without_run_info(path: Path) -> dict:
    document = json.loads(path.read_text())
    assert "run_info" in document
    document.pop("run_info")
    return document


# ----------------------------------------------------------------------------- fast: no cluster
def test_missing_extra_exits_2_with_one_line_naming_it(cli, monkeypatch, tmp_path):
    for name in ("dask", "distributed", "dask.distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # `import distributed` now raises ImportError
    for flag in (["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]):
        code, out, err = cli(*TINY, "--out", str(tmp_path / "o"), *flag)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert 'pip install -e ".[distributed]"' in err
    assert not (tmp_path / "o" / RESULTS).exists()


@pytest.mark.parametrize("flags,named", [(["--workers", "0"], "--workers"),
                                         (["--workers", "2", "--scheduler", "tcp://h:8786"], "--scheduler"),
                                         (["--scheduler-file", "no/such/scheduler.json"], "--scheduler-file")])
def test_bad_execution_options_exit_2(cli, flags, named):
    code, _, err = cli(*TINY, *flags)
    assert code == 2 and err.count("\n") == 1 and named in err


def test_a_serial_summary_records_its_executor_under_run_info(cli, tmp_path):
    code, out, _ = cli(*TINY, "--out", str(tmp_path), "--json")
    assert code == 0
    summary = json.loads((tmp_path / SUMMARY).read_text())
    assert summary["run_info"] == {"executor": "serial"} and json.loads(out)["run_info"] == summary["run_info"]
    assert "workers" not in json.dumps(summary["spec"])


class _ElsewhereExecutor:
    """Runs cells in reverse order and forwards no per-layer progress, as a cluster does."""

    name = "elsewhere"
    reports_progress = False

    def map(self, measure, cells, indices, progress):
        for i, cell in reversed(list(zip(indices, cells))):
            yield i, measure(cell, None)


def test_runner_counts_each_completed_cell_when_the_executor_runs_them_elsewhere(tmp_path):
    advanced: list[int] = []
    store = ResultStore(tmp_path, {"t": 1}, False, cell_key)
    cells = [3, 5, 7]
    records = run_grid(cells, lambda c, p: {"cell": {"depth": c}, "value": c * c}, key=lambda c: {"depth": c},
                       store=store, executor=_ElsewhereExecutor(), cost=lambda c: 10 * c, progress=advanced.append)
    assert [r["value"] for r in records] == [9, 25, 49]  # grid order
    assert advanced == [70, 50, 30]  # one advance per completed cell, by its cost
    lines = [json.loads(line)["cell"]["depth"] for line in (tmp_path / RESULTS).read_text().splitlines()]
    assert lines == [7, 5, 3]  # completion order in the store


class _Workers(_ElsewhereExecutor):
    min_tasks = 5


def test_groups_are_split_until_every_worker_has_tasks():
    tasks: list[list[int]] = []

    def measure_group(cells, progress):
        tasks.append(list(cells))
        return [{"cell": {"depth": c}, "value": -c} for c in cells]

    cells = list(range(9))  # two groups: 0..6 and 7, 8
    records = run_grid(cells, None, key=lambda c: {"depth": c}, executor=_Workers(), group=lambda c: c >= 7,
                       measure_group=measure_group)
    assert [r["value"] for r in records] == [-c for c in cells]
    # the largest group halved until there are 5 tasks: 7 → 4 + 3 → (2 + 2) + 3 → (2 + 2) + (2 + 1)
    assert sorted(map(tuple, tasks)) == [(0, 1), (2, 3), (4, 5), (6,), (7, 8)]


def test_groups_are_split_down_to_single_cells_when_workers_outnumber_the_cells():
    tasks: list[list[int]] = []

    def measure_group(cells, progress):
        tasks.append(list(cells))
        return [{"cell": {"depth": c}, "value": -c} for c in cells]

    cells = list(range(4))  # one group of 4 cells for 5 tasks: 4 → 2 + 2 → 1 + 1 + 1 + 1, and no further
    records = run_grid(cells, None, key=lambda c: {"depth": c}, executor=_Workers(), group=lambda c: 0,
                       measure_group=measure_group)
    assert [r["value"] for r in records] == [0, -1, -2, -3]
    assert sorted(tasks) == [[0], [1], [2], [3]]


@pytest.mark.parametrize("options,message", [
    (dict(workers=2, scheduler="tcp://h:8786"), "--workers and --scheduler: give only one of them"),
    (dict(workers=2, scheduler_file="FILE"), "--workers and --scheduler-file: give only one of them"),
    (dict(scheduler="tcp://h:8786", scheduler_file="FILE"), "--scheduler and --scheduler-file: give only one of them"),
    (dict(workers=0), "--workers must be at least 1, got 0"),
])
def test_execution_options_name_their_flags(tmp_path, options, message):
    from resnet_scale_cli.errors import SpecError
    from resnet_scale_cli.sweep.distributed import Execution

    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text("{}")
    options = {k: str(scheduler_file) if v == "FILE" else v for k, v in options.items()}
    with pytest.raises(SpecError, match=f"^{message}$"):
        Execution(**options)


def test_one_local_worker_is_a_valid_execution():
    from resnet_scale_cli.sweep.distributed import Execution

    execution = Execution(workers=1)  # validated only: no cluster starts before the first map
    assert execution.distributed and execution.workers == 1


def test_run_info_records_what_ran_the_cells():
    """None is the serial default; an executor's own `run_info()` is used whole; one without it is
    recorded by its `name`, else by its class name."""
    from resnet_scale_cli.sweep.executors import SerialExecutor, run_info

    class Reporting:
        name = "reporting"

        def run_info(self):
            return {"executor": "reporting", "workers": 3, "hosts": ["a", "b"]}

    class Named:
        name = "named"

    class Anonymous:
        pass

    assert run_info(None) == {"executor": "serial"} == run_info(SerialExecutor())
    assert run_info(Reporting()) == {"executor": "reporting", "workers": 3, "hosts": ["a", "b"]}
    assert run_info(Named()) == {"executor": "named"}
    assert run_info(Anonymous()) == {"executor": "Anonymous"}


# ----------------------------------------------------------------------------- slow: LocalCluster
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    from resnet_scale_cli.sweep.dask_plugins import NoProfiler

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as c:
        c.register_plugin(NoProfiler())  # as for a user's cluster set up for identical documents (docs/distributed.md)
        yield c


def _sweep(**overrides):
    from resnet_scale_cli.settings import build_sweep

    flags = dict(hurst="0.6,0.7", depth="50,100,150,200", beta="0.5,0.7", samples=8, seed=0, width=8, device="cpu")
    return build_sweep(None, flags | overrides, depths="100", betas="0.5", defaults={})[0]


class _Interrupting:
    """An executor that stops (as Ctrl-C does) after `after` cells of `inner` were handed over."""

    def __init__(self, inner, after: int) -> None:
        self.inner, self.after = inner, after
        self.name, self.reports_progress = inner.name, getattr(inner, "reports_progress", True)

    def map(self, measure, cells, indices, progress):
        finished = self.inner.map(measure, cells, indices, progress)
        try:
            for n, item in enumerate(finished):
                if n == self.after:
                    raise KeyboardInterrupt
                yield item
        finally:
            finished.close()


@pytest.mark.slow
def test_contract_serial_and_two_workers_give_identical_summaries(cli, tmp_path):
    pytest.importorskip("distributed")
    assert cli(*CONTRACT, "--out", str(tmp_path / "A"), "--json")[0] == 0
    code, _, err = cli(*CONTRACT, "--out", str(tmp_path / "B"), "--workers", "2", "--json")
    assert code == 0, err
    assert _without_run_info(tmp_path / "A" / SUMMARY) == _without_run_info(tmp_path / "B" / SUMMARY)
    assert json.loads((tmp_path / "B" / SUMMARY).read_text())["run_info"]["executor"] == "dask"
    lines = {name: sorted((tmp_path / name / RESULTS).read_text().splitlines()) for name in "AB"}
    assert lines["A"] == lines["B"] and len(lines["A"]) == 4  # the same records, line for line (order aside)


@pytest.mark.slow
def test_the_workers_rscale_starts_run_without_the_statistical_profiler():
    """The profiler holds task frames (and their tensors) for a moment: `adjoint`'s CPU memory
    count would then vary from run to run (1 in 5 runs of the cluster test above did)."""
    pytest.importorskip("distributed")
    from resnet_scale_cli.sweep.distributed import DaskExecutor

    executor = DaskExecutor(workers=2)
    client = executor._connect()
    try:
        callbacks = client.run(lambda dask_worker: sorted(dask_worker.periodic_callbacks))
        assert len(callbacks) == 2 and all("heartbeat" in names and "profile" not in names
                                           for names in callbacks.values()), callbacks
    finally:
        client.close()
        executor._cluster.close()


@pytest.mark.slow
def test_an_interrupted_distributed_sweep_resumes_serially_or_distributed(client, tmp_path):
    from resnet_scale_cli import api
    from resnet_scale_cli.sweep.distributed import DaskExecutor

    sweep = _sweep(hurst="0.6,0.7", depth="50,100,150")
    whole = api.grid_study("sweep", sweep, out=tmp_path / "whole")
    for resumed_by in ("serial", "dask"):
        part = tmp_path / resumed_by
        with pytest.raises(KeyboardInterrupt):
            api.grid_study("sweep", sweep, out=part, executor=_Interrupting(DaskExecutor(client=client), after=1))
        assert 1 <= len((part / RESULTS).read_text().splitlines()) <= 2  # one task: a cell or a group of two
        assert not (part / SUMMARY).exists()
        executor = DaskExecutor(client=client) if resumed_by == "dask" else None
        again = api.grid_study("sweep", sweep, out=part, resume=True, executor=executor)
        assert again.document["run_info"]["executor"] == resumed_by
        assert _without_run_info(part / SUMMARY) == _without_run_info(tmp_path / "whole" / SUMMARY)
        assert len((part / RESULTS).read_text().splitlines()) == 6
    assert whole.document["run_info"] == {"executor": "serial"}


@pytest.mark.slow
def test_a_serial_interruption_resumes_on_the_cluster(client, tmp_path):
    from resnet_scale_cli import api
    from resnet_scale_cli.sweep.distributed import DaskExecutor
    from resnet_scale_cli.sweep.executors import SerialExecutor

    sweep = _sweep(hurst="0.6", depth="50,100,150")
    api.grid_study("sweep", sweep, out=tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        api.grid_study("sweep", sweep, out=tmp_path / "part", executor=_Interrupting(SerialExecutor(), after=1))
    api.grid_study("sweep", sweep, out=tmp_path / "part", resume=True, executor=DaskExecutor(client=client))
    assert _without_run_info(tmp_path / "part" / SUMMARY) == _without_run_info(tmp_path / "whole" / SUMMARY)


@pytest.mark.slow
def test_a_worker_killed_mid_task_loses_nothing(tmp_path):
    distributed = pytest.importorskip("distributed")
    from resnet_scale_cli import api
    from resnet_scale_cli.sweep.distributed import DaskExecutor

    sweep = _sweep(depth="100,150,200,250,300", samples=16)  # five tasks (one per depth, both H in each)
    serial = api.grid_study("sweep", sweep, out=tmp_path / "serial")
    killed: list[int] = []

    class Killing(DaskExecutor):
        def map(self, measure, cells, indices, progress):
            finished = super().map(measure, cells, indices, progress)
            yield next(finished)
            busy = [w for w, keys in self.client.processing().items() if keys]
            assert busy, "no task was running when the worker was to be killed"
            pid = self.client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            yield from finished

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        study = api.grid_study("sweep", sweep, out=tmp_path / "dask", executor=Killing(client=client))
        assert killed and killed[0] not in client.run(os.getpid).values()  # the nanny restarted it
    assert study.document["run_info"]["executor"] == "dask"
    assert _without_run_info(tmp_path / "dask" / SUMMARY) == _without_run_info(tmp_path / "serial" / SUMMARY)
    assert len((tmp_path / "dask" / RESULTS).read_text().splitlines()) == 10


BLOCK = '''
import multiprocessing, time
import torch

def make(width, depth):
    """Fine on the client (which checks the block), bad input on a worker at depth 40."""
    if depth == 40 and multiprocessing.current_process().name != "MainProcess":
        time.sleep(2)
        raise ValueError("no block at depth 40")
    return torch.nn.Linear(width, width)
'''


@pytest.mark.slow
def test_bad_input_inside_a_task_exits_2_with_one_line_and_keeps_written_cells(cli, tmp_path):
    pytest.importorskip("distributed")
    (tmp_path / "block.py").write_text(BLOCK)
    out = tmp_path / "out"
    code, stdout, err = cli("inspect", f"{tmp_path / 'block.py'}:make", "--depth", "20,40", "--width", "4", "--samples",
                            "4", "--device", "cpu", "--out", str(out), "--workers", "2", "--json")
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "depth=40" in err and "no block at depth 40" in err
    lines = (out / RESULTS).read_text().splitlines()
    assert [json.loads(line)["cell"]["depth"] for line in lines] == [20]


@pytest.mark.slow
def test_scheduler_and_scheduler_file_connect_to_a_running_cluster(client, cli, tmp_path):
    base = ["phase", "--hurst", "0.6,0.7", "--depth", "20,40", "--beta", "0.5,1", "--width", "4", "--samples", "4",
            "--device", "cpu", "--json"]
    assert cli(*base, "--out", str(tmp_path / "serial"))[0] == 0
    client.write_scheduler_file(str(tmp_path / "scheduler.json"))
    for name, flags in (("address", ["--scheduler", client.scheduler.address]),
                        ("file", ["--scheduler-file", str(tmp_path / "scheduler.json")])):
        code, out, err = cli(*base, "--out", str(tmp_path / name), *flags)
        assert code == 0, err
        assert json.loads(out)["run_info"] == json.loads((tmp_path / name / SUMMARY).read_text())["run_info"]
        assert json.loads(out)["run_info"]["scheduler"] == client.scheduler.address
        assert _without_run_info(tmp_path / name / SUMMARY) == _without_run_info(tmp_path / "serial" / SUMMARY)
    assert len(client.scheduler_info()["workers"]) == 2  # the running cluster was left running


@pytest.mark.slow
@pytest.mark.parametrize("command", [["limit", "--depth", "16,32,64", "--samples", "4", "--width", "4"],
                                     ["adjoint", "--depth", "8,16,32", "--samples", "2", "--width", "4"],
                                     ["train", "--law", "tied", "--depth", "8,16", "--steps", "20", "--samples", "2"],
                                     ["spectrum", "--depth", "16,32", "--beta", "0.25,1", "--samples", "2", "--width", "4"]])
def test_commands_built_on_run_experiment_run_on_the_cluster(client, cli, tmp_path, command):
    args = [*command, "--device", "cpu", "--json"]
    assert cli(*args, "--out", str(tmp_path / "serial"))[0] == 0
    code, _, err = cli(*args, "--out", str(tmp_path / "dask"), "--scheduler", client.scheduler.address)
    assert code == 0, err
    assert _without_run_info(tmp_path / "dask" / SUMMARY) == _without_run_info(tmp_path / "serial" / SUMMARY)
