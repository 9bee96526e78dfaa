"""The activation registry: σ with its derivative σ', whether σ is positively homogeneous, and
(for piecewise-linear σ) its two slopes. Importing it does not import torch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """σ with its derivative σ'; `homogeneous` means σ(c x) = c σ(x) for c > 0.

    Piecewise-linear σ (`slopes` = (slope for x ≤ 0, slope for x > 0)) store σ' for the reverse
    pass as one bool per entry (x > 0) instead of a float.
    """

    name: str
    fn: Callable[["torch.Tensor"], "torch.Tensor"]
    deriv: Callable[["torch.Tensor"], "torch.Tensor"]
    homogeneous: bool
    slopes: tuple[float, float] | None = None
    summary: str = ""

    def record(self, pre: "torch.Tensor", out: "torch.Tensor | None" = None,
               scratch: "torch.Tensor | None" = None) -> "torch.Tensor":
        """What the reverse pass needs of σ'(pre): a bool mask (pre > 0) when σ is piecewise
        linear, else σ'(pre). With `out`, written there (and returned).

        On the CPU a float-to-bool comparison runs element by element while the float-to-float
        one is vectorized: the mask is taken as 1.0/0.0 into `scratch` (a float tensor shaped
        like `pre`, allocated when not given), then cast to bool (x ≠ 0): the same mask in well
        under half the time."""
        if self.slopes is None:
            return self.deriv(pre) if out is None else out.copy_(self.deriv(pre))
        import torch

        if pre.device.type != "cpu":
            return pre > 0 if out is None else torch.gt(pre, 0, out=out)
        ones = torch.gt(pre, 0, out=torch.empty_like(pre) if scratch is None else scratch)
        return ones.to(torch.bool) if out is None else out.copy_(ones)

    @property
    def zero_below(self) -> bool:
        """σ(x) = 0 for x ≤ 0 and σ(x) = x above (ReLU): then σ(pre) ≠ 0 exactly where pre > 0."""
        return self.slopes == (0.0, 1.0)

    def record_activated(self, activated: "torch.Tensor", out: "torch.Tensor | None" = None) -> "torch.Tensor":
        """`record(pre)` from σ(pre) when `zero_below`: the bool cast σ(pre) ≠ 0, one cheap pass
        instead of a comparison. Equal to pre > 0 except where pre is NaN (σ(NaN) = NaN ≠ 0): such
        a row of states is already NaN and stays so (it is flagged as overflowed; nothing of it
        reaches a record)."""
        import torch

        return activated.to(torch.bool) if out is None else out.copy_(activated)

    def tangent_(self, q: "torch.Tensor", pre: "torch.Tensor") -> "torch.Tensor":
        """q ⊙ σ'(pre) in place, for tangent rows q (D, n, probes, d) grouped per state and the
        states' pre-activations pre (D, n, d). ReLU multiplies by the mask pre > 0 as uint8 (0/1:
        the values of the float σ', one kernel fewer than casting it, and vectorized on the CPU)."""
        if self.zero_below:
            import torch

            return q.mul_((pre > 0).view(torch.uint8).unsqueeze(2))
        return q.mul_(self.deriv(pre).unsqueeze(2))

    def fn_into(self, z: "torch.Tensor", out: "torch.Tensor") -> "torch.Tensor":
        """σ(z) written into `out` (one kernel, no temporary, for the registered σ)."""
        import torch

        if self.name == "gelu":
            return torch._C._nn.gelu(z, out=out)
        if self.name == "tanh":
            return torch.tanh(z, out=out)
        if self.name == "relu":
            return torch.clamp_min(z, 0.0, out=out)
        if self.name == "leaky_relu":
            return torch._C._nn.leaky_relu(z, LEAKY_SLOPE, out=out)
        return out.copy_(self.fn(z))

    def backward_(self, g: "torch.Tensor", z: "torch.Tensor", a: "torch.Tensor") -> "torch.Tensor":
        """g ← g ⊙ σ'(z) in place, given z and a = σ(z) (one fused kernel for the registered σ)."""
        import torch

        aten = torch.ops.aten
        if self.name == "gelu":
            return aten.gelu_backward.grad_input(g, z, grad_input=g)
        if self.name == "tanh":
            return aten.tanh_backward.grad_input(g, a, grad_input=g)
        if self.name == "relu":
            return aten.threshold_backward.grad_input(g, z, 0.0, grad_input=g)
        if self.name == "leaky_relu":
            return aten.leaky_relu_backward.grad_input(g, z, LEAKY_SLOPE, False, grad_input=g)
        if self.name == "identity":
            return g
        return g.mul_(self.deriv(z))

    def apply_recorded(self, u: "torch.Tensor", recorded: "torch.Tensor") -> "torch.Tensor":
        """u ⊙ σ'(pre) from `record(pre)`."""
        if self.slopes is None:
            return u * recorded
        low, high = self.slopes
        if low == 0.0 and high == 1.0:
            return u * recorded
        import torch

        # slopes as Python floats: exact in u's dtype (a where() of two scalars would be float32)
        return torch.where(recorded, u if high == 1.0 else u * high, u * low)

    def apply_recorded_(self, u: "torch.Tensor", recorded: "torch.Tensor") -> "torch.Tensor":
        """`apply_recorded` in place on u (the same values). A bool mask multiplies as its uint8
        view (0/1, the same bytes): on the CPU that promotion to float is vectorized, the bool
        one is not."""
        if self.slopes is None:
            return u.mul_(recorded)
        low, high = self.slopes
        if low == 0.0 and high == 1.0:
            import torch

            return u.mul_(recorded.view(torch.uint8) if recorded.dtype == torch.bool else recorded)
        import torch

        below = u * low
        if high != 1.0:
            u.mul_(high)
        return torch.where(recorded, u, below, out=u)


def _leaky_relu(x):
    import torch

    return torch.nn.functional.leaky_relu(x, LEAKY_SLOPE)


def _leaky_relu_(x):
    import torch

    return torch.nn.functional.leaky_relu_(x, LEAKY_SLOPE)


def _leaky_deriv(x):
    import torch

    return torch.full_like(x, LEAKY_SLOPE).masked_fill_(x > 0, 1.0)  # 0.01 in x's dtype


def _gelu(x):
    import torch

    return torch.nn.functional.gelu(x)


def _gelu_deriv(x):
    import torch

    cdf = 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", lambda x: x.relu(), lambda x: (x > 0).to(x.dtype), True, (0.0, 1.0), "max(x, 0)"),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _leaky_deriv, True, (LEAKY_SLOPE, 1.0),
                             f"max(x, {LEAKY_SLOPE:g} x)"),
    "tanh": Activation("tanh", lambda x: x.tanh(), lambda x: 1.0 - x.tanh() ** 2, False, None, "tanh x"),
    "gelu": Activation("gelu", _gelu, _gelu_deriv, False, None, "x Φ(x)"),
    "identity": Activation("identity", lambda x: x, lambda x: x.new_ones(x.shape), True, None, "x"),
}

#: activations applied in place on the full model's pre-activation buffer
INPLACE: dict[str, Callable] = {
    "relu": lambda x: x.relu_(),
    "leaky_relu": _leaky_relu_,
    "tanh": lambda x: x.tanh_(),
    "identity": lambda x: x,
}
