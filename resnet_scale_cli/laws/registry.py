"""The registry of weight laws: one entry per law module. Adding a law is one module (a `Law`
with its sampler and autocorrelation) and one name in the tuple below."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import fbm, iid, rbf, tied
from resnet_scale_cli.laws.base import DISTS, FBM_BACKENDS, Law  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    import numpy as np

LAWS: dict[str, Law] = {module.LAW.name: module.LAW for module in (iid, rbf, fbm, tied)}


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
    import numpy as np

    entry = law_entry(law)
    return entry.autocorrelation(np.asarray(lags, dtype=np.float64), depth, entry.settings(settings))


def law_parameters() -> tuple[str, ...]:
    """Every parameter a sweep may vary, over the registered laws (hurst, lengthscale, …)."""
    return tuple(law.parameter for law in LAWS.values() if law.parameter)


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
