"""The registry of weight laws: one entry per law module. Adding a law is one module (a `Law`
with its sampler and autocorrelation) and one name in the tuple below, or, from outside the
package, `RSCALE_LAWS="module:NAME[,module:NAME]"` (`add_laws`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import fbm, iid, rbf, tied
from resnet_scale_cli.laws.base import DISTS, FBM_BACKENDS, Law  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    import numpy as np

LAWS: dict[str, Law] = {module.LAW.name: module.LAW for module in (iid, rbf, fbm, tied)}


def add_laws(named: str | None) -> None:
    """Add to `LAWS` the `Law` objects `RSCALE_LAWS` names (`module:NAME`, comma separated): their
    parameters then become settings of every command. A bad entry is a one-line `SpecError`."""
    import importlib

    for entry in filter(None, (part.strip() for part in (named or "").split(","))):
        module, _, name = entry.partition(":")
        if not module or not name.isidentifier():
            raise SpecError(f"RSCALE_LAWS: expected module:NAME, got {entry!r}")
        try:
            law = getattr(importlib.import_module(module), name, None)
        except Exception as exc:  # the module is the user's: any failure to import it is one line
            raise SpecError(f"RSCALE_LAWS: cannot import {module!r}: {type(exc).__name__}: {exc}") from None
        if not isinstance(law, Law):
            raise SpecError(f"RSCALE_LAWS: module {module!r} has no {name!r}" if law is None
                            else f"RSCALE_LAWS: {entry} is a {type(law).__name__}, not a Law")
        if law.name in LAWS:
            raise SpecError(f"RSCALE_LAWS: {entry} is named {law.name!r}, the name of a law already registered")
        taken = {s.name for known in LAWS.values() for s in known.parameters}
        clash = [s.name or repr(s) for s in law.parameters if not s.name or s.name in taken]
        if clash:
            raise SpecError(f"RSCALE_LAWS: {entry}: parameter {clash[0]} needs a name no other law declares")
        LAWS[law.name] = law


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
