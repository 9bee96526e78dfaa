"""The residual functions f(h, θ_k) of h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}): a registry of
their names, formulas and weight matrices, each with f and its pullback in row form (rows h
(D, R, d), V_k (D, d, m), W_k (D, m, d)): f = σ(h W_kᵀ) V_kᵀ (``full``), σ(h) V_kᵀ (``simple``),
h V_kᵀ (``linear``). Every pass of the package (the recursion, the adjoint's schemes, the limit
integrator, the training engine) computes f through these methods. Importing it does not
import torch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from resnet_scale_cli.dynamics.activations import Activation


@dataclass(frozen=True)
class Model:
    """A residual map f(h, θ_k): its name, formula and the weight matrices θ_k holds."""

    name: str
    formula: str
    weights: tuple[str, ...]

    @cached_property
    def has_inner_weights(self) -> bool:
        """f reads W_k: z = W_k h (``full``)."""
        return "W" in self.weights

    @cached_property
    def nonlinear(self) -> bool:
        """σ enters f (every model but ``linear``)."""
        return self.name != "linear"

    def inner(self, h: "torch.Tensor", W_T: "torch.Tensor | None", out: "torch.Tensor | None" = None) -> "torch.Tensor":
        """z = W_k h in row form, h W_kᵀ (W_T = W_kᵀ; into `out` when given); h itself without W."""
        if not self.has_inner_weights:
            return h
        import torch

        return torch.bmm(h, W_T, out=out)

    def activate(self, act: "Activation", z: "torch.Tensor", out: "torch.Tensor | None" = None) -> "torch.Tensor":
        """σ(z) (into `out` when given, one kernel); z itself for the linear model."""
        if not self.nonlinear:
            return z
        return act.fn(z) if out is None else act.fn_into(z, out)

    def fed(self, act: "Activation", h: "torch.Tensor", W_T: "torch.Tensor | None") -> "torch.Tensor":
        """a = σ(W_k h), σ(h) or h: what V_k multiplies."""
        return self.activate(act, self.inner(h, W_T))

    def residual(self, act: "Activation", h: "torch.Tensor", V_T: "torch.Tensor",
                 W_T: "torch.Tensor | None") -> "torch.Tensor":
        """f(h, θ_k) = a V_kᵀ in row form (V_T = V_kᵀ)."""
        import torch

        return torch.bmm(self.fed(act, h, W_T), V_T)

    def add_pullback(self, acc: "torch.Tensor", e: "torch.Tensor", W: "torch.Tensor | None",
                     out: "torch.Tensor | None" = None) -> "torch.Tensor":
        """acc + e W_k (``full``) or acc + e: the pullback of e = ∂ℓ/∂z through z = W_k h, added
        to acc (into `out` when given; out = acc adds in place)."""
        import torch

        if self.has_inner_weights:
            return torch.baddbmm(acc, e, W, out=out)
        return torch.add(acc, e, out=out)

    def vjp(self, act: "Activation", h: "torch.Tensor", V: "torch.Tensor", W: "torch.Tensor | None",
            g: "torch.Tensor", grad_V: "torch.Tensor", grad_W: "torch.Tensor | None") -> "torch.Tensor":
        """Pull g = ∂ℓ/∂f(h, θ_k) back: returns ∂ℓ/∂h and adds ∂ℓ/∂V_k (and ∂ℓ/∂W_k) into grad_V
        (grad_W) in place. Row form: ∂ℓ/∂V = gᵀ a, e = (g V) ⊙ σ'(z), ∂ℓ/∂W = eᵀ h, ∂ℓ/∂h = e W."""
        import torch

        z = self.inner(h, W.mT if W is not None else None)
        grad_V.baddbmm_(g.mT, self.activate(act, z))
        e = torch.bmm(g, V)
        if self.nonlinear:
            e = e * act.deriv(z)
        if not self.has_inner_weights:
            return e
        grad_W.baddbmm_(e.mT, h)
        return torch.bmm(e, W)


MODELS: dict[str, Model] = {
    "full": Model("full", "V_k σ(W_k h)", ("V", "W")),
    "simple": Model("simple", "V_k σ(h)", ("V",)),
    "linear": Model("linear", "V_k h", ("V",)),
}
