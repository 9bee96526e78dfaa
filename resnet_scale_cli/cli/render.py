"""What every command does once its spec is built: measure under a progress bar on stderr, write
the --plot figures, then print one JSON document (--json) or the tables and a line per figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

Draw = Callable[[Any], list[Path]]


def execute(call: Callable[[Any], Any], *, quiet: bool, json_out: bool, no_color: bool,
            document: Callable[[Any], dict[str, Any]], tables: Callable[[Any], Iterable[Any]],
            draw: Draw | None = None, total: int | None = None, label: str = "") -> Any:
    """The result of `call(progress)`, measured under a bar of `total` steps (none without `total`,
    with --quiet or off a terminal); the figures `draw(result)` writes; then `document(result)` as
    JSON, or the `tables(result)` and "figure written to PATH" per figure."""
    from resnet_scale_cli.report import console as consoles
    from resnet_scale_cli.report.documents import dump_json

    with consoles.progress_bar(total or 0, label, not quiet and total is not None) as advance:
        result = call(advance)
    written = draw(result) if draw else []
    if json_out:
        dump_json(document(result))
        return result
    console = consoles.make_console(stderr=False, no_color=no_color)
    for renderable in [*tables(result), *(f"figure written to {path}" for path in written)]:
        console.print(renderable)
    return result


def one_figure(plot: str | None, figure: Callable[[Any], Any] = lambda result: result.figure()) -> Draw:
    """The --plot figure of a command that draws one: the path is checked now, before measuring;
    `draw(result)` saves `figure(result)` there."""
    from resnet_scale_cli.report.figures import check_plot_path, save

    path = check_plot_path(plot) if plot else None
    return lambda result: [save(figure(result), path)] if path else []


def timed(result: Any) -> dict[str, Any]:
    """A measured grid's or experiment's document with its `elapsed_seconds` (to the millisecond)."""
    return result.document | {"elapsed_seconds": round(result.elapsed_seconds, 3)}


def experiment(name: str, spec_class: type, config: str | None, flags: dict[str, Any], executor: Any, *,
               tables: Callable[[Any], Iterable[Any]], quiet: bool, json_out: bool, no_color: bool,
               outputs: tuple[str, ...] = ("out", "resume", "plot"),
               figures: Callable[[Any, dict[str, Any]], Draw] | None = None) -> None:
    """`rscale <name>`: the spec from --config and the flags (before torch is imported), measured by
    `api.run_experiment` (in --out, resumable), the `figures(spec, outputs)` (else the --plot
    figure), then the timed document or the `tables(result)`."""
    from resnet_scale_cli.settings import build_experiment_spec

    spec, found = build_experiment_spec(spec_class, config, flags, outputs=outputs)
    from resnet_scale_cli import api

    draw = figures(spec, found) if figures else one_figure(found.get("plot"))
    run = api.EXPERIMENTS[name]
    execute(lambda progress: api.run_experiment(run, spec, out=found.get("out"), resume=bool(found.get("resume")),
                                                progress=progress, executor=executor),
            total=api.total_cost(run, spec), label=f"{name}: layers", quiet=quiet, json_out=json_out,
            no_color=no_color, document=timed, tables=tables, draw=draw)
