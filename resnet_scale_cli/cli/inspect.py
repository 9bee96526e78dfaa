"""`rscale inspect BLOCK`: the depth-scaling analysis of the user's own residual block."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.experiments.inspect_spec import BATCHING, HOMOGENEOUS, INITS

#: choices of the library's InspectSpec (its module is torch-free: --help stays fast)
Init = enum.Enum("Init", {n: n for n in INITS}, type=str)
Homogeneity = enum.Enum("Homogeneity", {n: n for n in HOMOGENEOUS}, type=str)
Batching = enum.Enum("Batching", {n: n for n in BATCHING}, type=str)

BlockArg = Annotated[Optional[str], typer.Argument(metavar="BLOCK", show_default=False, help=(
    "package.module:factory or path/to/file.py:factory (a callable returning the nn.Module of the residual branch f(h), "
    "called as factory(width=d[, layer=k][, depth=L])). [bold]It is imported and run as Python code[/]: name only code you trust."))]
InitOpt = Annotated[Optional[Init], typer.Option("--init", help="iid weights: module = the module's own init, a fresh seed per layer; moments = law paths with its per-tensor mean and std (fast). \\[default: module]", show_default=False)]
InputShape = Annotated[Optional[str], typer.Option("--input-shape", help="Shape of one input, e.g. 64 or 3,32,32. \\[default: width]", show_default=False)]
Inputs = Annotated[Optional[str], typer.Option("--inputs", help="A .npy file of inputs (N, *shape), loaded with allow_pickle=False. \\[default: Gaussian]", show_default=False)]
Homogeneous = Annotated[Optional[Homogeneity], typer.Option("--homogeneous", help="Carry log-norms (f positively homogeneous): auto = checked on the draws. \\[default: auto]", show_default=False)]
ProfilePoints = Annotated[Optional[int], typer.Option("--profile-points", help="Layer positions k/L of the profiles (at most 64). \\[default: 64]", show_default=False)]
BatchingOpt = Annotated[Optional[Batching], typer.Option("--batching", help="torch.func.vmap over draws, or a per-draw loop; auto = vmap where it runs and agrees. \\[default: auto]", show_default=False)]
PlotProfiles = Annotated[Optional[str], typer.Option("--plot-profiles", help="Write the depth coordinate check (profiles along k/L).", show_default=False)]


@app.command()
@opt.with_settings("law", "dist", "hurst", "lengthscale", "depth", "width", "beta", "samples", "draws", "gradients", "seed", "device",
                   "dtype", "memory_gb", grid=("depth",), spec="resnet_scale_cli.experiments.inspect_spec:InspectSpec",
                   aliases={"depth": "depths", "beta": "betas"})
@with_executor
@opt.with_figure
def inspect(settings: dict[str, Any], executor: Any, block: BlockArg = None, init: InitOpt = None, input_shape: InputShape = None,
            inputs: Inputs = None, homogeneous: Homogeneous = None, profile_points: ProfilePoints = None,
            batching: BatchingOpt = None, config: opt.Config = None, out: opt.Out = None,
            resume: opt.Resume = None, json_out: opt.Json = False, plot: opt.Plot = None, plot_profiles: PlotProfiles = None,
            quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Your residual block h + L^-β f(h) over depths × β: ratios, profiles, regimes, critical β.

    The document of `rscale phase --json`, plus the block's description and per-layer profiles.
    """
    from resnet_scale_cli.experiments.inspect_spec import InspectSpec
    from resnet_scale_cli.settings import build_experiment_spec

    own = dict(block=block, init=init, input_shape=input_shape, inputs=inputs, homogeneous=homogeneous,
               profile_points=profile_points, batching=batching, out=out, resume=resume, plot=plot,
               plot_profiles=plot_profiles)
    flags = settings | {name: getattr(value, "value", value) for name, value in own.items()}
    spec, outputs = build_experiment_spec(InspectSpec, config, flags, aliases={"depth": "depths", "beta": "betas"},
                                          outputs=("out", "resume", "plot", "plot_profiles"))  # before torch
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
