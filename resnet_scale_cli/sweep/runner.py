"""`run_grid`: measure every cell of a grid with an executor, streaming each finished record to
the store, skipping the cells a resumed store already holds. The measurement is a function, so
every grid command (sweep, phase, check, and the later ones) shares grids, resume and progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from resnet_scale_cli.sweep.executors import Executor, SerialExecutor
from resnet_scale_cli.sweep.grid import SweepSpec, cell_cost, cell_id, cell_key, measure_cell
from resnet_scale_cli.sweep.store import ResultStore

Cell = TypeVar("Cell")
Record = dict[str, Any]


def run_grid(
    cells: Sequence[Cell],
    measure: Callable[[Cell, Callable[[int], None] | None], Record],
    *,
    key: Callable[[Cell], dict[str, Any]],
    store: ResultStore | None = None,
    executor: Executor | None = None,
    cost: Callable[[Cell], int] | None = None,
    progress: Callable[[int], None] | None = None,
    on_cell: Callable[[Record, bool], None] | None = None,
) -> list[Record]:
    """Records of every cell, in grid order.

    `measure(cell, progress)` returns a JSON-ready record whose "cell" entry equals `key(cell)`;
    cells already in `store` are reused (their `cost` is reported to `progress` at once); new
    records are appended to the store as they finish. `on_cell(record, reused)` follows each cell.
    """
    executor = executor or SerialExecutor()
    done = store.done() if store is not None else {}
    records: list[Record | None] = [None] * len(cells)
    todo = []
    for i, cell in enumerate(cells):
        stored = done.get(store.key(key(cell))) if store is not None else None
        if stored is not None:
            records[i] = stored
            if progress is not None and cost is not None:
                progress(cost(cell))
            if on_cell is not None:
                on_cell(stored, True)
        else:
            todo.append(i)
    for i, record in executor.map(measure, [cells[i] for i in todo], todo, progress):
        if store is not None:
            store.append(record)
        records[i] = record
        if on_cell is not None:
            on_cell(record, False)
    return records  # type: ignore[return-value]


def run_sweep(
    sweep: SweepSpec,
    *,
    out: Path | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    on_cell: Callable[[Record, bool], None] | None = None,
    executor: Executor | None = None,
) -> list[Record]:
    """Measure every cell of a sweep (skipping those already in `out` when resuming); a cell too
    big for the device is refused before anything runs."""
    from resnet_scale_cli.resources import check_fits

    for cell in sweep.cells():
        check_fits(cell)
    store = ResultStore(out, {"sweep": sweep.to_dict()}, resume, cell_key) if out is not None else None
    return run_grid(list(sweep.cells()), measure_cell, key=cell_id, store=store, executor=executor, cost=cell_cost,
                    progress=progress, on_cell=on_cell)
