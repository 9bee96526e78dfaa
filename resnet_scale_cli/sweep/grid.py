"""The grid of `sweep` and `phase`: (law setting, depth L) × every β.

A cell is one `experiments.cell.measure` call, keyed by its coordinates (law, its parameter,
depth). Every cell draws from streams derived from the root seed and its own coordinates, so
results do not depend on the order cells run in, on resume or on the executor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import law_parameter
from resnet_scale_cli.spec import RunSpec


@dataclass(frozen=True)
class SweepSpec:
    """A base spec (β grid, samples, model, …), the depths, and the law parameter's values."""

    base: RunSpec
    depths: tuple[int, ...]
    params: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.depths:
            raise SpecError("--depth: no values given")
        for depth in self.depths:
            if depth < 1:
                raise SpecError(f"--depth must be at least 1, got {depth}")
        self.settings()  # every value of the law's parameter must make a valid spec (RunSpec validates)

    @property
    def parameter(self) -> str | None:
        return law_parameter(self.base.law)

    def settings(self) -> list[RunSpec]:
        """One base spec per law setting (H or ℓ value), in grid order."""
        if self.parameter is None:
            return [self.base]
        return [self.base.replace(**{self.parameter: value}) for value in self.params]

    def cells(self) -> Iterator[RunSpec]:
        for setting in self.settings():
            for depth in self.depths:
                yield setting.replace(depth=depth)

    def to_dict(self) -> dict[str, Any]:
        out = self.base.to_dict()
        out.pop("depth")
        out["depths"] = list(self.depths)
        if self.parameter:
            out.pop(self.parameter)
            out[self.parameter + "s"] = list(self.params)
        return out


def cell_id(spec: RunSpec) -> dict[str, Any]:
    """A cell's coordinates: law, its parameter (if any) and depth."""
    out: dict[str, Any] = {"law": spec.law}
    parameter = law_parameter(spec.law)
    if parameter:
        out[parameter] = getattr(spec, parameter)
    out["depth"] = spec.depth
    return out


def cell_key(cid: dict[str, Any]) -> str:
    """The store's key of a cell's coordinates (stable across runs)."""
    return json.dumps(cid, sort_keys=True)


def _nan_to_none(array: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in array]


def measure_cell(spec: RunSpec, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """One cell as a JSON-ready record: per-β statistics and the per-sample values."""
    from resnet_scale_cli.experiments import cell

    return _record(spec, cell.measure(spec, progress))


def measure_cells(specs: list[RunSpec], progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """`measure_cell` of each spec of a group (equal `experiments.cell.group_key`), measured in one
    pass of the engine where the memory budget allows; the records equal `measure_cell`'s."""
    from resnet_scale_cli.experiments import cell

    return [_record(spec, meas) for spec, meas in zip(specs, cell.measure_group(list(specs), progress))]


def _record(spec: RunSpec, meas: Any) -> dict[str, Any]:
    from resnet_scale_cli.experiments import cell

    return {
        "cell": cell_id(spec),
        "betas": list(meas.betas),
        "inputs_per_draw": meas.info["inputs_per_draw"],
        "results": cell.statistics(spec, meas),
        "values": {q: _nan_to_none(v) for q, v in meas.values.items()},
        "info": {k: meas.info[k] for k in ("device", "grad_method_used", "checkpoint_every")},
    }


def cell_cost(spec: RunSpec) -> int:
    """Units of progress (layers) one cell reports."""
    from resnet_scale_cli.experiments.cell import progress_total as layers

    return layers(spec)


def progress_total(sweep: SweepSpec) -> int:
    return sum(cell_cost(cell) for cell in sweep.cells())
