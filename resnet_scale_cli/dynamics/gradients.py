"""The registry of gradient methods: how p_0 = (∂h_L/∂h_0)ᵀ p_L is obtained. Importing it does not
import torch; the cell (`experiments.cell`) runs the method it names. Beside them, the nets of
`rscale adjoint` and their approximate memory-free methods (run by `dynamics.adjoint`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GradientMethod:
    name: str
    summary: str
    exact: bool


GRAD_METHODS: dict[str, GradientMethod] = {
    "auto": GradientMethod("auto", "reverse, or tangent when --probes is given", True),
    "reverse": GradientMethod("reverse", "exact reverse pass (σ' stored, or recomputed from checkpoints)", True),
    "tangent": GradientMethod("tangent", "tangents pushed forward: d basis probes (exact) or --probes N (unbiased)", True),
    "autograd": GradientMethod("autograd", "plain PyTorch backpropagation (the cross-check; overflows like floats do)", True),
}

#: memory-free gradient methods (`rscale adjoint`, `dynamics.adjoint`): approximate, for the net
#: each belongs to; not choices of --grad-method, whose methods are exact
MEMORY_FREE_METHODS: dict[str, GradientMethod] = {
    "reverse-euler": GradientMethod("reverse-euler", "activations recovered backwards, x̃_n = x̃_{n+1} − s f(x̃_{n+1}, θ_n) "
                                    "(eq. 6): error O(1/N) whatever the weights", False),
    "reverse-heun": GradientMethod("reverse-heun", "activations recovered by reverse Heun (eq. 9): error O(Δ/N + 1/N²), "
                                   "Δ = max_n ‖θ_{n+1} − θ_n‖", False),
}


@dataclass(frozen=True)
class Net:
    """A forward scheme of `rscale adjoint` and the memory-free method that reverses it."""

    name: str
    scheme: str  # a key of dynamics.schemes.SCHEMES
    formula: str
    method: str  # a key of MEMORY_FREE_METHODS


NETS: dict[str, Net] = {
    "resnet": Net("resnet", "euler", "x_{n+1} = x_n + s f(x_n, θ_n)", "reverse-euler"),
    "heunnet": Net("heunnet", "heun", "y_n = x_n + s f(x_n, θ_n), x_{n+1} = x_n + (s/2)(f(x_n, θ_n) + f(y_n, θ_{n+1}))",
                   "reverse-heun"),
}
