"""`rscale run`: one depth, every β."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.cli import options as opt, render
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
    from resnet_scale_cli.report import figures, tables
    render.execute(lambda progress: api.run(spec, progress=progress, out=out), draw=render.one_figure(plot),
                   total=progress_total(spec), label="layers", quiet=quiet, json_out=json_out, no_color=no_color,
                   document=lambda result: result.document(),
                   tables=lambda result: [tables.run_table(result, figures.run_title(spec)), tables.run_footer(result)])
