"""What a weight law is (`Law`): its sampler, its autocorrelation across depth, the spec fields
it reads with their defaults, the parameter (with its symbol) a sweep may vary, its labels, its
theory references and its continuous-depth limit. Each law module defines one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws.references import Limit, Reference

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
    `params` are the spec fields the law reads, `defaults` the `parameters`' default values;
    `parameter` (symbol `symbol`) is the one a sweep may vary over a grid; `parameters` declare
    the settings the law adds to a spec (`fields.Setting`: name, default, check, help, symbol).

    Theory: `references(quantity, model, activation, settings, predict)` is the reference critical
    β of a ratio with its basis (`predict(H)` gives the first-order finite-(L, d) prediction for
    fGn-like memory of Hurst index H, or None); `limit(settings)` the continuous-depth `Limit` at
    the critical β, or the reason there is none (a str; `limit` may also be that Limit or reason);
    `smoothness` δ in Δ = max_k ‖θ_{k+1} − θ_k‖ ∝ L^{−δ} (None: not known); `independent`: the
    entries are independent across depth, symmetric with unit variance (the exact second-moment
    identity holds).
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
    references: Callable[..., Reference] | None = None
    limit: Callable[[dict[str, Any]], Limit | str] | Limit | str = "none is declared for it"
    smoothness: float | None = None
    independent: bool = False
    parameters: tuple[Any, ...] = ()
    #: bytes the sampler holds for paths of length L besides the paths themselves, and what they are
    held_bytes: Callable[[int], int] = lambda depth: 0
    held_what: str = ""

    @property
    def defaults(self) -> dict[str, Any]:
        """The default of each setting the law declares (`parameters`)."""
        return {p.name: p.default for p in self.parameters}

    def settings(self, given: dict[str, Any]) -> dict[str, Any]:
        """`given` with the law's defaults for the fields it leaves out."""
        return {**self.defaults, **given}

    def label(self, settings: dict[str, Any], form: str = "title") -> str:
        """A law setting's label in one of the `LABEL_FORMS`, e.g. for fbm with H = 0.7 and iid:
        title 'fbm (H = 0.7)', 'iid (gaussian)' (the parameter, else the other fields); name
        'fbm (H = 0.7)', 'iid'; fixed 'fbm', 'iid (gaussian)' (the fields a sweep does not vary);
        spaced 'fbm H = 0.7', 'iid'; compact 'fbm H=0.7', 'iid'; parameter 'H = 0.7', '';
        parameter_compact 'H=0.7', ''."""
        if form not in LABEL_FORMS:
            raise ValueError(f"label form must be one of {', '.join(LABEL_FORMS)}, got {form!r}")
        settings = self.settings(settings)
        if form == "fixed" or not self.parameter:
            if form.startswith("parameter"):
                return ""
            fixed = ", ".join(str(settings[p]) for p in self.params if p != self.parameter)
            return f"{self.name} ({fixed})" if fixed and form in ("title", "fixed") else self.name
        value = f"{settings[self.parameter]:g}"
        parameter = f"{self.symbol}={value}" if form.endswith("compact") else f"{self.symbol} = {value}"
        return {"title": f"{self.name} ({parameter})", "name": f"{self.name} ({parameter})",
                "spaced": f"{self.name} {parameter}", "compact": f"{self.name} {parameter}"}.get(form, parameter)

    def reference(self, quantity: str, model: str, activation: str, settings: dict[str, Any],
                  predict: Callable[[float], Any] = lambda hurst: None) -> Reference:
        """The reference critical β of the `quantity` ratio (output or gradient) with its basis."""
        if self.references is None:
            return Reference(None, "none", f"no reference for law {self.name!r}")
        return self.references(quantity, model, activation, self.settings(settings), predict)

    def limit_of(self, settings: dict[str, Any]) -> Limit:
        """The continuous-depth limit at the critical β, or a `SpecError` saying why there is none."""
        if isinstance(self.limit, str):
            raise SpecError(f"--law {self.name} has no continuous-depth limit: {self.limit}")
        found = self.limit(self.settings(settings)) if callable(self.limit) else self.limit
        if isinstance(found, str):
            raise SpecError(found)
        return found


LABEL_FORMS = ("title", "name", "fixed", "spaced", "compact", "parameter", "parameter_compact")


def into(out: Any, paths: Any) -> Any:
    """A sampler's result: `paths`, or `out` with `paths` copied into it."""
    return paths if out is None else out.copy_(paths)


DISTS = ("gaussian", "rademacher", "uniform")
FBM_BACKENDS = ("torch", "fbm")
