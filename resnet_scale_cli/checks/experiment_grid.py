"""The grid of a check file that a registered experiment measures (`command = "spectrum"`,
`"adjoint"`, `"limit"`, `"train"`, or a `block` for `inspect`): cost and records as
`rscale <command>` has them, from `experiments.registry`."""

from __future__ import annotations

from typing import Any, Callable

from resnet_scale_cli.experiments.protocol import measure, total_cost
from resnet_scale_cli.experiments.registry import EXPERIMENTS


class ExperimentGrid:
    """A spec (`base`) that `EXPERIMENTS[command]` measures."""

    base: Any
    command: str

    def cost(self) -> int:
        return total_cost(EXPERIMENTS[self.command], self.base)

    def records(self, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """Every cell's record, as `rscale <command>` measures it."""
        return measure(EXPERIMENTS[self.command], self.base, progress=progress)
