"""`run_grid`: measure every cell of a grid with an executor, streaming each finished record to
the store, skipping the cells a resumed store already holds. The measurement is a function, so
every grid command shares grids, resume and progress."""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterator, Sequence, TypeVar

from resnet_scale_cli.sweep.executors import Executor, SerialExecutor
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
    group: Callable[[Cell], Hashable] | None = None,
    measure_group: Callable[[list[Cell], Callable[[int], None] | None], list[Record]] | None = None,
) -> list[Record]:
    """Records of every cell, in grid order.

    With `group` and `measure_group`, the cells still to measure that share `group(cell)` are
    measured by one `measure_group(cells, progress)` call (one record per cell, in order), split
    further where the executor asks for at least `executor.min_tasks` tasks (a cluster); each
    record is still appended to the store on its own, so resume is unchanged (the store's lines
    then follow the groups' order rather than the grid's).

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
    if group is not None and measure_group is not None:
        groups: dict[Hashable, list[int]] = {}
        for i in todo:
            groups.setdefault(group(cells[i]), []).append(i)
        members = _split(list(groups.values()), getattr(executor, "min_tasks", 1)) if groups else []
        finished: Iterator[tuple[int, Record]] = (
            (i, record)
            for g, group_records in executor.map(_GroupTask(measure_group), [[cells[i] for i in idx] for idx in members],
                                                 range(len(members)), progress)
            for i, record in zip(members[g], group_records["records"]))
    else:
        finished = executor.map(measure, [cells[i] for i in todo], todo, progress)
    count = progress is not None and cost is not None and not getattr(executor, "reports_progress", True)
    for i, record in finished:
        if count:  # an executor that runs cells elsewhere: the bar advances by each completed cell
            progress(cost(cells[i]))  # type: ignore[misc]
        if store is not None:
            store.append(record)
        records[i] = record
        if on_cell is not None:
            on_cell(record, False)
    return records  # type: ignore[return-value]


def _split(members: list[list[int]], tasks: int) -> list[list[int]]:
    """Halve the largest groups until there are at least `tasks` of them (or only single cells):
    an executor with several workers gets work for each (records do not depend on the grouping)."""
    members = list(members)
    while len(members) < tasks:
        largest = max(range(len(members)), key=lambda g: len(members[g]))
        if len(members[largest]) < 2:
            break
        group = members.pop(largest)
        members[largest:largest] = [group[:len(group) // 2 + len(group) % 2], group[len(group) // 2 + len(group) % 2:]]
    return members


class _GroupTask:
    """The task of a group of cells: `{"records": measure_group(cells, progress)}` (a class, not a
    closure over the whole grid, so a distributed executor ships only the group's cells)."""

    def __init__(self, measure_group: Callable[[list[Any], Callable[[int], None] | None], list[Record]]) -> None:
        self.measure_group = measure_group

    def __call__(self, cells: list[Any], progress: Callable[[int], None] | None) -> Record:
        return {"records": self.measure_group(cells, progress)}
