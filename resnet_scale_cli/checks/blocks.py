"""Check files that name a `block = "package.module:factory"`: the grid of `rscale inspect`
(experiments.inspect_block), seen as the sweep the expectations read (`base.betas`, `depths`,
`parameter`, `params`, `to_dict()`), so a project can guard its own architecture in CI with the
same `[[expect]]` tables (regime, statistic, critical_beta, theorem) and baselines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_scale_cli.checks.experiment_grid import ExperimentGrid

#: keys a block check file may hold beyond those of run/sweep/phase (InspectSpec's own fields;
#: listed here so that parsing a check file does not import torch — a test keeps them in step)
INSPECT_KEYS = frozenset({"block", "init", "input_shape", "inputs", "homogeneous", "profile_points", "batching",
                          "threads", "depths"})


@dataclass(frozen=True)
class BlockSweep(ExperimentGrid):
    """An `InspectSpec` (`base`) as the grid of a check file."""

    base: Any
    command = "inspect"

    @property
    def depths(self) -> tuple[int, ...]:
        return self.base.depths

    @property
    def parameter(self) -> str | None:
        from resnet_scale_cli.laws import law_parameter

        return law_parameter(self.base.law)

    @property
    def params(self) -> tuple[float, ...]:
        return (getattr(self.base, self.parameter),) if self.parameter else ()

    def to_dict(self) -> dict[str, Any]:
        return self.base.to_dict()


def block_sweep(settings: dict[str, Any]) -> BlockSweep:
    """The grid of a check file's settings that name a block (keys as in `rscale inspect --config`)."""
    from resnet_scale_cli.experiments.inspect_block import InspectSpec
    from resnet_scale_cli.settings import build_experiment_spec

    spec, _ = build_experiment_spec(InspectSpec, None, settings, aliases={"depth": "depths", "beta": "betas"}, outputs=())
    return BlockSweep(spec)
