"""`rscale check`: check files as regression checks (exit 1 when an expectation fails)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from resnet_scale_cli.cli import options as opt, render
from resnet_scale_cli.cli.app import EXIT_CHECK_FAILED, app

Files = Annotated[list[str], typer.Argument(help="Check files (TOML); '-' reads one from stdin.", show_default=False)]
Baseline = Annotated[Optional[str], typer.Option("--baseline", help="Compare every statistic with this stored run.", show_default=False)]
UpdateBaseline = Annotated[bool, typer.Option("--update-baseline", help="Write this run's statistics into --baseline.")]
Confidence = Annotated[float, typer.Option("--confidence", help="Confidence of the baseline comparison (family-wise).")]
Junit = Annotated[Optional[str], typer.Option("--junit", help="Write a JUnit XML report.", show_default=False)]


@app.command()
@opt.conventions
def check(files: Files, baseline: Baseline = None, update_baseline: UpdateBaseline = False, confidence: Confidence = 0.99,
          junit: Junit = None, seed: opt.Seed = None, device: opt.Device = None, threads: opt.Threads = None, dry_run: opt.DryRunOpt = False, json_out: opt.Json = False,
          quiet: opt.Quiet = False, no_color: opt.NoColor = False) -> None:
    """Run check files: exit 0 when every expectation holds, 1 when one fails, 2 on bad input."""
    from resnet_scale_cli import api
    from resnet_scale_cli.errors import SpecError
    from resnet_scale_cli.report import documents, tables

    if not 0.5 <= confidence < 1.0:
        raise SpecError(f"--confidence must be in [0.5, 1), got {confidence}")
    if update_baseline and not baseline:
        raise SpecError("--update-baseline needs --baseline FILE")
    checks = api.load_checks(files, seed=seed, device=device.value if device else None)
    if dry_run:  # the files, their expectations and cells; nothing is measured
        return opt.show_check_dry_run(checks, json_out)
    from resnet_scale_cli.settings import apply_threads

    apply_threads(threads)
    outcome = render.execute(lambda progress: api.run_checks(checks, baseline=baseline, update_baseline=update_baseline,
                                                             confidence=confidence, junit=junit, progress=progress),
                             total=api.total_layers(checks), label="check: layers", quiet=quiet, json_out=json_out,
                             no_color=no_color, document=documents.check_document,
                             tables=lambda outcome: tables.check_tables(outcome, junit))
    if not outcome.passed:
        raise typer.Exit(EXIT_CHECK_FAILED)
