"""`rscale limit`: distance of a depth-L ResNet to its continuous-depth limit, and its rate in L."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt, render
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.experiments.limit import LimitSpec


@app.command()
@opt.with_settings("law", "dist", "hurst", "lengthscale", "model", "activation", "beta", "depth", "width", "samples",
                   "refinement", "seed", "device", "dtype", "memory_gb", spec=LimitSpec)
@with_executor
@opt.with_figure
def limit(settings: dict[str, Any], executor: Any, config: opt.Config = None, out: opt.Out = None,
          resume: opt.Resume = None, json_out: opt.Json = False, plot: opt.Plot = None, quiet: opt.Quiet = False,
          no_color: opt.NoColor = False) -> None:
    """Distance between the ResNet and its continuous-depth limit (neural SDE, ODE or Young equation)
    driven by the same weights, against L, and the rate at which it closes.

    β defaults to the law's critical β. Bad combinations (a β or model with no limit theorem) exit 2.
    """
    from resnet_scale_cli.report.tables_limit import limit_tables

    render.experiment("limit", LimitSpec, config, settings | {"out": out, "resume": resume, "plot": plot}, executor,
                      tables=lambda result: limit_tables(result.document), quiet=quiet, json_out=json_out,
                      no_color=no_color)
