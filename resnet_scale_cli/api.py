"""The library functions behind the commands: each command parses its flags into a spec, calls
one of these, and renders what it returns. A Python user calls the same functions.

- `run(spec)`: one depth, every β (`rscale run`);
- `sample(sweep, lags)`: weights against their law's theory (`rscale sample`);
- `grid_study(command, sweep, out=…, resume=…)`: a grid of cells, analysed, with its JSON
  document, written to `out` as it goes (`rscale sweep`, `rscale phase`);
- `run_checks(checks, …)`: check files (`rscale check`, in `checks.runner`);
- `run_experiment(INSPECT, spec, out=…, resume=…)`: a user's block over depths × β (`rscale inspect`).
- `adjoint(spec, out=…, resume=…)`: memory-free backpropagation against depth (`rscale adjoint`).
- `run_experiment(LIMIT, spec, out=…, resume=…)`: distance to the continuous-depth limit
  against L, and its rate (`rscale limit`, `experiments.limit`).
- `run_experiment(SPECTRUM, spec, out=…, resume=…)`: singular values of ∂h_L/∂h_0 across depth
  and β, regimes and critical β from log σ_max (`rscale spectrum`, `experiments.spectrum`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from resnet_scale_cli.checks.runner import CheckRun, load_checks, run_checks, total_layers  # noqa: F401  (re-exported)
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.spec import RunSpec

Progress = Callable[[int], None] | None


def run(spec: RunSpec, progress: Progress = None):
    """Measure one cell (every β at depth L) and summarize it per β: a `RunResult`."""
    from resnet_scale_cli.experiments.cell import run as run_cell
    from resnet_scale_cli.resources import check_fits

    check_fits(spec)
    return run_cell(spec, progress)


@dataclass
class SampleResult:
    """`rscale sample`: per law setting, its label, spec and weight statistics."""

    settings: list[tuple[str, RunSpec, dict[str, Any]]]

    def document(self) -> dict[str, Any]:
        from resnet_scale_cli.report.documents import sample_document, versions

        base = self.settings[0][1]
        keep = ("law", "dist", "fbm_backend", "depth", "width", "seed", "device", "dtype")
        return {
            "command": "sample",
            "spec": {k: v for k, v in base.to_dict().items() if k in keep}
            | {"device": str(base.torch_device()), "draws": base.samples,
               "entry_paths": int(self.settings[0][2]["paths"].shape[0])},
            "settings": [sample_document(s, stats) for _, s, stats in self.settings],
            "versions": versions(),
        }


def sample(sweep, lags: int = 10) -> SampleResult:
    """Draw each law setting's weights and compare their autocovariance with theory."""
    from resnet_scale_cli.experiments.sample import weight_statistics
    from resnet_scale_cli.laws import LAWS

    if lags < 0:
        raise SpecError(f"--lags must be at least 0, got {lags}")
    return SampleResult([(LAWS[s.law].label(s.law_settings()), s, weight_statistics(s, lags)) for s in sweep.settings()])


#: default depths and β of the grid commands
GRID_DEFAULTS = {"sweep": ("100,300,1000", "0.25,0.5,1", {}), "phase": ("100,300,1000,3000", "0:1.3:27", {"samples": 24})}


@dataclass
class GridStudy:
    """A measured grid: its records (one per cell), the critical-β analysis per law setting,
    and the JSON document (also written as `<out>/summary.json`)."""

    command: str
    sweep: Any
    records: list[dict[str, Any]]
    critical: list[dict[str, Any]]
    document: dict[str, Any]
    out: Path | None
    elapsed_seconds: float = 0.0
    figures: list[Path] = field(default_factory=list)


def grid_study(command: str, sweep, *, out: str | Path | None = None, resume: bool = False,
               progress: Progress = None, executor=None) -> GridStudy:
    """Measure every cell of `sweep` (resumable in `out`), read regimes and the critical β per
    law setting and width from the depth trend (two depths or more; a phase diagram at a single
    depth reads regimes from the log-ratio thresholds instead), and build the document of `command`.
    `executor` runs the cells (serial by default; `sweep.distributed.DaskExecutor` on a cluster)."""
    from resnet_scale_cli.analysis import analyze
    from resnet_scale_cli.report.documents import grid_document
    from resnet_scale_cli.sweep import RESULTS, SUMMARY, run_sweep, write_atomic
    from resnet_scale_cli.sweep.executors import run_info

    out = Path(out) if out else None
    if resume and out is None:
        raise SpecError("--resume needs --out (the folder of the sweep to resume)")
    start = time.perf_counter()
    try:
        records = run_sweep(sweep, out=out, resume=resume, progress=progress, executor=executor)
    except KeyboardInterrupt:
        if out is not None:
            sys.stderr.write(f"rscale: interrupted; finished cells are in {out / RESULTS}: rerun with --resume\n")
        raise
    critical = analyze(records, seed=sweep.base.seed) if len(sweep.depths) > 1 or command == "phase" else []
    document = grid_document(command, sweep, records, critical) | {"run_info": run_info(executor)}
    if out is not None:
        write_atomic(out / SUMMARY, json.dumps(document, indent=2, allow_nan=False) + "\n")
    return GridStudy(command, sweep, records, critical, document, out, time.perf_counter() - start)


@dataclass(frozen=True)
class Experiment:
    """A measurement over a grid of cells (depths by default) that any grid command can run:
    `measure(spec, cell, progress)` → a JSON-ready record whose "cell" holds the cell's
    coordinates; `summarize(spec, records)` → the document's fields beyond `spec` (rates,
    fits, …), from the records alone (so a resumed run summarizes identically)."""

    name: str
    measure: Callable[[Any, Any, Progress], dict[str, Any]]
    summarize: Callable[[Any, list[dict[str, Any]]], dict[str, Any]]
    cells: Callable[[Any], list[Any]] = lambda spec: list(spec.depths)
    key: Callable[[Any], dict[str, Any]] = lambda depth: {"depth": int(depth)}
    cost: Callable[[Any, Any], int] = lambda spec, cell: int(cell)
    #: takes the fields that record time out of the document (in place) and returns them for `run_info`
    timing: Callable[[dict[str, Any]], dict[str, Any]] | None = None


@dataclass
class ExperimentResult:
    records: list[dict[str, Any]]
    document: dict[str, Any]
    out: Path | None
    elapsed_seconds: float


def run_experiment(experiment: Experiment, spec, *, out: str | Path | None = None, resume: bool = False,
                   progress: Progress = None, executor=None) -> ExperimentResult:
    """Measure every cell of `spec` with `experiment` (streamed to `out`, resumable), summarize,
    and write `<out>/summary.json`: the document `rscale <experiment.name> --json` prints."""
    from resnet_scale_cli.report.documents import versions
    from resnet_scale_cli.sweep import SUMMARY, ResultStore, cell_key, run_grid, write_atomic
    from resnet_scale_cli.sweep.executors import run_info

    out = Path(out) if out else None
    if resume and out is None:
        raise SpecError("--resume needs --out (the folder of the run to resume)")
    start = time.perf_counter()
    store = ResultStore(out, {experiment.name: spec.to_dict()}, resume, cell_key) if out is not None else None
    records = run_grid(experiment.cells(spec), lambda cell, p: experiment.measure(spec, cell, p), key=experiment.key,
                       store=store, executor=executor, cost=lambda cell: experiment.cost(spec, cell), progress=progress)
    document = {"command": experiment.name, "spec": spec.to_dict(), **experiment.summarize(spec, records),
                "versions": versions()}
    document["run_info"] = run_info(executor) | (experiment.timing(document) if experiment.timing else {})
    if out is not None:
        write_atomic(out / SUMMARY, json.dumps(document, indent=2, allow_nan=False) + "\n")
    return ExperimentResult(records, document, out, time.perf_counter() - start)


def total_cost(experiment: Experiment, spec) -> int:
    """Units of progress a run of `experiment` reports (for the progress bar)."""
    return sum(experiment.cost(spec, cell) for cell in experiment.cells(spec))


# ----------------------------------------------------------------------------- rscale train
#: training checkpoints of `rscale train`, under --out
CHECKPOINTS = "checkpoints"


def _measure_train(spec, depth, progress: Progress) -> dict[str, Any]:
    from resnet_scale_cli.experiments.training import measure_training_cell

    return measure_training_cell(spec, depth, progress=progress)


def _summarize_train(spec, records: list[dict[str, Any]]) -> dict[str, Any]:
    from resnet_scale_cli.experiments.training import summarize_training

    return summarize_training(spec, records)


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


#: one cell per depth; progress in training steps
TRAIN = Experiment("train", _measure_train, _summarize_train, cost=lambda spec, depth: spec.steps, timing=_train_timing)


def train(spec, *, out: str | Path | None = None, resume: bool = False, progress: Progress = None,
          checkpoint_every: int = 100, executor=None) -> ExperimentResult:
    """`rscale train`: train `spec.samples` networks at every depth of a `TrainSpec`, fit the
    exponent of max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ against L, and build the document.

    With `out`, finished depths stream to `<out>/results.jsonl` and the depth in training is
    checkpointed every `checkpoint_every` steps to `<out>/checkpoints/train-L<depth>.pt`
    (weights, optimizer and RNG states); `resume` skips the finished depths and continues the
    interrupted one from its checkpoint, ending bit-identical (same device) to an uninterrupted run.
    On a cluster (`executor`), each depth is a task and its worker writes the checkpoints: `out`
    must then be on a file system the workers share.
    """
    import dataclasses
    import functools

    from resnet_scale_cli.experiments.training import measure_training_cell

    experiment = TRAIN
    if out is not None:
        folder = Path(out) / CHECKPOINTS
        if not resume and folder.is_dir() and any(folder.glob("train-L*.pt")):
            raise SpecError(f"--out {out}: holds training checkpoints already; add --resume to continue them or "
                            "choose another folder")
        measure = functools.partial(measure_training_cell, checkpoint_dir=folder, checkpoint_every=checkpoint_every)
        experiment = dataclasses.replace(TRAIN, measure=lambda s, depth, p: measure(s, depth, progress=p))
    try:
        return run_experiment(experiment, spec, out=out, resume=resume, progress=progress, executor=executor)
    except KeyboardInterrupt:
        if out is not None:
            sys.stderr.write(f"rscale: interrupted; finished depths are in {Path(out)}, the depth in training is "
                             f"checkpointed every {checkpoint_every} steps: rerun with --resume\n")
        raise


# ----------------------------------------------------------------------------- rscale inspect
def _inspect_function(name: str) -> Callable[..., Any]:
    """A function of `experiments.inspect_block`, imported on first call (torch stays off --help)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        from resnet_scale_cli.experiments import inspect_block

        return getattr(inspect_block, name)(*args, **kwargs)

    return call


#: `rscale inspect`: a user's residual block over depths × β (cells keyed like the built-in grid's)
INSPECT = Experiment("inspect", _inspect_function("measure_grid_cell"), _inspect_function("summarize_inspect"),
                     cells=_inspect_function("grid_cells"), key=lambda cell: cell, cost=_inspect_function("cell_cost"))


# ----------------------------------------------------------------------------- rscale adjoint
def _measure_adjoint(spec, depth, progress: Progress) -> dict[str, Any]:
    from resnet_scale_cli.experiments.adjoint import measure_adjoint_cell

    return measure_adjoint_cell(spec, depth, progress)


def _summarize_adjoint(spec, records: list[dict[str, Any]]) -> dict[str, Any]:
    from resnet_scale_cli.experiments.adjoint import summarize_adjoint

    return summarize_adjoint(spec, records)


#: one cell per depth N; progress in layers (N per cell)
ADJOINT = Experiment("adjoint", _measure_adjoint, _summarize_adjoint)


def adjoint(spec, *, out: str | Path | None = None, resume: bool = False, progress: Progress = None,
            executor=None) -> ExperimentResult:
    """`rscale adjoint`: exact and memory-free (reverse Euler / reverse Heun) backpropagation at
    every depth of an `AdjointSpec`, their errors and peak memory, and the rates against N."""
    return run_experiment(ADJOINT, spec, out=out, resume=resume, progress=progress, executor=executor)


# ----------------------------------------------------------------------------- rscale limit
def _limit(name: str) -> Callable[..., Any]:
    """A function of `experiments.limit`, imported on first call (no torch at import time)."""

    def call(*args: Any) -> Any:
        from resnet_scale_cli.experiments import limit

        return getattr(limit, name)(*args)

    return call


def _limit_cells(spec) -> list[int]:
    """The depths of `rscale limit`; a depth whose single draw does not fit the device is refused
    before anything runs (one line naming the estimate and the flags that reduce it)."""
    from resnet_scale_cli.experiments.limit import draw_bytes
    from resnet_scale_cli.resources import GB, available_bytes

    free = available_bytes(str(spec.torch_device()))
    for depth in spec.depths:
        need = draw_bytes(spec, depth)
        if free is not None and need > free:
            raise SpecError(f"--depth {depth} --width {spec.width} --refinement {spec.refinement}: one draw needs about "
                            f"{need / GB:.3g} GB, more than the {free / GB:.3g} GB free; reduce --depth, --width or "
                            "--refinement")
    return list(spec.depths)


#: `rscale limit`: distance to the continuous-depth limit against L (experiments.limit)
LIMIT = Experiment("limit", _limit("measure_limit_cell"), _limit("summarize_limit"), cells=_limit_cells,
                   cost=_limit("cell_cost"))


# ----------------------------------------------------------------------------- rscale spectrum
def _spectrum(name: str) -> Callable[..., Any]:
    """A function of `experiments.spectrum`, imported on first call (no torch at import time)."""

    def call(*args: Any) -> Any:
        from resnet_scale_cli.experiments import spectrum

        return getattr(spectrum, name)(*args)

    return call


#: `rscale spectrum`: singular values of J_L = ∂h_L/∂h_0 per (law setting, width, depth) × β
SPECTRUM = Experiment("spectrum", _spectrum("measure_spectrum_cell"), _spectrum("summarize_spectrum"),
                      cells=_spectrum("spectrum_cells"), key=lambda cell: cell, cost=_spectrum("cell_cost"))
