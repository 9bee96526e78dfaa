"""Executors run a grid's measurements: serial (in process), or on a Dask cluster
(`sweep.distributed.DaskExecutor`). An executor's `map` yields `(index, record)` pairs as cells
finish; the runner alone writes the store, so resume works whatever executed the cells. An
executor whose `reports_progress` is False does not forward per-layer progress: the runner then
advances the bar by each completed cell's cost. `run_info()` is the executor's part of the
`run_info` entry of summary.json (never part of results)."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, Sequence


class Executor(Protocol):
    def map(self, measure: Callable[[Any, Callable[[int], None] | None], dict[str, Any]], cells: Sequence[Any],
            indices: Sequence[int], progress: Callable[[int], None] | None) -> Iterator[tuple[int, dict[str, Any]]]:
        ...


class SerialExecutor:
    """One cell after another, in this process, in grid order."""

    name = "serial"

    def run_info(self) -> dict[str, Any]:
        """The executor's part of summary.json's `run_info`."""
        return {"executor": self.name}

    def map(self, measure, cells, indices, progress) -> Iterator[tuple[int, dict[str, Any]]]:
        for i, cell in zip(indices, cells):
            yield i, measure(cell, progress)


def run_info(executor: Any) -> dict[str, Any]:
    """summary.json's `run_info`: what ran the cells (`{"executor": "serial"}` by default). It
    holds every field that records the executor or its hosts, so that summaries of the same grid
    run serially or distributed are identical once `run_info` is deleted."""
    if executor is None:
        return SerialExecutor().run_info()
    info = getattr(executor, "run_info", None)
    return info() if callable(info) else {"executor": getattr(executor, "name", type(executor).__name__)}
