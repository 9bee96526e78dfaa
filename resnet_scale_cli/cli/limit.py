"""`rscale limit`: distance of a depth-L ResNet to its continuous-depth limit, and its rate in L."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor

Model = Annotated[Optional[opt.choice_enum("models")], typer.Option(  # type: ignore[valid-type]
    "--model", metavar="MODEL", show_default=False,
    help="Residual f. Choices: simple V σ(h) | linear V h | full V σ(W h) (rbf and tied only). \\[default: simple]")]
Dtype = Annotated[Optional[opt.choice_enum("dtypes")], typer.Option(  # type: ignore[valid-type]
    "--dtype", metavar="DTYPE", show_default=False,
    help="Precision of the dynamics (float32 rounding over r·L steps reaches an O(1/L) distance). "
         "Choices: float32 | float64. \\[default: float64]")]
Samples = Annotated[Optional[int], typer.Option(
    "--samples", "-n", show_default=False, help="Weight draws, each with its own input h_0. \\[default: 32]")]
Beta = Annotated[Optional[float], typer.Option(
    "--beta", show_default=False,
    help="β: a limit exists only at the law's critical β. \\[default: 1/2 iid, H fbm, 1 rbf and tied]")]
Refinement = Annotated[Optional[int], typer.Option(
    "--refinement", "-r", show_default=False,
    help="The reference runs r·L steps (r even, ≥ 2; its own check r/2·L). \\[default: 16]")]


@app.command()
@opt.with_settings("law", "dist", "hurst", "lengthscale", "activation", "depth", "width", "seed", "device", "memory_gb",
                   grid=("depth",), spec="resnet_scale_cli.experiments.limit:LimitSpec", aliases={"depth": "depths"})
@with_executor
@opt.with_figure
def limit(settings: dict[str, Any], executor: Any, model: Model = None, beta: Beta = None, refinement: Refinement = None,
          samples: Samples = None, dtype: Dtype = None, config: opt.Config = None, out: opt.Out = None,
          resume: opt.Resume = None, json_out: opt.Json = False, plot: opt.Plot = None, quiet: opt.Quiet = False,
          no_color: opt.NoColor = False) -> None:
    """Distance between the ResNet and its continuous-depth limit (neural SDE, ODE or Young equation)
    driven by the same weights, against L, and the rate at which it closes.

    β defaults to the law's critical β. Bad combinations (a β or model with no limit theorem) exit 2.
    """
    from resnet_scale_cli.experiments.limit import LimitSpec
    from resnet_scale_cli.settings import build_experiment_spec

    flags = settings | {"model": model and model.value, "dtype": dtype and dtype.value, "beta": beta,
                        "refinement": refinement, "samples": samples, "out": out, "resume": resume, "plot": plot}
    spec, stored = build_experiment_spec(LimitSpec, config, flags, aliases={"depth": "depths"})
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
