"""What a weight law is (`Law`): its sampler, its autocorrelation across depth, the spec fields
it reads, and the parameter (with its symbol) a sweep may vary. Each law module defines one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Law:
    """A weight law across depth.

    `sampler(depth, settings, dtype, device)` returns a function `(n_paths, generator, out=None)
    -> (L, n_paths)` tensor of unit-variance entry paths, written into `out` (an (L, n_paths)
    view) when given (`into`); `chunked = False` means it must be given all of a draw's paths
    at once; `whole_draw` means its function also takes `chunk=` and, given all of a draw's paths
    at once, draws them exactly as one call per chunk would. The numbers drawn never depend on `out`. `autocorrelation(lags, depth, settings)` is the theory.
    `params` are the spec fields the law reads; `parameter` (symbol `symbol`) is the one a sweep
    may vary over a grid.
    """

    name: str
    summary: str
    params: tuple[str, ...]
    sampler: Callable[..., Callable[[int, Any], Any]]
    autocorrelation: Callable[[np.ndarray, int, dict[str, Any]], np.ndarray]
    parameter: str | None = None
    symbol: str | None = None
    chunked: Callable[[dict[str, Any]], bool] = lambda settings: True
    whole_draw: Callable[[dict[str, Any]], bool] = lambda settings: False

    def label(self, settings: dict[str, Any]) -> str:
        """A short title for a law setting, e.g. 'fbm (H = 0.7)' or 'iid (gaussian)'."""
        if self.parameter:
            return f"{self.name} ({self.symbol} = {settings[self.parameter]:g})"
        if self.params:
            return f"{self.name} ({', '.join(str(settings[p]) for p in self.params)})"
        return self.name


def into(out: Any, paths: Any) -> Any:
    """A sampler's result: `paths`, or `out` with `paths` copied into it."""
    return paths if out is None else out.copy_(paths)


DISTS = ("gaussian", "rademacher", "uniform")
FBM_BACKENDS = ("torch", "fbm")
