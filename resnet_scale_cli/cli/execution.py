"""`--workers`, `--scheduler`, `--scheduler-file`: where a grid command's cells run (serial by
default, a Dask cluster with them). They are execution options, not settings: they never enter a
spec, a cell id or results (only summary.json's `run_info`).

`with_executor` adds the three options to a command and hands it `executor` (a `SerialExecutor`,
or a `DaskExecutor` whose cluster starts with the first cells and is closed when the command ends).
Dask is imported only when one of the options is given."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Annotated, Any, Callable, Optional

import typer

from resnet_scale_cli.settings import EXECUTION

#: the help panel of the three options: where and how the command runs
PANEL = EXECUTION

Workers = Annotated[Optional[int], typer.Option(
    "--workers", help='Run the cells on a local Dask cluster of N worker processes (pip install -e ".\\[distributed]" in the rscale checkout).',
    show_default=False, metavar="INT", rich_help_panel=PANEL)]
Scheduler = Annotated[Optional[str], typer.Option(
    "--scheduler", help="Run the cells on a running Dask cluster: its scheduler's address (tcp://host:8786).",
    show_default=False, metavar="ADDRESS", rich_help_panel=PANEL)]
SchedulerFile = Annotated[Optional[str], typer.Option(
    "--scheduler-file", help="Run the cells on the Dask cluster whose scheduler wrote FILE (dask-jobqueue, dask scheduler --scheduler-file).",
    show_default=False, metavar="FILE", rich_help_panel=PANEL)]

_OPTIONS = {"workers": Workers, "scheduler": Scheduler, "scheduler_file": SchedulerFile}


def _note(enabled: bool) -> Callable[[str], None] | None:
    """Notes (the cluster and its dashboard link) on stderr, only on a terminal and without --quiet."""
    if not enabled or not sys.stderr.isatty():
        return None

    def note(message: str) -> None:
        sys.stderr.write(f"rscale: {message}\n")
        sys.stderr.flush()

    return note


def with_executor(fn: Callable) -> Callable:
    """Decorator (below `with_settings`): the command takes --workers/--scheduler/--scheduler-file
    and receives `executor`, closed (its cluster stopped) when the command returns or fails."""
    signature = inspect.signature(fn, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "executor"]
    added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=a) for n, a in _OPTIONS.items()]

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        from resnet_scale_cli.sweep.distributed import Execution

        execution = Execution(**{n: kwargs.pop(n, None) for n in _OPTIONS})
        executor = execution.executor(note=_note(not kwargs.get("quiet")))
        try:
            return fn(executor=executor, **kwargs)
        finally:
            close = getattr(executor, "close", None)
            if close is not None:
                close()

    command.__annotations__ = {}
    command.__signature__ = signature.replace(parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
                                              + added)
    return command
