"""The registry of weight laws: each `Law` brings its sampler, its autocorrelation across depth,
the spec fields it reads, and the parameter (with its symbol) a sweep may vary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from resnet_scale_cli.errors import SpecError


@dataclass(frozen=True)
class Law:
    """A weight law across depth.

    `sampler(depth, settings, dtype, device)` returns a function `(n_paths, generator) ->
    (L, n_paths)` tensor of unit-variance entry paths; `chunked = False` means it must be given
    all of a draw's paths at once. `autocorrelation(lags, depth, settings)` is the theory.
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

    def label(self, settings: dict[str, Any]) -> str:
        """A short title for a law setting, e.g. 'fbm (H = 0.7)' or 'iid (gaussian)'."""
        if self.parameter:
            return f"{self.name} ({self.symbol} = {settings[self.parameter]:g})"
        if self.params:
            return f"{self.name} ({', '.join(str(settings[p]) for p in self.params)})"
        return self.name


DISTS = ("gaussian", "rademacher", "uniform")
FBM_BACKENDS = ("torch", "fbm")


def _registry() -> dict[str, Law]:
    from resnet_scale_cli.laws import fbm, iid, rbf, tied

    return {law.LAW.name: law.LAW for law in (iid, rbf, fbm, tied)}


LAWS: dict[str, Law] = _registry()


def law_entry(name: str) -> Law:
    """The registry entry of a law, or a `SpecError` naming the choices."""
    try:
        return LAWS[name]
    except (KeyError, TypeError):
        raise SpecError(f"--law: unknown value {name!r}; choose from {', '.join(LAWS)}") from None


def law_parameter(law: str) -> str | None:
    """The parameter a sweep may vary for a law: `hurst` (fbm), `lengthscale` (rbf), or none."""
    return law_entry(law).parameter


def theory_autocorrelation(law: str, lags: np.ndarray, depth: int, **settings: Any) -> np.ndarray:
    """Autocorrelation across depth of one entry path at the given lags."""
    return law_entry(law).autocorrelation(np.asarray(lags, dtype=np.float64), depth, settings)


def parameter_symbol(parameter: str) -> str:
    """The symbol of a law parameter: H for hurst, ℓ for lengthscale."""
    return next(law.symbol for law in LAWS.values() if law.parameter == parameter)


def setting_label(setting: dict[str, Any], *, compact: bool = False, lead: str = "") -> str:
    """'H = 0.7' (or 'H=0.7' when compact) for the law parameters in a cell or setting mapping,
    prefixed by `lead`; '' when it holds none."""
    sep = "=" if compact else " = "
    parts = [f"{law.symbol}{sep}{setting[law.parameter]:g}" for law in LAWS.values()
             if law.parameter and law.parameter in setting]
    return lead + " ".join(parts) if parts else ""
