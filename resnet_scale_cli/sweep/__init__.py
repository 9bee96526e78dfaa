"""Grids of cells (`grid`), their results store (`store`), executors (`executors`) and
`run_grid`, which measures a grid with any measurement function (`runner`). What a cell
measures is the experiments' business (`experiments.registry`)."""

from resnet_scale_cli.sweep.executors import Executor, SerialExecutor
from resnet_scale_cli.sweep.grid import SweepSpec, cell_id, cell_key
from resnet_scale_cli.sweep.runner import run_grid
from resnet_scale_cli.sweep.store import RESULTS, SETTINGS, SUMMARY, ResultStore, write_atomic

__all__ = ["RESULTS", "SETTINGS", "SUMMARY", "Executor", "ResultStore", "SerialExecutor", "SweepSpec", "cell_id",
           "cell_key", "run_grid", "write_atomic"]
