"""`rscale limit`: distance of a depth-L ResNet to its continuous-depth limit, and its rate in L."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt
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
    from resnet_scale_cli.settings import build_experiment_spec

    flags = settings | {"out": out, "resume": resume, "plot": plot}
    spec, stored = build_experiment_spec(LimitSpec, config, flags)
    from resnet_scale_cli import api
    from resnet_scale_cli.report import console as consoles, documents, figures, tables_limit
    plot_path = figures.check_plot_path(stored["plot"]) if stored.get("plot") else None
    with consoles.progress_bar(api.total_cost(api.LIMIT, spec), "limit: layers", not quiet) as advance:
        result = api.run_experiment(api.LIMIT, spec, out=stored.get("out"), resume=bool(stored.get("resume")),
                                    progress=advance, executor=executor)
    if plot_path:
        figures.save(result.figure(), plot_path)
    if json_out:
        return documents.dump_json(result.document | {"elapsed_seconds": round(result.elapsed_seconds, 3)})
    console = consoles.make_console(stderr=False, no_color=no_color)
    for renderable in tables_limit.limit_tables(result.document, plot_path):
        console.print(renderable)
