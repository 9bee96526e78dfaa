"""The grid of `sweep` and `phase`: (law setting, width d, depth L) × every β.

A cell is a `RunSpec` at one depth, keyed by its coordinates (law, its parameter, the width
when several are swept, depth). Every cell draws from streams derived from the root
seed and its own coordinates (d included), so results do not depend on the order cells run in,
on resume or on the executor. With a single width, cell ids and the stored settings are those
of a sweep without a width axis (resumes and baselines made before stay valid).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import law_parameter
from resnet_scale_cli.spec import RunSpec


@dataclass(frozen=True)
class WidthCell(RunSpec):
    """A cell of a sweep whose width is a grid axis: the same spec, whose id carries d."""


@dataclass(frozen=True)
class SweepSpec:
    """A base spec (β grid, samples, model, …), the depths, the law parameter's values and the
    widths (empty: the base spec's width only)."""

    base: RunSpec
    depths: tuple[int, ...]
    params: tuple[float, ...]
    widths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.depths:
            raise SpecError("--depth: no values given")
        for depth in self.depths:
            if depth < 1:
                raise SpecError(f"--depth must be at least 1, got {depth}")
        for width in self.widths:
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise SpecError(f"--width must be a whole number of at least 1, got {width!r}")
        if self.widths and self.widths[0] != self.base.width:
            object.__setattr__(self, "base", self.base.replace(width=self.widths[0]))
        self.settings()  # every value of the law's parameter must make a valid spec (RunSpec validates)

    @property
    def parameter(self) -> str | None:
        return law_parameter(self.base.law)

    @property
    def width_grid(self) -> tuple[int, ...]:
        """The swept widths d (the base spec's alone when none were given)."""
        return self.widths or (self.base.width,)

    @property
    def width_axis(self) -> bool:
        """True when several widths are swept (cells and analyses are then keyed by d)."""
        return len(self.width_grid) > 1

    def settings(self) -> list[RunSpec]:
        """One base spec per law setting (H or ℓ value), in grid order."""
        if self.parameter is None:
            return [self.base]
        return [self.base.replace(**{self.parameter: value}) for value in self.params]

    def cells(self) -> Iterator[RunSpec]:
        """Every cell in grid order: law setting, then width, then depth."""
        for setting in self.settings():
            for width in self.width_grid:
                cell = WidthCell(**{**setting.__dict__, "width": width}) if self.width_axis else setting
                for depth in self.depths:
                    yield cell.replace(depth=depth)

    def to_dict(self) -> dict[str, Any]:
        out = self.base.to_dict()
        out.pop("depth")
        out["depths"] = list(self.depths)
        if self.parameter:
            out.pop(self.parameter)
            out[self.parameter + "s"] = list(self.params)
        if self.width_axis:
            out.pop("width")
            out["widths"] = list(self.width_grid)
        return out


def cell_id(spec: RunSpec) -> dict[str, Any]:
    """A cell's coordinates: law, its parameter (if any), the width d when it is a grid axis
    (a `WidthCell`), and depth."""
    out: dict[str, Any] = {"law": spec.law}
    parameter = law_parameter(spec.law)
    if parameter:
        out[parameter] = getattr(spec, parameter)
    if isinstance(spec, WidthCell):
        out["width"] = spec.width
    out["depth"] = spec.depth
    return out


def cell_key(cid: dict[str, Any]) -> str:
    """The store's key of a cell's coordinates (stable across runs)."""
    return json.dumps(cid, sort_keys=True)
