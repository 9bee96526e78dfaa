"""The library functions behind the commands: each command parses its flags into a spec, calls
one of these, and renders what it returns. A Python user calls the same functions.

Keyword front ends, one per command, take the settings under their flag names (grids as lists or
grid strings) and return a result with `.to_pandas()` (one row per cell × β × sample, the table of
`<out>/results.parquet`) and `.figure()` (the `--plot` figure, a matplotlib Figure):

- `run(law=…, depth=…, beta=[…])` or `run(spec)`: one depth, every β (`rscale run`);
- `sample(law=…, hurst=[…])` or `sample(sweep, lags)`: weights against their law's theory;
- `sweep(depth=[…], beta=[…])`, `phase(…)`: grids of cells, analysed (`grid_study(command, sweep_spec)`
  with a `SweepSpec`);
- `limit(…)`, `spectrum(…)`, `adjoint(…)`, `train(…)`, `inspect(block, …)`: the experiments
  (`run_experiment(LIMIT, spec)`, … with their spec classes; `EXPERIMENTS` by command name,
  from `experiments.registry`);
- `run_checks(checks, …)`: check files (`rscale check`, in `checks.runner`).

`out=` streams every finished cell to `<out>/results.jsonl` and writes results.parquet and
summary.json at the end; `resume=True` continues an interrupted run.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_scale_cli.checks.runner import CheckRun, load_checks, run_checks, total_layers  # noqa: F401  (re-exported)
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.protocol import Experiment, Progress, measure, total_cost  # noqa: F401  (re-exported)
from resnet_scale_cli.experiments.registry import (  # noqa: F401  (re-exported)
    ADJOINT, EXPERIMENTS, INSPECT, LIMIT, SPECTRUM, TRAIN, run_sweep)
from resnet_scale_cli.spec import RunSpec


def run(spec: RunSpec | None = None, progress: Progress = None, *, out: str | Path | None = None,
        **settings: Any) -> "RunStudy":
    """Measure one cell (every β at depth L) and summarize it per β: a `RunStudy` (a `RunResult`
    with `.to_pandas()`, `.document()` and `.figure()`). Without `spec`, the keyword `settings`
    build it as `rscale run`'s flags do (`run(law="fbm", hurst=0.3, depth=1000, beta=[0.25, 0.5])`).
    With `out`, the folder gets results.jsonl, results.parquet and summary.json."""
    from resnet_scale_cli.experiments.cell import run as run_cell
    from resnet_scale_cli.resources import check_fits

    if spec is None:
        from resnet_scale_cli.settings import build_spec

        spec = build_spec(None, _flag_names(settings))
    elif settings:
        raise SpecError(f"run: give a spec or settings, not both ({', '.join(settings)})")
    check_fits(spec)
    out = Path(out) if out else None
    store = None
    if out is not None:
        from resnet_scale_cli.sweep import ResultStore, cell_key

        store = ResultStore(out, {"run": spec.to_dict()}, False, cell_key)  # refuses a folder with results
    study = RunStudy(run_cell(spec, progress))
    if store is not None:
        summary = {k: v for k, v in study.document().items() if k != "elapsed_seconds"}
        _finish_folder(out, store, [study.record()], {"run": spec.to_dict()}, summary)
    return study


def _flag_names(settings: dict[str, Any]) -> dict[str, Any]:
    """Keyword settings under their flag names (`depths=` → `depth`, …); tuples become lists
    (what the grid parsers take)."""
    from resnet_scale_cli.laws import law_parameters

    plural = {"depths": "depth", "betas": "beta", "widths": "width"} | {p + "s": p for p in law_parameters()}
    return {plural.get(k, k): list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def _finish_folder(out: Path, store: Any, records: list[dict[str, Any]], settings: dict[str, Any],
                   document: dict[str, Any]) -> None:
    """A one-shot command's --out folder: its record(s), the tidy table and summary.json."""
    from resnet_scale_cli.report.documents import versions
    from resnet_scale_cli.report.frames import write_table
    from resnet_scale_cli.sweep import SUMMARY, write_atomic

    for record in records:
        store.append(record)
    write_table(out, records, settings, {"versions": versions()})
    write_atomic(out / SUMMARY, json.dumps(document, indent=2, allow_nan=False) + "\n")


def _read_through(inner: str) -> Any:
    """A class's `__getattr__`: what the instance lacks is read from its field `inner`."""

    def __getattr__(self: Any, name: str) -> Any:
        if name == inner:
            raise AttributeError(name)
        return getattr(getattr(self, inner), name)

    return __getattr__


@dataclass
class RunStudy:
    """The result of `run`: the `RunResult` (spec, measurements, per-β results, elapsed seconds;
    its attributes are read through) with the tidy table, the JSON document and the figure."""

    result: Any
    __getattr__ = _read_through("result")

    def record(self) -> dict[str, Any]:
        """The cell as a results.jsonl record (per-sample values, NaN as null)."""
        import math

        from resnet_scale_cli.sweep.grid import cell_id

        meas = self.result.measurements
        return {"cell": cell_id(self.result.spec), "betas": [float(b) for b in meas.betas],
                "inputs_per_draw": meas.info.get("inputs_per_draw"), "results": self.result.results,
                "values": {q: [[float(x) if math.isfinite(x) else None for x in row] for row in v.tolist()]
                           for q, v in meas.values.items()},
                "info": {k: meas.info.get(k) for k in ("device", "grad_method_used", "checkpoint_every")}}

    def document(self) -> dict[str, Any]:
        """`rscale run --json`."""
        from resnet_scale_cli.report.documents import run_document

        return run_document(self.result)

    def to_pandas(self):
        """One row per β × sample: law, its parameter, width, depth, beta, sample, and the log10 ratios."""
        from resnet_scale_cli.report.frames import tidy

        return tidy([self.record()], self.result.spec.to_dict())

    def figure(self):
        """The distributions over samples per β (`rscale run --plot`): a matplotlib Figure."""
        from resnet_scale_cli.report import figures

        spec = self.result.spec
        return figures.run_figure(spec.betas, self.result.measurements.values, figures.run_title(spec))


@dataclass
class SampleResult:
    """`rscale sample`: per law setting, its label, spec and weight statistics."""

    settings: list[tuple[str, RunSpec, dict[str, Any]]]

    def document(self) -> dict[str, Any]:
        from resnet_scale_cli.laws import LAWS
        from resnet_scale_cli.report.documents import sample_document, versions

        base = self.settings[0][1]
        keep = {"law", "depth", "width", "seed", "device", "dtype"} | {  # and the law settings a sample does not vary
            s.name for law in LAWS.values() for s in law.parameters if s.name != law.parameter}
        return {
            "command": "sample",
            "spec": {k: v for k, v in base.to_dict().items() if k in keep}
            | {"device": str(base.torch_device()), "draws": base.samples,
               "entry_paths": int(self.settings[0][2]["paths"].shape[0])},
            "settings": [sample_document(s, stats) for _, s, stats in self.settings],
            "versions": versions(),
        }

    def to_pandas(self):
        """One row per law setting × lag: law, its parameter, width, depth, lag, and the
        autocovariance across depth (empirical, its standard error, theory)."""
        from resnet_scale_cli.report.frames import sample_table

        return sample_table(self)

    def figure(self, paths: int = 3):
        """Entry paths and autocovariance per law setting (`rscale sample --plot`)."""
        from resnet_scale_cli.report import figures

        return figures.sample_figure([(label, stats) for label, _, stats in self.settings], figures.sample_title(self),
                                     paths)


def sample(sweep=None, lags: int = 10, **settings: Any) -> SampleResult:
    """Draw each law setting's weights and compare their autocovariance with theory. Without
    `sweep`, keyword settings build it as `rscale sample`'s flags do (`sample(law="fbm",
    hurst=[0.2, 0.8], depth=1000)`; `draws` counts weight draws)."""
    from resnet_scale_cli.experiments.sample import weight_statistics
    from resnet_scale_cli.laws import LAWS

    if sweep is None:
        from resnet_scale_cli.settings import sample_sweep

        sweep = sample_sweep(None, _flag_names(settings))
    elif settings:
        raise SpecError(f"sample: give a sweep or settings, not both ({', '.join(settings)})")

    from resnet_scale_cli.resources import check_need, sample_need

    if lags < 0:
        raise SpecError(f"--lags must be at least 0, got {lags}")
    for s in sweep.settings():
        check_need(sample_need(s), memory_gb=s.memory_gb, device=str(s.torch_device()))
    return SampleResult([(LAWS[s.law].label(s.law_settings()), s, weight_statistics(s, lags)) for s in sweep.settings()])


#: default depths and β of the grid commands
from resnet_scale_cli.settings import GRID_DEFAULTS  # noqa: E402  (the grid commands' defaults, written once)


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

    def to_pandas(self):
        """One row per cell × β × sample (the table of `<out>/results.parquet`)."""
        from resnet_scale_cli.report.frames import tidy

        return tidy(self.records, self.sweep.to_dict())

    def figure(self):
        """The figure of `rscale sweep --plot` (curves against L) or `rscale phase --plot`."""
        from resnet_scale_cli.report.figures import grid_figure

        return grid_figure(self.command, self.sweep, self.records, self.document["critical"])


def grid_study(command: str, sweep, *, out: str | Path | None = None, resume: bool = False,
               progress: Progress = None, executor=None) -> GridStudy:
    """Measure every cell of `sweep` (resumable in `out`), read regimes and the critical β per
    law setting and width from the depth trend (two depths or more; a phase diagram at a single
    depth reads regimes from the log-ratio thresholds instead), and build the document of `command`.
    `executor` runs the cells (serial by default; `sweep.distributed.DaskExecutor` on a cluster)."""
    from resnet_scale_cli.report.documents import grid_document
    from resnet_scale_cli.sweep import RESULTS, SUMMARY, write_atomic
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
    critical = EXPERIMENTS[command].summarize(sweep, records)["critical"]
    document = grid_document(command, sweep, records, critical) | {"run_info": run_info(executor)}
    if out is not None:
        from resnet_scale_cli.report.frames import write_table

        write_table(out, records, {"sweep": sweep.to_dict()}, {"command": command, "versions": document["versions"]})
        write_atomic(out / SUMMARY, json.dumps(document, indent=2, allow_nan=False) + "\n")
    return GridStudy(command, sweep, records, critical, document, out, time.perf_counter() - start)


@dataclass
class ExperimentResult:
    """A measured experiment: its records (one per cell), its JSON document (`rscale <command>
    --json`, `<out>/summary.json`), the folder and the time taken."""

    records: list[dict[str, Any]]
    document: dict[str, Any]
    out: Path | None
    elapsed_seconds: float

    @property
    def command(self) -> str:
        return self.document["command"]

    def to_pandas(self):
        """One row per cell × β × sample (the table of `<out>/results.parquet`)."""
        from resnet_scale_cli.report.frames import tidy

        return tidy(self.records, self.document["spec"])

    def figure(self):
        """The figure of `rscale <command> --plot` (train: the smoothness figure)."""
        from resnet_scale_cli.report.figures_experiments import experiment_figure

        return experiment_figure(self.command, self.document, self.records)


def run_experiment(experiment: Experiment, spec, *, out: str | Path | None = None, resume: bool = False,
                   progress: Progress = None, executor=None) -> ExperimentResult:
    """Measure every cell of `spec` with `experiment` (streamed to `out`, resumable), summarize,
    and write `<out>/summary.json`: the document `rscale <experiment.name> --json` prints."""
    from resnet_scale_cli.report.documents import versions
    from resnet_scale_cli.sweep import SUMMARY, ResultStore, cell_key, write_atomic
    from resnet_scale_cli.sweep.executors import run_info

    out = Path(out) if out else None
    if resume and out is None:
        raise SpecError("--resume needs --out (the folder of the run to resume)")
    start = time.perf_counter()
    store = ResultStore(out, {experiment.name: spec.to_dict()}, resume, cell_key) if out is not None else None
    records = measure(experiment, spec, store=store, executor=executor, progress=progress)
    document = {"command": experiment.name, "spec": spec.to_dict(), **experiment.summarize(spec, records),
                "versions": versions()}
    document["run_info"] = run_info(executor) | (experiment.timing(document) if experiment.timing else {})
    if out is not None:
        from resnet_scale_cli.report.frames import write_table

        write_table(out, records, {experiment.name: spec.to_dict()}, {"versions": document["versions"]})
        write_atomic(out / SUMMARY, json.dumps(document, indent=2, allow_nan=False) + "\n")
    return ExperimentResult(records, document, out, time.perf_counter() - start)


# ----------------------------------------------------------------------------- rscale train
#: training checkpoints of `rscale train`, under --out
CHECKPOINTS = "checkpoints"


def train(spec=None, *, out: str | Path | None = None, resume: bool = False, progress: Progress = None,
          checkpoint_every: int = 100, executor=None, **settings: Any) -> ExperimentResult:
    """`rscale train`: train `spec.samples` networks at every depth of a `TrainSpec`, fit the
    exponent of max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ against L, and build the document.

    With `out`, finished depths stream to `<out>/results.jsonl` and the depth in training is
    checkpointed every `checkpoint_every` steps to `<out>/checkpoints/train-L<depth>.pt`
    (weights, optimizer and RNG states); `resume` skips the finished depths and continues the
    interrupted one from its checkpoint, ending bit-identical (same device) to an uninterrupted run.
    On a cluster (`executor`), each depth is a task and its worker writes the checkpoints: `out`
    must then be on a file system the workers share. Without `spec`, keyword settings build a
    `TrainSpec` as `rscale train`'s flags do (`train(law="tied", depth=[8, 16, 32], steps=300)`).
    """
    import dataclasses
    import functools

    from resnet_scale_cli.experiments.training import measure_training_cell

    if spec is None:
        from resnet_scale_cli.experiments.training_spec import TrainSpec

        spec = _experiment_spec(TrainSpec, settings)
    experiment = TRAIN
    if out is not None:
        folder = Path(out) / CHECKPOINTS
        if not resume and folder.is_dir() and any(folder.glob("train-L*.pt")):
            raise SpecError(f"--out {out}: holds training checkpoints already; add --resume to continue them or "
                            "choose another folder")
        train_cell = functools.partial(measure_training_cell, checkpoint_dir=folder, checkpoint_every=checkpoint_every)
        experiment = dataclasses.replace(TRAIN, measure=lambda s, depth, p: train_cell(s, depth, progress=p))
    try:
        return run_experiment(experiment, spec, out=out, resume=resume, progress=progress, executor=executor)
    except KeyboardInterrupt:
        if out is not None:
            sys.stderr.write(f"rscale: interrupted; finished depths are in {Path(out)}, the depth in training is "
                             f"checkpointed every {checkpoint_every} steps: rerun with --resume\n")
        raise


def adjoint(spec=None, *, out: str | Path | None = None, resume: bool = False, progress: Progress = None,
            executor=None, **settings: Any) -> ExperimentResult:
    """`rscale adjoint`: exact and memory-free (reverse Euler / reverse Heun) backpropagation at
    every depth of an `AdjointSpec`, their errors and peak memory, and the rates against N.
    Without `spec`, keyword settings build it (`adjoint(net="heunnet", law="rbf", depth=[16, 32, 64])`)."""
    if spec is None:
        from resnet_scale_cli.experiments.adjoint import AdjointSpec

        spec = _experiment_spec(AdjointSpec, settings)
    return run_experiment(ADJOINT, spec, out=out, resume=resume, progress=progress, executor=executor)


# ----------------------------------------------------------------------------- keyword front ends
def _experiment_spec(cls: type, settings: dict[str, Any]):
    """An experiment's spec from keyword settings named as its flags (`depth`, `beta`, …; the
    field names `depths`, `betas` work too); lists and grid strings both work."""
    from resnet_scale_cli.settings import build_experiment_spec

    import dataclasses

    fields = {f.name for f in dataclasses.fields(cls)}
    aliases = {k: k + "s" for k in ("depth", "beta") if k + "s" in fields and k not in fields}
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
    spec, outputs = build_experiment_spec(cls, None, plain, aliases=aliases, outputs=())
    return spec


def _grid(command: str, settings: dict[str, Any], out, resume: bool, progress: Progress, executor) -> GridStudy:
    from resnet_scale_cli.settings import build_sweep

    depths, betas, defaults = GRID_DEFAULTS[command]
    sweep_spec, _ = build_sweep(None, _flag_names(settings), depths=depths, betas=betas, defaults=defaults)
    return grid_study(command, sweep_spec, out=out, resume=resume, progress=progress, executor=executor)


def sweep(*, out: str | Path | None = None, resume: bool = False, progress: Progress = None, executor=None,
          **settings: Any) -> GridStudy:
    """`rscale sweep` from keyword settings named as its flags, e.g.
    `sweep(law="iid", depth=[100, 300], beta=[0.25, 0.5, 1], samples=16)`; grids as lists or
    strings ("10:1000:12:log"); defaults those of the command (depth 100,300,1000, β 0.25,0.5,1)."""
    return _grid("sweep", settings, out, resume, progress, executor)


def phase(*, out: str | Path | None = None, resume: bool = False, progress: Progress = None, executor=None,
          **settings: Any) -> GridStudy:
    """`rscale phase` from keyword settings (`phase(hurst=[0.3, 0.7], depth=[100, 1000], beta="0:1.3:14")`);
    defaults those of the command (depth 100,300,1000,3000, β 0:1.3:27, 24 samples)."""
    return _grid("phase", settings, out, resume, progress, executor)


def limit(*, out: str | Path | None = None, resume: bool = False, progress: Progress = None, executor=None,
          **settings: Any) -> ExperimentResult:
    """`rscale limit` from keyword settings (`limit(law="rbf", depth=[100, 300, 1000], samples=8)`):
    the distance to the continuous-depth limit against L and its rate."""
    from resnet_scale_cli.experiments.limit import LimitSpec

    return run_experiment(LIMIT, _experiment_spec(LimitSpec, settings), out=out, resume=resume, progress=progress,
                          executor=executor)


def spectrum(*, out: str | Path | None = None, resume: bool = False, progress: Progress = None, executor=None,
             **settings: Any) -> ExperimentResult:
    """`rscale spectrum` from keyword settings (`spectrum(depth=[100, 300], beta=[0.25, 0.5, 1], width=16)`):
    singular values of ∂h_L/∂h_0 over depths × β."""
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec

    return run_experiment(SPECTRUM, _experiment_spec(SpectrumSpec, settings), out=out, resume=resume,
                          progress=progress, executor=executor)


def inspect(block: str, *, out: str | Path | None = None, resume: bool = False, progress: Progress = None,
            executor=None, **settings: Any) -> ExperimentResult:
    """`rscale inspect BLOCK` from keyword settings (`inspect("examples/blocks.py:mlp", width=32,
    depth=[100, 300], beta=[0.25, 0.5, 1])`): the user's residual branch over depths × β. The
    block's module is imported and run as Python code."""
    from resnet_scale_cli.experiments.inspect_block import InspectSpec

    return run_experiment(INSPECT, _experiment_spec(InspectSpec, {"block": block, **settings}), out=out,
                          resume=resume, progress=progress, executor=executor)


@dataclass
class CheckStudy:
    """The result of `check`: the `CheckRun` (documents, baseline, passed, …; read through) with
    its table."""

    outcome: Any
    __getattr__ = _read_through("outcome")

    def to_pandas(self):
        """One row per check file × expectation: check, type, passed, measured, message."""
        from resnet_scale_cli.report.frames import check_table

        return check_table(self.outcome)


def check(*files: str, seed: int | None = None, device: str | None = None, progress: Progress = None,
          **options: Any) -> CheckStudy:
    """`rscale check FILE…`: run check files (`baseline=`, `update_baseline=`, `confidence=`,
    `junit=` as `run_checks` takes them); `.passed` says whether every expectation held."""
    checks = load_checks(list(files), seed=seed, device=device)
    return CheckStudy(run_checks(checks, progress=progress, **options))
