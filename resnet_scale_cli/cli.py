"""The `rscale` command line: thin commands that parse, call the library, and print.

Exit codes: 0 ok, 1 a check failed, 2 bad usage or input (one line on stderr), 3 internal error.
`--json` prints one JSON document on stdout; progress goes to stderr, on a terminal only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

try:  # typer >= 0.22 vendors its own click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from resnet_scale_cli import __version__
from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import DISTS, FBM_BACKENDS, LAWS
from resnet_scale_cli.spec import DEVICES, DTYPES, GRAD_METHODS, RunSpec, spec_from_mapping

app = typer.Typer(
    name="rscale",
    help="Depth-scaling stability of deep residual networks h_{k+1} = h_k + L^-β f(h_k, θ_{k+1}).",
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)

DEFAULT = RunSpec()


def _choices(names) -> str:
    return "|".join(names)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rscale {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """rscale: will a ResNet of depth L with residual scaling L^-β explode, collapse to the identity, or stay stable?"""


# ----------------------------------------------------------------------------- shared options
LawOpt = Annotated[Optional[str], typer.Option("--law", help=f"Weight law across depth: {_choices(LAWS)}. [default: {DEFAULT.law}]", show_default=False)]
DistOpt = Annotated[Optional[str], typer.Option("--dist", help=f"iid entry law: {_choices(DISTS)}. [default: {DEFAULT.dist}]", show_default=False)]
LengthscaleOpt = Annotated[Optional[float], typer.Option("--lengthscale", help=f"RBF lengthscale ℓ > 0 (on depth scaled to [0,1]). [default: {DEFAULT.lengthscale}]", show_default=False)]
HurstOpt = Annotated[Optional[float], typer.Option("--hurst", help=f"fBm Hurst index H in (0,1). [default: {DEFAULT.hurst}]", show_default=False)]
BackendOpt = Annotated[Optional[str], typer.Option("--fbm-backend", help=f"fGn sampler: {_choices(FBM_BACKENDS)} (fbm = the PyPI package, one path at a time, reference). [default: torch]", show_default=False)]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help=f"Residual f: {_choices(MODELS)}. [default: {DEFAULT.model}]", show_default=False)]
ActivationOpt = Annotated[Optional[str], typer.Option("--activation", help=f"σ: {_choices(ACTIVATIONS)}. [default: {DEFAULT.activation}]", show_default=False)]
DepthOpt = Annotated[Optional[int], typer.Option("--depth", "-L", help=f"Depth L. [default: {DEFAULT.depth}]", show_default=False)]
WidthOpt = Annotated[Optional[int], typer.Option("--width", "-d", help=f"Width d. [default: {DEFAULT.width}]", show_default=False)]
BetaOpt = Annotated[Optional[str], typer.Option("--beta", help="Scaling exponents β: comma list 0.25,0.5,1 or range start:stop:count. [default: 0.25,0.5,1]", show_default=False)]
SamplesOpt = Annotated[Optional[int], typer.Option("--samples", "-n", help=f"(weights, input) samples per β. [default: {DEFAULT.samples}]", show_default=False)]
DrawsOpt = Annotated[Optional[int], typer.Option("--draws", help="Independent weight draws the samples share (must divide --samples). [default: one per sample]", show_default=False)]
ProbesOpt = Annotated[Optional[int], typer.Option("--probes", help="Random tangent probes for an unbiased gradient estimate. [default: exact]", show_default=False)]
GradMethodOpt = Annotated[Optional[str], typer.Option("--grad-method", help=f"{_choices(GRAD_METHODS)}: auto = exact reverse pass (tangent when --probes is given). [default: auto]", show_default=False)]
GradientsOpt = Annotated[Optional[bool], typer.Option("--gradients/--no-gradients", help="Measure gradient ratios too. [default: --gradients]", show_default=False)]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Root seed; every cell and draw derives its own stream. [default: 0]", show_default=False)]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help=f"{_choices(DEVICES)}. [default: auto]", show_default=False)]
DtypeOpt = Annotated[Optional[str], typer.Option("--dtype", help=f"{_choices(DTYPES)}. [default: {DEFAULT.dtype}]", show_default=False)]
MemoryOpt = Annotated[Optional[float], typer.Option("--memory-gb", help=f"Memory budget for weights and stored activations. [default: {DEFAULT.memory_gb}]", show_default=False)]
ConfigOpt = Annotated[Optional[str], typer.Option("--config", help="TOML file of settings ('-' reads stdin); flags override it.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
PlotOpt = Annotated[Optional[str], typer.Option("--plot", help="Write a figure (.png, .pdf or .svg).", show_default=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes on stderr.")]
HurstGridOpt = Annotated[Optional[str], typer.Option("--hurst", help="fBm Hurst index H (implies --law fbm): one value, a list 0.2,0.5 or a range 0.05:0.97:24.", show_default=False)]
LengthscaleGridOpt = Annotated[Optional[str], typer.Option("--lengthscale", help="RBF lengthscale ℓ (implies --law rbf): one value, a list or a range.", show_default=False)]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR is honored too).")]


def read_config(source: str | None) -> dict[str, Any]:
    """Settings from a TOML file or stdin ('-'); errors name the file."""
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise SpecError(f"--config: cannot read {source!r}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"--config {source}: invalid TOML: {exc}") from None


def merge_settings(config: str | None, flags: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The command's defaults, overridden by the config file, overridden by the flags that were
    given (not None); `--hurst` alone implies `--law fbm` and `--lengthscale` alone `--law rbf`."""
    values = dict(defaults or {})
    values.update({k.replace("-", "_"): v for k, v in read_config(config).items()})
    given = {k: v for k, v in flags.items() if v is not None}
    values.update(given)
    if "law" not in values:
        if "hurst" in values and "lengthscale" not in values:
            values["law"] = "fbm"
        elif "lengthscale" in values and "hurst" not in values:
            values["law"] = "rbf"
    law = values.get("law")
    for key, owner in (("hurst", "fbm"), ("lengthscale", "rbf")):
        if key in given and law is not None and law != owner:
            raise SpecError(f"--{key} applies to --law {owner}, not --law {law}")
    return values


def build_spec(config: str | None, flags: dict[str, Any]) -> RunSpec:
    """A single-cell spec from the config file and flags."""
    values = merge_settings(config, flags)
    return spec_from_mapping(values, source=f"--config {config}" if config else "settings")


OUTPUT_KEYS = ("out", "resume", "plot", "plot_hist", "hist_depth", "hist_beta")


def build_sweep(config: str | None, flags: dict[str, Any], *, depths: str, betas: str,
                defaults: dict[str, Any] | None = None):
    """A sweep from the config file and flags, and the output settings (out, plot, …)."""
    from resnet_scale_cli.grids import parse_float_grid, parse_int_grid
    from resnet_scale_cli.sweep import SweepSpec, law_parameter

    values = merge_settings(config, flags, defaults)
    outputs = {k: values.pop(k) for k in OUTPUT_KEYS if k in values}
    depth_grid = parse_int_grid(values.pop("depth", depths), "--depth")
    values.setdefault("beta", betas)
    source = f"--config {config}" if config else "settings"
    law = values.get("law", RunSpec().law)
    grids = {}
    for key in ("hurst", "lengthscale"):
        if key in values:
            grids[key] = parse_float_grid(values[key], f"--{key}")
            if key != law_parameter(law) and len(grids[key]) > 1:
                raise SpecError(f"--{key} takes several values only with --law {'fbm' if key == 'hurst' else 'rbf'}")
            values[key] = grids[key][0]
    base = spec_from_mapping({**values, "depth": depth_grid[0]}, source=source)
    parameter = law_parameter(base.law)
    params = grids.get(parameter, (getattr(base, parameter),)) if parameter else ()
    return SweepSpec(base, depth_grid, params), outputs


@contextmanager
def progress_bar(total: int, description: str, enabled: bool) -> Iterator[Any]:
    """A rich progress bar with ETA on stderr, only when stderr is a terminal."""
    from resnet_scale_cli.report import make_console

    console = make_console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


# ----------------------------------------------------------------------------- commands
@app.command()
def run(
    law: LawOpt = None, dist: DistOpt = None, lengthscale: LengthscaleOpt = None, hurst: HurstOpt = None,
    fbm_backend: BackendOpt = None, model: ModelOpt = None, activation: ActivationOpt = None,
    depth: DepthOpt = None, width: WidthOpt = None, beta: BetaOpt = None, samples: SamplesOpt = None,
    draws: DrawsOpt = None, probes: ProbesOpt = None, grad_method: GradMethodOpt = None,
    gradients: GradientsOpt = None, seed: SeedOpt = None, device: DeviceOpt = None, dtype: DtypeOpt = None,
    memory_gb: MemoryOpt = None, config: ConfigOpt = None, json_out: JsonOpt = False, plot: PlotOpt = None,
    quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Measure log10 ‖h_L − h_0‖/‖h_0‖ and log10 ‖p_0 − p_L‖/‖p_L‖ at one depth, for each β."""
    flags = _setting_flags(locals())
    plot = flags.pop("plot")
    from resnet_scale_cli import experiment, plots, report

    spec = build_spec(config, flags)
    plot_path = plots.check_plot_path(plot) if plot else None
    with progress_bar(experiment.progress_total(spec), "layers", not quiet) as advance:
        result = experiment.run(spec, progress=advance)
    title = f"{plots.describe_law(spec)}, {spec.model} model, {spec.activation}, L = {spec.depth}, d = {spec.width}"
    if plot_path:
        plots.plot_run_distributions(plot_path, spec.betas, result.measurements.values, title)
    if json_out:
        report.dump_json(report.run_document(result))
        return
    console = report.make_console(stderr=False, no_color=no_color)
    console.print(report.run_table(result, title))
    info = result.measurements.info
    console.print(f"gradients: {info['grad_method_used']}; {info['draws']} draws × {info['inputs_per_draw']} inputs; "
                  f"device {info['device']}, {spec.dtype}; seed {spec.seed}; {result.elapsed_seconds:.2f} s")
    if plot_path:
        console.print(f"figure written to {plot_path}")


@app.command()
def sample(
    law: LawOpt = None, dist: DistOpt = None, lengthscale: LengthscaleGridOpt = None, hurst: HurstGridOpt = None,
    fbm_backend: BackendOpt = None, depth: DepthOpt = None, width: WidthOpt = None,
    draws: Annotated[Optional[int], typer.Option("--draws", help="Weight draws (each gives d² entry paths). [default: 1]", show_default=False)] = None,
    lags: Annotated[int, typer.Option("--lags", help="Largest lag shown.")] = 10,
    paths: Annotated[int, typer.Option("--paths", help="Entry paths drawn per law setting in the figure.")] = 3,
    seed: SeedOpt = None, device: DeviceOpt = None, dtype: DtypeOpt = None, config: ConfigOpt = None,
    json_out: JsonOpt = False, plot: PlotOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Draw weights from a law; compare their autocovariance across depth with theory.

    --hurst (or --lengthscale) takes a list, e.g. --hurst 0.2,0.5,0.8: one row per value.
    """
    from resnet_scale_cli import plots, report
    from resnet_scale_cli.autocorrelation import weight_statistics

    if lags < 0:
        raise SpecError(f"--lags must be at least 0, got {lags}")
    if paths < 1:
        raise SpecError(f"--paths must be at least 1, got {paths}")
    flags = dict(law=law, dist=dist, lengthscale=lengthscale, hurst=hurst, fbm_backend=fbm_backend, depth=depth,
                 width=width, samples=draws, seed=seed, device=device, dtype=dtype)
    values = merge_settings(config, flags)
    if "draws" in values:  # in a config file, `draws` names the weight draws of `sample`
        values["samples"] = values.pop("draws")
    values.setdefault("samples", 1)
    sweep, _ = build_sweep(None, values, depths=str(values.pop("depth", RunSpec().depth)), betas="0.5")
    settings = sweep.settings()
    plot_path = plots.check_plot_path(plot) if plot else None
    results = [(plots.describe_law(s), s, weight_statistics(s, lags)) for s in settings]
    base = settings[0]
    title = f"L = {base.depth}, d = {base.width}, {results[0][2]['paths'].shape[0]} entry paths per law setting"
    if plot_path:
        plots.plot_sample(plot_path, [(label, stats) for label, _, stats in results], title, paths)
    if json_out:
        keep = ("law", "dist", "fbm_backend", "depth", "width", "seed", "device", "dtype")
        report.dump_json({
            "command": "sample",
            "spec": {k: v for k, v in base.to_dict().items() if k in keep}
            | {"device": str(base.torch_device()), "draws": base.samples, "entry_paths": int(results[0][2]["paths"].shape[0])},
            "settings": [report.sample_document(s, stats) for _, s, stats in results],
            "versions": report.versions(),
        })
        return
    console = report.make_console(stderr=False, no_color=no_color)
    for label, s, stats in results:
        console.print(report.sample_table(stats, f"{label}, {title}"))
        h = stats["hurst_estimate"]
        console.print(f"mean {stats['mean']:+.4f}; variance × d {stats['variance_times_width']:.4f} (theory 1)"
                      + (f"; estimated Hurst index {h:.3f}" if h is not None else "")
                      + (f" (law's H = {s.hurst:g})" if s.law == "fbm" else "") + "\n")
    if plot_path:
        console.print(f"figure written to {plot_path}")


DepthGridOpt = Annotated[Optional[str], typer.Option("--depth", "-L", help="Depths: list 100,1000 or range 10:1000:10 (integers, deduplicated).", show_default=False)]
OutOpt = Annotated[Optional[str], typer.Option("--out", help="Folder for results.jsonl (one line per finished cell) and summary.json.", show_default=False)]
ResumeOpt = Annotated[Optional[bool], typer.Option("--resume", help="Skip the cells already in --out; ends identical to an uninterrupted run.", show_default=False)]
PlotHistOpt = Annotated[Optional[str], typer.Option("--plot-hist", help="Histogram of both ratios at one (L, β) (see --hist-depth, --hist-beta).", show_default=False)]
HistDepthOpt = Annotated[Optional[int], typer.Option("--hist-depth", help="Depth of --plot-hist. [default: the largest]", show_default=False)]
HistBetaOpt = Annotated[Optional[float], typer.Option("--hist-beta", help="β of --plot-hist (nearest grid value). [default: nearest 0.5]", show_default=False)]

SWEEP_DEFAULTS = {"sweep": ("100,300,1000", "0.25,0.5,1"), "phase": ("100,300,1000,3000", "0:1.3:27")}


def _grid_command(command: str, flags: dict[str, Any], config: str | None, json_out: bool, quiet: bool, no_color: bool) -> None:
    """Shared body of `sweep` and `phase`: build, run (resumable), analyze, write, print."""
    import time

    from resnet_scale_cli import analysis, plots, report, sweep as sweeps

    depths, betas = SWEEP_DEFAULTS[command]
    defaults = {"samples": 24} if command == "phase" else {}
    sweep, outputs = build_sweep(config, flags, depths=depths, betas=betas, defaults=defaults)
    if command == "phase" and len(sweep.depths) < 2:
        raise SpecError("--depth: a phase diagram needs at least two depths (regimes come from the trend over L)")
    out = Path(outputs["out"]) if outputs.get("out") else None
    resume = bool(outputs.get("resume"))
    if resume and out is None:
        raise SpecError("--resume needs --out (the folder of the sweep to resume)")
    plot_path = plots.check_plot_path(outputs["plot"]) if outputs.get("plot") else None
    hist_path = plots.check_plot_path(outputs["plot_hist"], "--plot-hist") if outputs.get("plot_hist") else None
    hist_depth = outputs.get("hist_depth")
    if hist_depth is not None and hist_depth not in sweep.depths:
        raise SpecError(f"--hist-depth {hist_depth} is not among the swept depths {list(sweep.depths)}")
    start = time.perf_counter()
    with progress_bar(sweeps.progress_total(sweep), f"{command}: layers", not quiet) as advance:
        try:
            records = sweeps.run_sweep(sweep, out=out, resume=resume, progress=advance)
        except KeyboardInterrupt:
            if out is not None:
                sys.stderr.write(f"rscale: interrupted; finished cells are in {out / sweeps.RESULTS}: rerun with --resume\n")
            raise
    critical = analysis.analyze(records, seed=sweep.base.seed) if len(sweep.depths) > 1 else []
    document = report.grid_document(command, sweep, records, critical)
    if out is not None:
        sweeps.write_atomic(out / sweeps.SUMMARY, json.dumps(document, indent=2, allow_nan=False) + "\n")
    title = f"{plots.describe_law(sweep.base) if not sweep.parameter or len(sweep.params) == 1 else sweep.base.law}, " \
            f"{sweep.base.model} model, {sweep.base.activation}, d = {sweep.base.width}, {sweep.base.samples} samples"
    figures = []
    if plot_path:
        if command == "sweep":
            plots.plot_depth_curves(plot_path, records, title)
        elif len(sweep.settings()) > 1 and critical:
            from resnet_scale_cli.laws import LAWS

            reference = LAWS[sweep.base.law].critical_beta
            plots.plot_phase_param(plot_path, records, critical, sweep.parameter, title,
                                   lambda v: reference(**{sweep.parameter: v}))
        elif critical:
            plots.plot_phase_depth(plot_path, [r for r in records], critical[0], title, report.theory_beta(sweep.base))
        else:
            raise SpecError("--plot of a phase diagram needs at least two depths")
        figures.append(plot_path)
    if hist_path:
        record = report.histogram_record(records, hist_depth, outputs.get("hist_beta"))
        j = report.nearest_beta(record, outputs.get("hist_beta"))
        plots.plot_histogram(hist_path, record, j, plots.describe_law_cell(record["cell"], sweep.base))
        figures.append(hist_path)
    if json_out:
        report.dump_json(document | {"elapsed_seconds": round(time.perf_counter() - start, 3)})
        return
    console = report.make_console(stderr=False, no_color=no_color)
    if command == "sweep":
        console.print(report.cells_table(document["cells"], title))
    if len(critical) <= 3:  # per-β regimes for a few settings; a grid of settings gets the summary table
        for entry in document["critical"]:
            console.print(report.regimes_table(entry, sweep.base))
    if len(critical) > 1:
        console.print(report.critical_table(document["critical"], sweep.base))
    console.print(f"{len(records)} cells in {time.perf_counter() - start:.1f} s; seed {sweep.base.seed}; "
                  f"device {records[0]['info']['device'] if records else '?'}")
    if out is not None:
        console.print(f"results: {out / sweeps.RESULTS}; summary: {out / sweeps.SUMMARY}")
    for fig in figures:
        console.print(f"figure written to {fig}")


OUTPUT_FLAGS = ("config", "json_out", "quiet", "no_color")


def _setting_flags(params: dict[str, Any]) -> dict[str, Any]:
    """A command's parameters less the output flags: the settings it passes on."""
    return {k: v for k, v in params.items() if k not in OUTPUT_FLAGS}


@app.command()
def sweep(
    law: LawOpt = None, dist: DistOpt = None, lengthscale: LengthscaleGridOpt = None, hurst: HurstGridOpt = None,
    fbm_backend: BackendOpt = None, model: ModelOpt = None, activation: ActivationOpt = None,
    depth: DepthGridOpt = None, width: WidthOpt = None, beta: BetaOpt = None, samples: SamplesOpt = None,
    draws: DrawsOpt = None, probes: ProbesOpt = None, grad_method: GradMethodOpt = None,
    gradients: GradientsOpt = None, seed: SeedOpt = None, device: DeviceOpt = None, dtype: DtypeOpt = None,
    memory_gb: MemoryOpt = None, config: ConfigOpt = None, out: OutOpt = None, resume: ResumeOpt = None,
    json_out: JsonOpt = False, plot: PlotOpt = None, plot_hist: PlotHistOpt = None, hist_depth: HistDepthOpt = None,
    hist_beta: HistBetaOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Measure a grid of depths × β (× Hurst indices or lengthscales); curves against L.

    Defaults: --depth 100,300,1000 --beta 0.25,0.5,1. With --out, each finished cell is saved
    and --resume continues an interrupted sweep.
    """
    _grid_command("sweep", _setting_flags(locals()), config, json_out, quiet, no_color)


@app.command()
def phase(
    law: LawOpt = None, dist: DistOpt = None, lengthscale: LengthscaleGridOpt = None, hurst: HurstGridOpt = None,
    fbm_backend: BackendOpt = None, model: ModelOpt = None, activation: ActivationOpt = None,
    depth: DepthGridOpt = None, width: WidthOpt = None, beta: BetaOpt = None, samples: SamplesOpt = None,
    draws: DrawsOpt = None, probes: ProbesOpt = None, grad_method: GradMethodOpt = None,
    gradients: GradientsOpt = None, seed: SeedOpt = None, device: DeviceOpt = None, dtype: DtypeOpt = None,
    memory_gb: MemoryOpt = None, config: ConfigOpt = None, out: OutOpt = None, resume: ResumeOpt = None,
    json_out: JsonOpt = False, plot: PlotOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Phase diagram: regimes and the critical β from the trend of the ratios over depth.

    Defaults: --beta 0:1.3:27 --depth 100,300,1000,3000 --samples 24 --width 40, full model, ReLU.
    One law setting: β × L heatmap; several Hurst indices (--hurst 0.05:0.97:24): β × H heatmap
    with the critical-β curve. --plot writes the figure.
    """
    _grid_command("phase", _setting_flags(locals()), config, json_out, quiet, no_color)


@app.command()
def check(
    files: Annotated[list[str], typer.Argument(help="Check files (TOML); '-' reads one from stdin.", show_default=False)],
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Compare every statistic with this stored run.", show_default=False)] = None,
    update_baseline: Annotated[bool, typer.Option("--update-baseline", help="Write this run's statistics into --baseline.")] = False,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence of the baseline comparison (family-wise).")] = 0.99,
    junit: Annotated[Optional[str], typer.Option("--junit", help="Write a JUnit XML report.", show_default=False)] = None,
    seed: SeedOpt = None, device: DeviceOpt = None,
    json_out: JsonOpt = False, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Run check files: exit 0 when every expectation holds, 1 when one fails, 2 on bad input."""
    from resnet_scale_cli import checks, report, sweep as sweeps
    from resnet_scale_cli.analysis import analyze

    if not 0.5 <= confidence < 1.0:
        raise SpecError(f"--confidence must be in [0.5, 1), got {confidence}")
    if update_baseline and not baseline:
        raise SpecError("--update-baseline needs --baseline FILE")
    junit_path = Path(junit) if junit else None
    if junit_path and not junit_path.parent.is_dir():
        raise SpecError(f"--junit: folder {str(junit_path.parent)!r} does not exist")
    if files.count("-") > 1:
        raise SpecError("'-' (stdin) can be given once")
    loaded = [checks.load_check(f) for f in files]
    overrides = {k: v for k, v in (("seed", seed), ("device", device)) if v is not None}
    if overrides:
        for c in loaded:
            c.sweep = dataclasses.replace(c.sweep, base=c.sweep.base.replace(**overrides))
    names = [c.name for c in loaded]
    if len(set(names)) != len(names):
        raise SpecError("two check files have the same name; give each a distinct `name`")
    stored = None
    baseline_path = Path(baseline) if baseline else None
    if baseline_path and not update_baseline:
        stored = checks.read_baseline(baseline_path)
        for c in loaded:
            entry = stored["checks"].get(c.name)
            if entry is None:
                raise SpecError(f"--baseline {baseline}: no baseline for check {c.name!r}; create it with --update-baseline")
            if entry["settings"] != json.loads(json.dumps(checks.comparable_settings(c.sweep))):
                raise SpecError(f"--baseline {baseline}: check {c.name!r} has other settings than its baseline; "
                                "update it with --update-baseline")
    documents, new_entries = [], {}
    total = sum(sweeps.progress_total(c.sweep) for c in loaded)
    with progress_bar(total, "check: layers", not quiet) as advance:
        for c in loaded:
            start = time.perf_counter()
            records = sweeps.run_sweep(c.sweep, progress=advance)
            critical = analyze(records, seed=c.sweep.base.seed) if len(c.sweep.depths) > 1 else []
            outcomes = checks.evaluate(c, records, critical)
            statistics = checks.baseline_statistics(records)
            if stored is not None:
                outcomes.append(checks.compare_baseline(stored["checks"][c.name], statistics, confidence))
            if update_baseline:
                new_entries[c.name] = {"settings": checks.comparable_settings(c.sweep), "seed": c.sweep.base.seed,
                                       "statistics": statistics}
            documents.append({"file": c.path, "name": c.name, "spec": c.sweep.to_dict(), "expectations": outcomes,
                              "passed": all(o["passed"] for o in outcomes),
                              "elapsed_seconds": round(time.perf_counter() - start, 3)})
    if update_baseline:
        data = checks.read_baseline(baseline_path) if baseline_path.exists() else {"rscale_baseline": checks.BASELINE_FORMAT, "checks": {}}
        data["checks"].update(new_entries)
        try:
            sweeps.write_atomic(baseline_path, json.dumps(data, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            raise SpecError(f"--baseline: cannot write {baseline!r}: {exc.strerror or exc}") from None
    if junit_path:
        from resnet_scale_cli.junit import write_junit

        write_junit(junit_path, documents)
    n_total = sum(len(d["expectations"]) for d in documents)
    n_failed = sum(not o["passed"] for d in documents for o in d["expectations"])
    passed = n_failed == 0
    if json_out:
        report.dump_json({"command": "check", "passed": passed,
                          "summary": {"expectations": n_total, "passed": n_total - n_failed, "failed": n_failed},
                          "files": documents, "baseline": baseline, "baseline_updated": update_baseline,
                          "versions": report.versions()})
    else:
        console = report.make_console(stderr=False, no_color=no_color)
        for d in documents:
            console.print(report.check_table(d))
        verdict = "[green]all expectations hold[/]" if passed else f"[red]{n_failed} of {n_total} expectations failed[/]"
        console.print(f"{verdict} ({len(documents)} check file{'s' * (len(documents) != 1)})")
        if update_baseline:
            console.print(f"baseline written to {baseline}")
        if junit_path:
            console.print(f"JUnit report written to {junit_path}")
    if not passed:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- entry point
def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"rscale: error: {message}\n")
    sys.stderr.flush()
    return code


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every usage or input error becomes one line and exit 2."""
    try:
        code = app(args=argv, prog_name="rscale", standalone_mode=False)
    except click_exceptions.ClickException as exc:  # usage errors: unknown option, bad type, ...
        message = exc.format_message().replace("\n", " ").strip()
        code = _fail(message, 2) if message else 0  # bare `rscale` printed its help
    except SpecError as exc:
        code = _fail(str(exc), 2)
    except (KeyboardInterrupt, typer.Abort):
        code = _fail("interrupted", 130)
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # an internal error: one line unless RSCALE_DEBUG asks for the traceback
        if os.environ.get("RSCALE_DEBUG"):
            raise
        code = _fail(f"internal error: {type(exc).__name__}: {exc} (set RSCALE_DEBUG=1 for the traceback)", 3)
    raise SystemExit(code if isinstance(code, int) else 0)
