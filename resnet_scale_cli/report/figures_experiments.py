"""The `--plot` figure of each experiment command, from its JSON document and records: the one
table from command name to figure (each drawn by its `figures_<command>` module)."""

from __future__ import annotations

from typing import Any

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.report import figures_adjoint, figures_inspect, figures_limit, figures_spectrum, figures_train
from resnet_scale_cli.report.figures import phase_depth_figure


def experiment_figure(command: str, document: dict[str, Any], records: list[dict[str, Any]]):
    """The --plot figure of an experiment's result (train: its smoothness figure)."""
    draw = {
        "limit": lambda: figures_limit.limit_figure(document),
        "spectrum": lambda: figures_spectrum.spectrum_figure(document, records),
        "adjoint": lambda: figures_adjoint.adjoint_figure([document]),
        "train": lambda: figures_train.smoothness_figure([document]),
        "inspect": lambda: phase_depth_figure(list(records), document["critical"][0],
                                              figures_inspect.inspect_title(document["spec"])),
    }
    if command not in draw:
        raise SpecError(f"no figure for {command!r}")
    return draw[command]()
