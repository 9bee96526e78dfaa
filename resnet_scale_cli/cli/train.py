"""`rscale train`: train deep ResNets over a grid of depths and measure whether they stay
discretizations of a neural ODE (max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ against L)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt, render
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.experiments.training_spec import TrainSpec
from resnet_scale_cli.fields import settings_of

Compare = Annotated[Optional[list[str]], typer.Option(
    "--compare", help="Another run's document (--json output or <out>/summary.json) drawn on the --plot smoothness "
    "figure, e.g. another initialization (repeatable).", show_default=False)]


@app.command()
@opt.with_settings(*(setting.key for _, setting in settings_of(TrainSpec)), spec=TrainSpec)
@with_executor
@opt.with_figure
def train(settings: dict[str, Any], executor: Any, config: opt.Config = None, out: opt.Out = None, resume: opt.Resume = None,
          json_out: opt.Json = False, plot: opt.Plot = None, compare: Compare = None, quiet: opt.Quiet = False,
          no_color: opt.NoColor = False) -> None:
    """Train ResNets (or HeunNets, --net heunnet) at each depth; fit max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ ∝ L^exponent (theory −1 for tied/rbf at β = 1).

    Example: rscale train --law tied --depth 8,16,32,64 --steps 300 --samples 4 --plot train.png
    (--plot writes <stem>_smoothness, <stem>_weights and <stem>_loss figures, and <stem>_limit with --limit-reference).
    """
    from resnet_scale_cli.settings import build_experiment_spec

    spec, outputs = build_experiment_spec(TrainSpec, config, settings | {"out": out, "resume": resume, "plot": plot})
    from resnet_scale_cli import api  # after the spec: bad values answer before torch is imported
    from resnet_scale_cli.report import figures, figures_train, tables_train
    plot_path = figures.check_plot_path(outputs["plot"]) if outputs.get("plot") else None
    others = figures_train.read_documents(compare or [])
    render.execute(lambda progress: api.train(spec, out=outputs.get("out"), resume=bool(outputs.get("resume")),
                                              progress=progress, executor=executor),
                   total=api.total_cost(api.TRAIN, spec), label="train: steps", quiet=quiet, json_out=json_out,
                   no_color=no_color, document=lambda result: result.document,
                   tables=lambda result: tables_train.train_tables(result.document),
                   draw=lambda result: figures_train.plot_training(result.document, plot_path, others=others)
                   if plot_path else [])
