"""`rscale adjoint`: memory-free backpropagation (reverse Euler / reverse Heun) against depth."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.dynamics.gradients import NETS
from resnet_scale_cli.experiments.adjoint import AdjointSpec as S

NetChoice = enum.Enum("NetChoice", {n: n for n in NETS}, type=str)
Net = Annotated[Optional[NetChoice], typer.Option("--net", metavar="NET", show_default=False, help=(
    f"resnet: Euler step, memory-free by reverse Euler; heunnet: Heun step (eq. 8), by reverse Heun. Choices: "
    f"{' | '.join(NETS)}. \\[default: {S.net}]"))]
Activation = Annotated[Optional[opt.choice_enum("activations")], typer.Option(  # type: ignore[valid-type]
    "--activation", metavar="ACTIVATION", show_default=False,
    help=f"σ (the bounds assume a smooth f). Choices: {' | '.join(opt.choice_enum('activations').__members__)}. \\[default: {S.activation}]")]
Depth = Annotated[Optional[str], typer.Option("--depth", "-L", show_default=False, help=(
    f"Depths N: list 16,32,64 or range 16:256:5:log. \\[default: {','.join(map(str, S.depths))}]"))]
Width = Annotated[Optional[int], typer.Option("--width", "-d", show_default=False, help=f"Width d. \\[default: {S.width}]")]
Samples = Annotated[Optional[int], typer.Option("--samples", "-n", show_default=False,
                                                help=f"Draws (weights, input, target) per depth. \\[default: {S.samples}]")]
Batch = Annotated[Optional[int], typer.Option("--batch", show_default=False, help=f"Inputs per draw (the loss sums over them). \\[default: {S.batch}]")]
Beta = Annotated[Optional[float], typer.Option("--beta", show_default=False, help=f"Step s = N^-β (the paper: β = 1). \\[default: {S.beta:g}]")]
DType = Annotated[Optional[opt.choice_enum("dtypes")], typer.Option(  # type: ignore[valid-type]
    "--dtype", metavar="DTYPE", show_default=False, help=f"Precision (errors fall below float32's). Choices: float32 | float64. \\[default: {S.dtype}]")]


@app.command()
@opt.with_settings("law", "dist", "hurst", "lengthscale", "model", "seed", "device", "memory_gb", spec=S,
                   aliases={"depth": "depths"})
@with_executor
@opt.with_figure
def adjoint(settings: dict[str, Any], executor: Any, net: Net = None, activation: Activation = None, depth: Depth = None, width: Width = None,
            samples: Samples = None, batch: Batch = None, beta: Beta = None, dtype: DType = None, config: opt.Config = None,
            out: opt.Out = None, resume: opt.Resume = None, json_out: opt.Json = False, plot: opt.Plot = None,
            quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Backpropagate without storing activations (reverse Euler / Heun): errors and memory against depth N.

    Per depth: max_n ‖x̃_n − x_n‖/‖x_n‖, the errors of ∇_θ and ∇_x, Δ = max_n ‖θ_{n+1} − θ_n‖ and the
    peak memory of both backward passes; rates of the errors in N beside the paper's upper bound.
    Example: rscale adjoint --net heunnet --law rbf --depth 16,32,64,128,256 --plot adjoint.png
    """
    from resnet_scale_cli.settings import build_experiment_spec

    own = dict(net=net, activation=activation, depth=depth, width=width, samples=samples, batch=batch, beta=beta, dtype=dtype)
    flags = settings | {k: getattr(v, "value", v) for k, v in own.items()} | {"out": out, "resume": resume, "plot": plot}
    spec, outputs = build_experiment_spec(S, config, flags, aliases={"depth": "depths"})
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
