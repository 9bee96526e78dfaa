"""`rscale spectrum`: singular values of the input–output Jacobian ∂h_L/∂h_0 across depth and β."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt
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
    from resnet_scale_cli.settings import build_experiment_spec

    flags = settings | {"out": out, "resume": resume, "plot": plot}
    spec, stored = build_experiment_spec(SpectrumSpec, config, flags)
    from resnet_scale_cli import api  # after the spec: bad values answer before torch is imported
    from resnet_scale_cli.report import console as consoles, documents, figures, tables_spectrum
    plot_path = figures.check_plot_path(stored["plot"]) if stored.get("plot") else None
    with consoles.progress_bar(api.total_cost(api.SPECTRUM, spec), "spectrum: layers", not quiet) as advance:
        result = api.run_experiment(api.SPECTRUM, spec, out=stored.get("out"), resume=bool(stored.get("resume")),
                                    progress=advance, executor=executor)
    if plot_path:
        figures.save(result.figure(), plot_path)
    if json_out:
        return documents.dump_json(result.document | {"elapsed_seconds": round(result.elapsed_seconds, 3)})
    for renderable in tables_spectrum.spectrum_tables(result.document, plot_path):
        consoles.make_console(stderr=False, no_color=no_color).print(renderable)
