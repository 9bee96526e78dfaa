"""`rscale sweep` and `rscale phase`: grids of depths × β (× law settings)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt, render
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.settings import GRID_VALUED, RUN_SETTINGS

PlotHist = Annotated[Optional[str], typer.Option("--plot-hist", help="Histogram of both ratios at one (L, β) (see --hist-depth, --hist-beta).", show_default=False)]
HistDepth = Annotated[Optional[int], typer.Option("--hist-depth", help="Depth of --plot-hist. [default: the largest]", show_default=False)]
HistBeta = Annotated[Optional[float], typer.Option("--hist-beta", help="β of --plot-hist (nearest grid value). [default: nearest 0.5]", show_default=False)]


def _grid(command: str, settings: dict[str, Any], config, outputs: dict[str, Any], json_out: bool, quiet: bool,
          no_color: bool, executor=None) -> None:
    """Shared body of `sweep` and `phase`: settings → `api.grid_study` → figures and output."""
    from resnet_scale_cli.settings import GRID_DEFAULTS, build_sweep

    depths, betas, defaults = GRID_DEFAULTS[command]
    sweep, stored = build_sweep(config, settings | {k: v for k, v in outputs.items() if v is not None},
                                depths=depths, betas=betas, defaults=defaults)  # before torch is imported
    from resnet_scale_cli import api
    from resnet_scale_cli.report import figures, tables
    from resnet_scale_cli.experiments.registry import progress_total
    plan = figures.GridFigures.plan(command, sweep, stored)  # refuses bad figure settings before running
    render.execute(lambda progress: api.grid_study(command, sweep, out=stored.get("out"),
                                                   resume=bool(stored.get("resume")), progress=progress, executor=executor),
                   total=progress_total(sweep), label=f"{command}: layers", quiet=quiet, json_out=json_out,
                   no_color=no_color, document=render.timed, draw=plan.draw,
                   tables=lambda study: tables.grid_tables(study, figures.grid_title(sweep)))


@app.command()
@opt.with_settings(*RUN_SETTINGS, grid=GRID_VALUED, command="sweep")
@with_executor
@opt.with_figure
def sweep(settings: dict[str, Any], executor: Any, config: opt.Config = None, out: opt.Out = None, resume: opt.Resume = None,
          json_out: opt.Json = False, plot: opt.Plot = None, plot_hist: PlotHist = None, hist_depth: HistDepth = None,
          hist_beta: HistBeta = None, quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Measure a grid of depths × β (× Hurst indices or lengthscales); curves against L.

    With --out, each finished cell is saved and --resume continues an interrupted sweep.
    """
    outputs = dict(out=out, resume=resume, plot=plot, plot_hist=plot_hist, hist_depth=hist_depth, hist_beta=hist_beta)
    _grid("sweep", settings, config, outputs, json_out, quiet, no_color, executor)


@app.command()
@opt.with_settings(*RUN_SETTINGS, grid=GRID_VALUED, command="phase")
@with_executor
@opt.with_figure
def phase(settings: dict[str, Any], executor: Any, config: opt.Config = None, out: opt.Out = None, resume: opt.Resume = None,
          json_out: opt.Json = False, plot: opt.Plot = None, quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Phase diagram: regimes and the critical β from the trend of the ratios over depth.

    One law setting: β × L heatmap; several Hurst indices (--hurst 0.05:0.97:24): β × H heatmap
    with the critical-β curve; several widths (--width 8,40,200): critical β per width. A single
    depth (--depth 1000) reads regimes from the ±1 log-ratio thresholds instead of the trend.
    --plot writes the figure.
    """
    _grid("phase", settings, config, dict(out=out, resume=resume, plot=plot), json_out, quiet, no_color, executor)
