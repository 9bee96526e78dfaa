"""The protocol every grid command follows: an `Experiment` names how a spec becomes cells, how
one cell is measured into a record and how the records are summarized; `measure` runs its cells
(any executor, streamed to a store, resumable) and `total_cost` counts their progress units.
Importing this module imports no torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

from resnet_scale_cli.sweep.runner import run_grid
from resnet_scale_cli.sweep.store import ResultStore

Progress = Callable[[int], None] | None
Record = dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    """A measurement over a grid of cells (depths by default) that any grid command can run:
    `measure(spec, cell, progress)` → a JSON-ready record whose "cell" holds the cell's
    coordinates; `summarize(spec, records)` → the document's fields beyond `spec` (rates,
    fits, …), from the records alone (so a resumed run summarizes identically). With `group`,
    the cells still to measure that share `group(cell)` are measured by one
    `measure_group(spec, cells, progress)` call (one record per cell, equal to `measure`'s)."""

    name: str
    measure: Callable[[Any, Any, Progress], Record]
    summarize: Callable[[Any, list[Record]], dict[str, Any]]
    cells: Callable[[Any], list[Any]] = lambda spec: list(spec.depths)
    key: Callable[[Any], dict[str, Any]] = lambda depth: {"depth": int(depth)}
    cost: Callable[[Any, Any], int] = lambda spec, cell: int(cell)
    #: takes the fields that record time out of the document (in place) and returns them for `run_info`
    timing: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    group: Callable[[Any], Hashable] | None = None
    measure_group: Callable[[Any, list[Any], Progress], list[Record]] | None = None


def measure(experiment: Experiment, spec: Any, *, store: ResultStore | None = None, executor: Any = None,
            progress: Progress = None, on_cell: Callable[[Record, bool], None] | None = None) -> list[Record]:
    """The record of every cell of `spec`, in grid order: cells already in `store` are reused,
    new ones measured by `executor` (serial by default) and appended to `store` as they finish."""
    grouped = experiment.measure_group
    return run_grid(experiment.cells(spec), lambda cell, p: experiment.measure(spec, cell, p), key=experiment.key,
                    store=store, executor=executor, cost=lambda cell: experiment.cost(spec, cell), progress=progress,
                    on_cell=on_cell, group=experiment.group,
                    measure_group=(lambda cells, p: grouped(spec, cells, p)) if grouped else None)


def total_cost(experiment: Experiment, spec: Any) -> int:
    """Units of progress a run of `experiment` reports (for the progress bar)."""
    return sum(experiment.cost(spec, cell) for cell in experiment.cells(spec))
