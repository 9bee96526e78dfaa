"""`EXPERIMENTS`: every command that measures over cells, by name → its `Experiment`. The
measure, summarize, cells and cost functions are imported on first call, so importing the
registry (and `rscale --help`) imports no torch.

- `sweep`, `phase`: the built-in engine's grid, (law setting, width d, depth L) × every β
  (`sweep.SweepSpec`; records of `experiments.cell`, critical β from `analysis`);
- `train`, `inspect`, `adjoint`, `limit`, `spectrum`: one cell per depth L (per law setting,
  width and depth for `spectrum`), each refused before anything runs when it does not fit.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable

from resnet_scale_cli.experiments.protocol import Experiment, Progress, Record, measure, total_cost
from resnet_scale_cli.sweep.grid import SweepSpec, cell_id, cell_key
from resnet_scale_cli.sweep.store import ResultStore


def _module(name: str) -> Any:
    """The experiment module `name`, imported now (first use)."""
    if name == "adjoint":
        from resnet_scale_cli.experiments import adjoint as module
    elif name == "cell":
        from resnet_scale_cli.experiments import cell as module
    elif name == "inspect_block":
        from resnet_scale_cli.experiments import inspect_block as module
    elif name == "limit":
        from resnet_scale_cli.experiments import limit as module
    elif name == "spectrum":
        from resnet_scale_cli.experiments import spectrum as module
    elif name == "training":
        from resnet_scale_cli.experiments import training as module
    elif name == "training_spec":
        from resnet_scale_cli.experiments import training_spec as module
    else:
        raise KeyError(name)
    return module


def _lazy(module: str, function: str) -> Callable[..., Any]:
    """`experiments.<module>.<function>`, imported on first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_module(module), function)(*args, **kwargs)

    return call


# ----------------------------------------------------------------------------- sweep, phase
def _record(spec: Any, meas: Any) -> Record:
    """One cell of the grid as a JSON-ready record: per-β statistics and the per-sample values
    (NaN and ±∞ as null)."""
    return {
        "cell": cell_id(spec),
        "betas": list(meas.betas),
        "inputs_per_draw": meas.info["inputs_per_draw"],
        "results": _module("cell").statistics(spec, meas),
        "values": {q: [[float(v) if math.isfinite(v) else None for v in row] for row in values]
                   for q, values in meas.values.items()},
        "info": {k: meas.info[k] for k in ("device", "grad_method_used", "checkpoint_every")},
    }


def _measure_grid_cell(sweep: SweepSpec, spec: Any, progress: Progress) -> Record:
    return _record(spec, _module("cell").measure(spec, progress))


def _measure_grid_group(sweep: SweepSpec, specs: list[Any], progress: Progress) -> list[Record]:
    """The records of a group of cells (equal `experiments.cell.group_key`), measured in one pass
    of the engine where the memory budget allows; equal to `_measure_grid_cell`'s."""
    return [_record(spec, meas) for spec, meas in zip(specs, _module("cell").measure_group(list(specs), progress))]


def _critical(sweep: SweepSpec, records: list[Record], always: bool) -> dict[str, Any]:
    """Regimes and the critical β per law setting and width from the depth trend (two depths or
    more; with `always`, at a single depth too, from the log-ratio thresholds)."""
    from resnet_scale_cli.analysis import analyze

    return {"critical": analyze(records, seed=sweep.base.seed) if len(sweep.depths) > 1 or always else []}


#: cells are `RunSpec`s; a group of cells that differ only in the law's parameter is measured in one pass
SWEEP = Experiment("sweep", _measure_grid_cell, lambda sweep, records: _critical(sweep, records, False),
                   cells=lambda sweep: list(sweep.cells()), key=cell_id,
                   cost=lambda sweep, spec: _module("cell").progress_total(spec),
                   group=_lazy("cell", "group_key"), measure_group=_measure_grid_group)
#: as `sweep`, with regimes read at a single depth too
PHASE = dataclasses.replace(SWEEP, name="phase", summarize=lambda sweep, records: _critical(sweep, records, True))


def run_sweep(sweep: SweepSpec, *, out: Path | None = None, resume: bool = False, progress: Progress = None,
              on_cell: Callable[[Record, bool], None] | None = None, executor: Any = None) -> list[Record]:
    """Measure every cell of a sweep (skipping those already in `out` when resuming); a cell too
    big for the device is refused before anything runs."""
    from resnet_scale_cli.resources import check_fits

    for cell in sweep.cells():
        check_fits(cell)
    store = ResultStore(out, {"sweep": sweep.to_dict()}, resume, cell_key) if out is not None else None
    return measure(SWEEP, sweep, store=store, executor=executor, progress=progress, on_cell=on_cell)


def progress_total(sweep: SweepSpec) -> int:
    """Layers a run of `sweep` reports."""
    return total_cost(SWEEP, sweep)


# ----------------------------------------------------------------------------- train
def _train_timing(document: dict[str, Any]) -> dict[str, Any]:
    """`results[].info.seconds` (each depth's training time) moves to `run_info.seconds`: it records
    time, so that summaries of the same run compare equal without `run_info`."""
    seconds = []
    for row in document.get("results", []):
        info = row.get("info")
        if isinstance(info, dict) and "seconds" in info:
            seconds.append({"depth": row.get("depth"), "seconds": info["seconds"]})
            row["info"] = {k: v for k, v in info.items() if k != "seconds"}
    return {"seconds": seconds}


def _preflight_depths(module: str) -> Callable[[Any], list[int]]:
    """The depths of the spec, each refused before anything runs when its cell does not fit
    (`experiments.<module>.preflight`)."""

    def cells(spec: Any) -> list[int]:
        _module(module).preflight(spec)
        return list(spec.depths)

    return cells


#: one cell per depth; progress in training steps
TRAIN = Experiment("train", lambda spec, depth, p: _module("training").measure_training_cell(spec, depth, progress=p),
                   _lazy("training", "summarize_training"), cells=_preflight_depths("training_spec"),
                   cost=lambda spec, depth: spec.steps, timing=_train_timing)

# ----------------------------------------------------------------------------- inspect, adjoint
#: a user's residual block over depths × β (cells keyed like the built-in grid's)
INSPECT = Experiment("inspect", _lazy("inspect_block", "measure_grid_cell"), _lazy("inspect_block", "summarize_inspect"),
                     cells=_lazy("inspect_block", "grid_cells"), key=lambda cell: cell,
                     cost=_lazy("inspect_block", "cell_cost"))
#: exact and memory-free backpropagation, one cell per depth N; progress in layers (N per cell)
ADJOINT = Experiment("adjoint", _lazy("adjoint", "measure_adjoint_cell"), _lazy("adjoint", "summarize_adjoint"),
                     cells=_preflight_depths("adjoint"))


# ----------------------------------------------------------------------------- limit, spectrum
def _limit_cells(spec: Any) -> list[int]:
    """The depths of `rscale limit`; a depth whose single draw does not fit the device is refused
    before anything runs (one line naming the estimate and the flags that reduce it)."""
    from resnet_scale_cli.resources import Need, available_bytes, check_need

    device = str(spec.torch_device())
    free = available_bytes(device)
    for depth in spec.depths:
        need = Need(_module("limit").draw_bytes(spec, depth),
                    f"--depth {depth} --width {spec.width} --refinement {spec.refinement}: one draw",
                    "its weights, L·d² numbers each, and one block of fine step matrices", "--depth, --width or --refinement")
        check_need(need, memory_gb=spec.memory_gb, device=device, available=free)
    return list(spec.depths)


#: distance to the continuous-depth limit against L
LIMIT = Experiment("limit", _lazy("limit", "measure_limit_cell"), _lazy("limit", "summarize_limit"), cells=_limit_cells,
                   cost=_lazy("limit", "cell_cost"))
#: singular values of J_L = ∂h_L/∂h_0 per (law setting, width, depth) × β
SPECTRUM = Experiment("spectrum", _lazy("spectrum", "measure_spectrum_cell"), _lazy("spectrum", "summarize_spectrum"),
                      cells=_lazy("spectrum", "spectrum_cells"), key=lambda cell: cell, cost=_lazy("spectrum", "cell_cost"))

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (SWEEP, PHASE, TRAIN, INSPECT, ADJOINT, LIMIT, SPECTRUM)}
