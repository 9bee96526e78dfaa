"""`rscale adjoint`: memory-free backpropagation (reverse Euler / reverse Heun) against depth."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt, render
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.experiments.adjoint import AdjointSpec


@app.command()
@opt.with_settings("net", "law", "dist", "hurst", "lengthscale", "model", "activation", "depth", "width", "samples", "batch",
                   "beta", "seed", "device", "dtype", "memory_gb", spec=AdjointSpec)
@with_executor
@opt.with_figure
def adjoint(settings: dict[str, Any], executor: Any, config: opt.Config = None, out: opt.Out = None, resume: opt.Resume = None,
            json_out: opt.Json = False, plot: opt.Plot = None, quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Backpropagate without storing activations (reverse Euler / Heun): errors and memory against depth N.

    Per depth: max_n ‖x̃_n − x_n‖/‖x_n‖, the errors of ∇_θ and ∇_x, Δ = max_n ‖θ_{n+1} − θ_n‖ and the
    peak memory of both backward passes; rates of the errors in N beside the paper's upper bound.
    Example: rscale adjoint --net heunnet --law rbf --depth 16,32,64,128,256 --plot adjoint.png
    """
    from resnet_scale_cli.report.tables_adjoint import adjoint_tables

    render.experiment("adjoint", AdjointSpec, config, settings | {"out": out, "resume": resume, "plot": plot}, executor,
                      tables=lambda result: adjoint_tables(result.document), quiet=quiet, json_out=json_out,
                      no_color=no_color)
