"""`rscale spectrum`: singular values of the input–output Jacobian ∂h_L/∂h_0 across depth and β."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt, render
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.experiments.spectrum import SpectrumSpec


@app.command()
@opt.with_settings("law", "dist", "hurst", "lengthscale", "model", "activation", "depth", "beta", "width", "samples", "seed",
                   "device", "dtype", "memory_gb", "hist_beta", spec=SpectrumSpec)
@with_executor
@opt.with_figure
def spectrum(settings: dict[str, Any], executor: Any, config: opt.Config = None, out: opt.Out = None,
             resume: opt.Resume = None, json_out: opt.Json = False, plot: opt.Plot = None, quiet: opt.Quiet = False,
             no_color: opt.NoColor = False) -> None:
    """Singular values of J_L = ∂h_L/∂h_0 (σ_max, σ_min, condition, J_L − I) over depths × β, and
    regimes and the critical β from the trend of log σ_max(J_L − I). Exact in log far past the float range.
    """
    from resnet_scale_cli.report.tables_spectrum import spectrum_tables

    render.experiment("spectrum", SpectrumSpec, config, settings | {"out": out, "resume": resume, "plot": plot},
                      executor, tables=lambda result: spectrum_tables(result.document), quiet=quiet,
                      json_out=json_out, no_color=no_color)
