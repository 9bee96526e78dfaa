"""`DaskExecutor`: a grid's tasks on a Dask cluster (`--workers N`, `--scheduler ADDRESS`,
`--scheduler-file PATH`); the optional extra, installed from a checkout with `pip install -e ".[distributed]"`.

Dask is imported inside functions only: `rscale --help` stays free of it (and of torch). Each
task is one cell, or one group of cells that `run_grid` measures in one pass (the law settings
sharing (law, L, d)); the task runs `measure` in a worker process and returns its record(s), and
the client alone writes results.jsonl as tasks complete. A worker that dies mid-task loses only
that task: the scheduler re-runs it on another worker (up to `distributed.scheduler.allowed-failures`
deaths per task). A task that raises stops the grid: the other tasks are cancelled and the error
(a `SpecError` for bad input) reaches the caller; the cells already written stay.

Records do not depend on where a cell ran: every cell derives its random streams from the root
seed and its own coordinates, so a distributed grid's records equal a serial one's (same device).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from resnet_scale_cli.errors import SpecError

#: the one line printed when dask is missing
MISSING_EXTRA = ('--workers/--scheduler/--scheduler-file need Dask: pip install -e ".[distributed]" in the rscale '
                 'checkout (installs dask[distributed])')

#: seconds to wait for a scheduler named by --scheduler or --scheduler-file
CONNECT_TIMEOUT = 20


def require_dask() -> None:
    """Import dask.distributed, or refuse with one line naming the extra (SpecError → exit 2)."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise SpecError(MISSING_EXTRA) from None


@dataclass(frozen=True)
class Execution:
    """Where a grid's cells run: serial in this process (the default), a `LocalCluster` of
    `workers` processes, or a running cluster's scheduler (`scheduler` address or
    `scheduler_file`). These never change results: they are not settings of any spec."""

    workers: int | None = None
    scheduler: str | None = None
    scheduler_file: str | None = None

    def __post_init__(self) -> None:
        given = [flag for flag, value in (("--workers", self.workers), ("--scheduler", self.scheduler),
                                          ("--scheduler-file", self.scheduler_file)) if value is not None]
        if len(given) > 1:
            raise SpecError(f"{' and '.join(given)}: give only one of them")
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers < 1):
            raise SpecError(f"--workers must be at least 1, got {self.workers}")
        if self.scheduler_file is not None and not Path(self.scheduler_file).is_file():
            raise SpecError(f"--scheduler-file: no file {self.scheduler_file!r} (the scheduler writes it when it starts)")

    @property
    def distributed(self) -> bool:
        return any(v is not None for v in (self.workers, self.scheduler, self.scheduler_file))

    def executor(self, note: Callable[[str], None] | None = None):
        """A `SerialExecutor`, or a `DaskExecutor` (dask checked now, the cluster started on first use)."""
        if not self.distributed:
            from resnet_scale_cli.sweep.executors import SerialExecutor

            return SerialExecutor()
        require_dask()
        return DaskExecutor(workers=self.workers, scheduler=self.scheduler, scheduler_file=self.scheduler_file,
                            note=note)


def _run_task(measure: Callable[[Any, Any], dict[str, Any]], cell: Any) -> dict[str, Any]:
    """One task on a worker: the cell's record (progress stays on the worker: the client counts cells)."""
    return measure(cell, None)


class DaskExecutor:
    """Cells as Dask tasks. With `workers`, a `LocalCluster` of that many single-threaded worker
    processes on this machine; with `scheduler`/`scheduler_file`, a running cluster; with
    `client`, an existing `distributed.Client` (left open). The cluster starts at the first
    `map` and stops at `close()` (or the end of a `with` block).

    `map` yields `(index, record)` as tasks complete (not in grid order); it does not forward
    per-layer progress (`reports_progress` False): the runner counts each completed cell."""

    name = "dask"
    reports_progress = False

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None, scheduler_file: str | None = None,
                 client: Any = None, note: Callable[[str], None] | None = None) -> None:
        self.workers, self.scheduler, self.scheduler_file = workers, scheduler, scheduler_file
        self.note = note
        self._client = client
        self._own = client is None
        self._cluster = None

    # ------------------------------------------------------------------ cluster
    @property
    def client(self):
        if self._client is None:
            self._client = self._connect()
            link = self._dashboard()
            if self.note is not None:
                where = f"{self.workers} local workers" if self.workers else self._client.scheduler.address
                self.note(f"dask: {where}" + (f"; dashboard {link}" if link else ""))
        return self._client

    def _connect(self):
        import logging

        from distributed import Client, LocalCluster

        if self.workers is not None:
            # Dask's statistical profiler holds the running task's frames for a few milliseconds,
            # keeping their tensors alive: the CPU memory count of `rscale adjoint` (tensor storages
            # held at once) would depend on its timing. Our own workers run without it.
            from resnet_scale_cli.sweep.dask_plugins import NoProfiler

            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         dashboard_address=":0", silence_logs=logging.CRITICAL)
            client = Client(self._cluster)
            client.register_plugin(NoProfiler())
            return client
        try:
            if self.scheduler_file is not None:
                return Client(scheduler_file=self.scheduler_file, timeout=CONNECT_TIMEOUT)
            return Client(self.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            flag = f"--scheduler-file {self.scheduler_file}" if self.scheduler_file else f"--scheduler {self.scheduler}"
            raise SpecError(f"{flag}: cannot connect to the Dask scheduler ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else 'no answer'})") from None

    def _dashboard(self) -> str | None:
        try:
            return self._client.dashboard_link if _has_bokeh() or not self.workers else None
        except Exception:  # pragma: no cover - a scheduler without a dashboard
            return None

    def close(self) -> None:
        if self._own and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def run_info(self) -> dict[str, Any]:
        """The executor's part of summary.json's `run_info` (no result depends on it)."""
        info: dict[str, Any] = {"executor": self.name}
        if self._client is None:
            return info | {"workers": self.workers}
        workers = self._client.scheduler_info().get("workers", {})
        hosts = sorted({str(w.get("host", "")) for w in workers.values()})
        return info | {"scheduler": self._client.scheduler.address if self.workers is None else "local",
                       "workers": len(workers), "hosts": hosts}

    @property
    def min_tasks(self) -> int:
        """Tasks the runner should form at least (groups of law settings are split to reach it):
        two per worker connected now, so that every worker has work and a slow task can be balanced."""
        return 2 * max(1, len(self.client.scheduler_info().get("workers", {})))

    # ------------------------------------------------------------------ tasks
    def map(self, measure, cells: Sequence[Any], indices: Sequence[int], progress) -> Iterator[tuple[int, dict[str, Any]]]:
        if not cells:
            return
        from distributed import as_completed

        client = self.client
        run = uuid.uuid4().hex[:8]
        futures = {client.submit(_run_task, measure, cell, key=f"rscale-{run}-{i}", pure=False): i
                   for i, cell in zip(indices, cells)}
        pending = set(futures)
        try:
            for future in as_completed(futures):
                record = future.result()  # a task's error (SpecError for bad input) is raised here
                pending.discard(future)
                future.release()
                yield futures[future], record
        finally:
            if pending:
                client.cancel(list(pending))


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None
