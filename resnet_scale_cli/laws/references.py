"""What a law declares about the theory, each value with its basis: the reference critical β of
a ratio (`Reference`) and the continuous-depth limit at that β (`Limit`). The law modules build
them; `analysis.theory` attaches finite-(L, d) predictions and renders them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAPER = "Marion, Fermanian, Biau, Vert, \"Scaling ResNets in the large-depth regime\" (arXiv:2206.06929, JMLR 2025)"
QUANTITY_TEXT = {"output": "output ratio ‖h_L − h_0‖/‖h_0‖", "gradient": "gradient ratio ‖p_0 − p_L‖/‖p_L‖"}
#: basis kinds, strongest first
BASES = ("theorem", "first-order", "prediction", "none")
_BASIS_LABEL = {"theorem": "theorem", "first-order": "first-order argument", "prediction": "prediction", "none": "none"}


@dataclass(frozen=True)
class Reference:
    """The reference critical β of one (law, model, activation, ratio): `value` is the line drawn
    (None: none holds, nothing is drawn); `basis` one of `BASES`; `statement` says what and why;
    `prediction` a finite-(L, d) first-order prediction (`analysis.theory.Prediction`) or None."""

    value: float | None
    basis: str
    statement: str
    source: str | None = None
    prediction: Any = None

    def basis_dict(self) -> dict[str, Any]:
        """The `theory_basis` object of the JSON documents."""
        return {"kind": self.basis, "statement": self.statement, "source": self.source}

    @property
    def label(self) -> str:
        """A short label for tables and legends, e.g. '0.5 (theorem)'."""
        return "—" if self.value is None else f"{self.value:.3g} ({_BASIS_LABEL[self.basis]})"


@dataclass(frozen=True)
class Limit:
    """The continuous-depth limit of a law's ResNet h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}) at its
    critical β: `kind` sde, young or ode; `where` names that β; the ResNet is the one-step
    `scheme` of `equation`, compared with `reference` (the same path, refined); the distance
    closes like L^{-r}, r = `rate` (expected in `rate_range` at moderate L) on `rate_basis`;
    `models` are the models with a pathwise limit (None: every model)."""

    kind: str
    critical_beta: float
    where: str
    equation: str
    scheme: str
    reference: str
    rate: float
    rate_range: tuple[float, float]
    rate_basis: str
    models: tuple[str, ...] | None = None

    def rate_reference(self) -> dict[str, Any]:
        """The theory fields of the `limit` document's rates: {"theory", "theory_range", "basis"}."""
        return {"theory": self.rate, "theory_range": list(self.rate_range), "basis": self.rate_basis}


def lipschitz_references(quantity: str, model: str, activation: str, settings: dict[str, Any], predict) -> Reference:
    """Critical β = 1 for weights Lipschitz and bounded in depth (smooth GP, tied): a theorem for
    the output ratio (Marion et al.), the first-order argument for the gradient ratio."""
    what = QUANTITY_TEXT[quantity]
    if quantity == "output":
        return Reference(1.0, "theorem", f"theorem for the {what}: weights Lipschitz and bounded in depth "
                         "(smooth GP, tied): identity for β > 1, bounded at β = 1 (ODE limit), max_k ratio "
                         "→ ∞ for β < 1", PAPER)
    return Reference(1.0, "first-order", f"first-order scaling argument for the {what}: the tangent recursion "
                     "has the same depth-regular weights; the paper's theorem is stated for the output ratio")


#: rate, range and basis of the neural ODE's distance ‖H_{k/L} − h_k‖ ≤ c/L: a theorem (Marion et
#: al. for Lipschitz weight processes; Sander et al., Prop. 1; Euler's first order)
ODE_REFERENCE_RATE = (1.0, (1.0, 1.0), "theorem (upper bound c/L for Lipschitz weights, Marion et al.; Euler's first order)")
