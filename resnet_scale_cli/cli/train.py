"""`rscale train`: train deep ResNets over a grid of depths and measure whether they stay
discretizations of a neural ODE (max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ against L)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Optional

import typer

from resnet_scale_cli.cli import options as opt
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.cli.execution import with_executor
from resnet_scale_cli.experiments import training_spec as ts

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ts.TrainSpec)}


def _option(name: str, kind: Any, help: str, *flags: str) -> Any:
    """A command-specific option (typed choices when `kind` is a tuple of names)."""
    flags = flags or ("--" + name.replace("_", "-"),)
    listed = f" Choices: {' | '.join(kind)}." if isinstance(kind, tuple) else ""
    default = f" \\[default: {_DEFAULTS[name]}]" if _DEFAULTS[name] is not None else ""
    typed = opt.choice_enum(f"train_{name}", kind) if isinstance(kind, tuple) else kind
    return Annotated[Optional[typed], typer.Option(*flags, help=help + listed + default, show_default=False,
                                                   **({"metavar": name.upper()} if listed else {}))]


OPTIONS = {
    "net": _option("net", ts.NETS, "resnet: Euler steps, N weight layers; heunnet: Heun steps (Sander, Ablin & Peyré, eq. 8), "
                   "N + 1 weight layers θ_0..θ_N."),
    "beta": _option("beta", float, "Residual scale L^-β (one value; the theorem is for β = 1)."),
    "samples": _option("samples", int, "Networks trained per depth (seeds; the exponent's interval resamples them).", "--samples", "-n"),
    "hidden": _option("hidden", int, "Hidden width m of --model full's V σ(W h). \\[default: the width d]"),
    "v_init": _option("v_init", ts.V_INITS, "V(0) from the law, or zero (the authors' scripts)."),
    "data": _option("data", ts.DATASETS, "Task: teacher regression (MSE, R²) or scikit-learn digits (cross-entropy, accuracy)."),
    "n_examples": _option("n_examples", int, "Training examples."),
    "n_test": _option("n_test", int, "Test examples."),
    "input_dim": _option("input_dim", int, "Input dimension p of --data synthetic (digits: 64)."),
    "output_dim": _option("output_dim", int, "Outputs of --data synthetic (digits: 10 classes)."),
    "noise": _option("noise", float, "Label noise of --data synthetic."),
    "data_seed": _option("data_seed", int, "Seed of the data and the teacher (shared by every depth and network)."),
    "optimizer": _option("optimizer", ts.OPTIMIZERS, "gd = full-batch gradient descent (gradient flow), sgd, adam."),
    "lr": _option("lr", float, "Learning rate η (> 0): the time step of gradient flow in rescaled time."),
    "lr_scaling": _option("lr_scaling", ts.LR_SCALINGS, "depth: step η·L^(2β−1)·∇ (= η L ∇ at β = 1; gd, sgd); none: η ∇."),
    "steps": _option("steps", int, "Optimizer steps (≥ 1)."),
    "batch_size": _option("batch_size", int, "Minibatch of sgd/adam. \\[default: full batch]"),
    "backprop": _option("backprop", ts.BACKPROPS, "exact: stored activations; adjoint: memory-free, activations recovered by reverse Euler (reverse Heun for --net heunnet)."),
    "track_points": _option("track_points", int, "Log-spaced steps at which losses and norms are recorded."),
    "depth_seeds": _option("depth_seeds", ts.DEPTH_SEEDS, "Same draws at every depth (common), or independent."),
    "limit_reference": Annotated[Optional[int], typer.Option(
        "--limit-reference", help="R ≥ 2: also train a reference of depth R × the largest depth from the same path θ(s) "
        "and fit the rates of the trained nets' distance to it (weights, states); needs β = 1, gd with depth-scaled lr, "
        "law tied|rbf|iid, depths dividing R × max depth. \\[default: off]", show_default=False,
        rich_help_panel="Training")],
}


Compare = Annotated[Optional[list[str]], typer.Option(
    "--compare", help="Another run's document (--json output or <out>/summary.json) drawn on the --plot smoothness "
    "figure, e.g. another initialization (repeatable).", show_default=False)]


@app.command()
@opt.with_settings("law", "dist", "hurst", "lengthscale", "model", "activation", "depth", "width", "seed", "device",
                   "dtype", "memory_gb", grid=("depth",), extra=OPTIONS, spec=ts.TrainSpec,
                   aliases={"depth": "depths"})
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

    given = {"out": out, "resume": resume, "plot": plot}
    spec, outputs = build_experiment_spec(ts.TrainSpec, config, settings | given, aliases={"depth": "depths"})
    from resnet_scale_cli import api  # after the spec: bad values answer before torch is imported
    from resnet_scale_cli.report import console as consoles, documents, figures, figures_train, tables_train
    plot_path = figures.check_plot_path(outputs["plot"]) if outputs.get("plot") else None
    others = figures_train.read_documents(compare or [])
    with consoles.progress_bar(api.total_cost(api.TRAIN, spec), "train: steps", not quiet) as advance:
        result = api.train(spec, out=outputs.get("out"), resume=bool(outputs.get("resume")), progress=advance,
                           executor=executor)
    written = figures_train.plot_training(result.document, plot_path, others=others) if plot_path else []
    if json_out:
        return documents.dump_json(result.document)
    console = consoles.make_console(stderr=False, no_color=no_color)
    for renderable in tables_train.train_tables(result.document):
        console.print(renderable)
    for path in written:
        console.print(f"figure written to {path}")
