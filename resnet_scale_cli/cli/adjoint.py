"""`rscale adjoint`: memory-free backpropagation (reverse Euler / reverse Heun) against depth."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt
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
    from resnet_scale_cli.settings import build_experiment_spec

    flags = settings | {"out": out, "resume": resume, "plot": plot}
    spec, outputs = build_experiment_spec(AdjointSpec, config, flags)
    from resnet_scale_cli import api  # after the spec: bad values answer before torch is imported
    from resnet_scale_cli.report import console as consoles, documents, figures, tables_adjoint
    plot_path = figures.check_plot_path(outputs["plot"]) if outputs.get("plot") else None
    with consoles.progress_bar(api.total_cost(api.ADJOINT, spec), "adjoint: layers", not quiet) as advance:
        result = api.adjoint(spec, out=outputs.get("out"), resume=bool(outputs.get("resume")), progress=advance,
                             executor=executor)
    if plot_path:
        figures.save(result.figure(), plot_path)
    if json_out:
        return documents.dump_json(result.document | {"elapsed_seconds": round(result.elapsed_seconds, 3)})
    console = consoles.make_console(stderr=False, no_color=no_color)
    for renderable in tables_adjoint.adjoint_tables(result.document):
        console.print(renderable)
    if plot_path:
        console.print(f"figure written to {plot_path}")
