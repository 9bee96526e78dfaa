"""`rscale inspect BLOCK`: the depth-scaling analysis of the user's own residual block."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.experiments.inspect_spec import InspectSpec
from resnet_scale_cli.fields import settings_of

#: the typed choices of --init, --homogeneous and --batching (the classes their options use)
Init, Homogeneity, Batching = (opt.choice_enum(s.key, s.check.options) for _, s in settings_of(InspectSpec)
                               if s.key in ("init", "homogeneous", "batching"))

BlockArg = Annotated[Optional[str], typer.Argument(metavar="BLOCK", show_default=False, help=(
    "package.module:factory or path/to/file.py:factory (a callable returning the nn.Module of the residual branch f(h), "
    "called as factory(width=d[, layer=k][, depth=L])). [bold]It is imported and run as Python code[/]: name only code you trust."))]
InputShape = Annotated[Optional[str], typer.Option("--input-shape", help="Shape of one input, e.g. 64 or 3,32,32. \\[default: width]", show_default=False)]
PlotProfiles = Annotated[Optional[str], typer.Option("--plot-profiles", help="Write the depth coordinate check (profiles along k/L).", show_default=False)]


@app.command()
@opt.with_settings("law", "init", "dist", "hurst", "lengthscale", "depth", "width", "beta", "samples", "draws", "inputs",
                   "homogeneous", "gradients", "profile_points", "batching", "seed", "device", "dtype", "memory_gb",
                   spec=InspectSpec)
@with_executor
@opt.with_figure
def inspect(settings: dict[str, Any], executor: Any, block: BlockArg = None, input_shape: InputShape = None,
            config: opt.Config = None, out: opt.Out = None, resume: opt.Resume = None, json_out: opt.Json = False,
            plot: opt.Plot = None, plot_profiles: PlotProfiles = None, quiet: opt.Quiet = False,
            no_color: opt.NoColor = False) -> None:
    """Your residual block h + L^-β f(h) over depths × β: ratios, profiles, regimes, critical β.

    The document of `rscale phase --json`, plus the block's description and per-layer profiles.
    """
    from resnet_scale_cli.settings import build_experiment_spec

    flags = settings | dict(block=block, input_shape=input_shape, out=out, resume=resume, plot=plot,
                            plot_profiles=plot_profiles)
    spec, outputs = build_experiment_spec(InspectSpec, config, flags, outputs=("out", "resume", "plot", "plot_profiles"))
    from resnet_scale_cli import api
    from resnet_scale_cli.report import console as consoles, documents, figures_inspect, tables_inspect
    figures = figures_inspect.InspectFigures.plan(spec, outputs)
    with consoles.progress_bar(api.total_cost(api.INSPECT, spec), "inspect: layers", not quiet) as advance:
        result = api.run_experiment(api.INSPECT, spec, out=outputs.get("out"), resume=bool(outputs.get("resume")),
                                    progress=advance, executor=executor)
    written = figures.draw(result.records, result.document)
    if json_out:
        return documents.dump_json(result.document | {"elapsed_seconds": round(result.elapsed_seconds, 3)})
    console = consoles.make_console(stderr=False, no_color=no_color)
    for renderable in tables_inspect.inspect_tables(result.document, result.elapsed_seconds, result.out):
        console.print(renderable)
    for path in written:
        console.print(f"figure written to {path}")
