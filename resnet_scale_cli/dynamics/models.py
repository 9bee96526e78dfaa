"""The residual functions f(h, θ_k) of h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}): a registry of
their names, formulas and the weight matrices each layer holds. Importing it does not import torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    name: str
    formula: str
    weights: tuple[str, ...]

    @property
    def has_inner_weights(self) -> bool:
        return "W" in self.weights


MODELS: dict[str, Model] = {
    "full": Model("full", "V_k σ(W_k h)", ("V", "W")),
    "simple": Model("simple", "V_k σ(h)", ("V",)),
    "linear": Model("linear", "V_k h", ("V",)),
}
