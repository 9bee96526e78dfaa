"""`rscale inspect BLOCK`: the depth-scaling analysis of the user's own residual block."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt, render
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
    from resnet_scale_cli.report.tables_inspect import inspect_tables

    def figures(spec: InspectSpec, outputs: dict[str, Any]) -> render.Draw:
        from resnet_scale_cli.report.figures_inspect import InspectFigures

        plan = InspectFigures.plan(spec, outputs)
        return lambda result: plan.draw(result.records, result.document)

    flags = settings | dict(block=block, input_shape=input_shape, out=out, resume=resume, plot=plot,
                            plot_profiles=plot_profiles)
    render.experiment("inspect", InspectSpec, config, flags, executor, figures=figures,
                      outputs=("out", "resume", "plot", "plot_profiles"), quiet=quiet, json_out=json_out,
                      no_color=no_color, tables=lambda r: inspect_tables(r.document, r.elapsed_seconds, r.out))
