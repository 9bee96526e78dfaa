"""Check files with `command = "spectrum"`: the grid of `rscale spectrum` (experiments.spectrum),
seen as the sweep the expectations read (`base.betas`, `depths`, `parameter`, `params`,
`width_grid`, `to_dict()`), with its own records and critical-β analysis (read from log10 σ_max
and log10 cond). Its expectation types: `spectrum_statistic`, `spectrum_critical_beta`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_scale_cli.checks.experiment_grid import ExperimentGrid
from resnet_scale_cli.experiments.registry import EXPERIMENTS

#: keys a spectrum check file may hold beyond those of run/sweep/phase (SpectrumSpec's own fields;
#: listed here so that parsing a check file does not import torch — a test keeps them in step)
SPECTRUM_KEYS = frozenset({"command", "depths", "betas", "hist_beta"})


@dataclass(frozen=True)
class SpectrumSweep(ExperimentGrid):
    """A `SpectrumSpec` (`base`) as the grid of a check file."""

    base: Any
    command: str = "spectrum"

    @property
    def depths(self) -> tuple[int, ...]:
        return self.base.depths

    @property
    def parameter(self) -> str | None:
        return self.base.parameter

    @property
    def params(self) -> tuple[float, ...]:
        return tuple(getattr(self.base, self.parameter)) if self.parameter else ()

    @property
    def width_grid(self) -> tuple[int, ...]:
        return tuple(self.base.width)

    def to_dict(self) -> dict[str, Any]:
        return {"command": "spectrum", **self.base.to_dict()}

    def critical(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return EXPERIMENTS["spectrum"].summarize(self.base, records)["critical"] if len(self.depths) > 1 else []


def spectrum_sweep(settings: dict[str, Any]) -> SpectrumSweep:
    """The grid of a check file's settings with `command = "spectrum"` (keys as in
    `rscale spectrum --config`)."""
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec
    from resnet_scale_cli.settings import build_experiment_spec

    values = {k: v for k, v in settings.items() if k != "command"}
    spec, _ = build_experiment_spec(SpectrumSpec, None, values, aliases={"depth": "depths", "beta": "betas"}, outputs=())
    return SpectrumSweep(spec)
