"""`rscale run`: one depth, every β."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt
from resnet_scale_cli.cli.app import app
from resnet_scale_cli.settings import RUN_SETTINGS


@app.command()
@opt.with_settings(*RUN_SETTINGS)
@opt.with_figure
def run(settings: dict[str, Any], config: opt.Config = None, out: opt.Out = None, json_out: opt.Json = False,
        plot: opt.Plot = None, quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Measure log10 ‖h_L − h_0‖/‖h_0‖ and log10 ‖p_0 − p_L‖/‖p_L‖ at one depth, for each β."""
    from resnet_scale_cli.settings import build_spec

    spec = build_spec(config, settings)  # before torch is imported: bad values answer at once
    from resnet_scale_cli import api
    from resnet_scale_cli.experiments.cell import progress_total
    from resnet_scale_cli.report import console as consoles, documents, figures, tables
    plot_path = figures.check_plot_path(plot) if plot else None
    with consoles.progress_bar(progress_total(spec), "layers", not quiet) as advance:
        result = api.run(spec, progress=advance, out=out)
    if plot_path:
        figures.save(result.figure(), plot_path)
    if json_out:
        return documents.dump_json(documents.run_document(result))
    console = consoles.make_console(stderr=False, no_color=no_color)
    console.print(tables.run_table(result, figures.run_title(spec)))
    console.print(tables.run_footer(result))
    if plot_path:
        console.print(f"figure written to {plot_path}")
