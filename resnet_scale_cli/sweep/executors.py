"""Executors run a grid's measurements: serial (in process) today. An executor's `map` yields
`(index, record)` pairs as cells finish; the runner alone writes the store, so resume works
whatever executed the cells."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, Sequence


class Executor(Protocol):
    def map(self, measure: Callable[[Any, Callable[[int], None] | None], dict[str, Any]], cells: Sequence[Any],
            indices: Sequence[int], progress: Callable[[int], None] | None) -> Iterator[tuple[int, dict[str, Any]]]:
        ...


class SerialExecutor:
    """One cell after another, in this process, in grid order."""

    name = "serial"

    def map(self, measure, cells, indices, progress) -> Iterator[tuple[int, dict[str, Any]]]:
        for i, cell in zip(indices, cells):
            yield i, measure(cell, progress)
