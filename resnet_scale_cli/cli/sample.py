"""`rscale sample`: weights of a law against its theory."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt, render
from resnet_scale_cli.cli.app import app

Draws = Annotated[Optional[int], typer.Option("--draws", help="Weight draws (each gives d² entry paths). [default: 1]", show_default=False)]
Lags = Annotated[int, typer.Option("--lags", help="Largest lag shown.")]
Paths = Annotated[int, typer.Option("--paths", help="Entry paths drawn per law setting in the figure.")]


@app.command()
@opt.with_settings("law", "dist", "lengthscale", "hurst", "fbm_backend", "depth", "width", "seed", "device", "dtype", "memory_gb",
                   grid=("hurst", "lengthscale"))
@opt.with_figure
def sample(settings: dict[str, Any], draws: Draws = None, lags: Lags = 10, paths: Paths = 3, config: opt.Config = None,
           json_out: opt.Json = False, plot: opt.Plot = None, quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Draw weights from a law; compare their autocovariance across depth with theory.

    --hurst (or --lengthscale) takes a list, e.g. --hurst 0.2,0.5,0.8: one row per value.
    """
    from resnet_scale_cli.errors import SpecError
    from resnet_scale_cli.settings import sample_sweep

    if lags < 0:
        raise SpecError(f"--lags must be at least 0, got {lags}")
    if paths < 1:
        raise SpecError(f"--paths must be at least 1, got {paths}")
    sweep = sample_sweep(config, settings | {"samples": draws})  # before torch is imported
    from resnet_scale_cli import api
    from resnet_scale_cli.report import figures, tables

    def shown(result: api.SampleResult) -> list[Any]:
        title = figures.sample_title(result)
        return [t for label, s, stats in result.settings
                for t in (tables.sample_table(stats, f"{label}, {title}"), tables.sample_footer(s, stats))]

    render.execute(lambda _: api.sample(sweep, lags), draw=render.one_figure(plot, lambda result: result.figure(paths)),
                   quiet=quiet, json_out=json_out, no_color=no_color, document=lambda result: result.document(),
                   tables=shown)
