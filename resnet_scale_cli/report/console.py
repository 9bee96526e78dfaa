"""Consoles and progress bars: data on stdout, progress on stderr, only on a terminal; rich
honors NO_COLOR and drops styling off a terminal."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

#: width of output to a file or a pipe when COLUMNS is not set (tables fit it: `report.fit`)
PIPE_WIDTH = 120


def make_console(*, stderr: bool, no_color: bool = False):
    """rich console; rich itself honors NO_COLOR and drops styling off a terminal. Its width is
    the terminal's, or COLUMNS when set, or PIPE_WIDTH off a terminal; tables fit that width."""
    from rich.console import Console

    console = Console(stderr=stderr, no_color=no_color or None, highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console.width = PIPE_WIDTH  # files and pipes: no wrapping at 80 columns, unless COLUMNS says
    return console



@contextmanager
def progress_bar(total: int, description: str, enabled: bool) -> Iterator[Any]:
    """A rich progress bar with ETA on stderr, only when stderr is a terminal; yields the
    `advance(n)` callback, or None when there is no bar."""
    console = make_console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
