"""Memory-free backpropagation (Sander, Ablin, Peyré, "Do ResNets discretize neural ODEs?", §4):
the activations are recovered backwards from the output instead of being stored.

Two nets of depth N with step s = N^{-β} (s = 1/N at β = 1, the paper's setting): `resnet`
(Euler, eq. 1; reverse Euler, eq. 6) and `heunnet` (Heun, eq. 8; reverse Heun, eq. 9), the
schemes of `dynamics.schemes`.

The backward of step n (eqs. 3 and 7, and their Heun analogue) is one function of the step's
input x_n: `exact_gradients` evaluates it at the stored x_n (N + 1 states held; the HeunNet's
y_n are recomputed from x_n), `memory_free_gradients` at the recovered x̃_n (O(1) states held).
Their difference is the error of the memory-free method and nothing else.

States are rows: x has shape (D, R, d) (draws, inputs per draw, width); weights are the
engine's `Network` (layer-major (K, D, d, m) and (K, D, m, d); K = N or N + 1). The loss is
ℓ = ½ Σ_rows ‖x_N − y‖² for a target y, so ∂ℓ/∂x_N = x_N − y (any other cotangent: the
schemes' `backward_exact` and `backward_memory_free`). Gradients are with respect to the input
x_0 and every θ_n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from resnet_scale_cli.dynamics.recursion import Network
from resnet_scale_cli.dynamics.schemes import SCHEMES


@dataclass
class Gradients:
    """x_N (D, R, d); ∂ℓ/∂x_0 (D, R, d); ∂ℓ/∂V, ∂ℓ/∂W layer-major (K, D, d, d) (W: None unless
    `full`); `states` (N + 1, D, R, d) when the exact pass stored them, else None."""

    output: torch.Tensor
    grad_input: torch.Tensor
    grad_V: torch.Tensor
    grad_W: torch.Tensor | None
    states: torch.Tensor | None = None


def gradient_buffers(net: Network) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Zeroed ∂ℓ/∂V (and ∂ℓ/∂W) buffers, shaped like the weights."""
    grad_W = torch.zeros_like(net.layers_W) if net.layers_W is not None else None
    return torch.zeros_like(net.layers_V), grad_W


def _buffers(net: Network, out) -> tuple[torch.Tensor, torch.Tensor | None]:
    if out is None:
        return gradient_buffers(net)
    for buf in out:
        if buf is not None:
            buf.zero_()
    return out


def exact_gradients(net: Network, scheme: str, x0: torch.Tensor, target: torch.Tensor, s: float, *,
                    out: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> Gradients:
    """Backpropagation of ℓ = ½ Σ_rows ‖x_N − y‖² with the N + 1 states stored during the forward
    pass (exact). `out` = preallocated (grad_V, grad_W) buffers, zeroed and filled."""
    x_last, states = SCHEMES[scheme].forward(net, x0, s, store=True)
    grads = _buffers(net, out)
    a = SCHEMES[scheme].backward_exact(net, states, x_last - target, s, grads)
    return Gradients(x_last, a, *grads, states)


def memory_free_gradients(net: Network, scheme: str, x0: torch.Tensor, target: torch.Tensor, s: float, *,
                          out: tuple[torch.Tensor, torch.Tensor | None] | None = None,
                          on_recovered: Callable[[int, torch.Tensor], None] | None = None) -> Gradients:
    """Backpropagation of ℓ = ½ Σ_rows ‖x_N − y‖² without stored activations: forward to x_N
    keeping only the current state, then the states recovered backwards by the reverse step.
    `on_recovered(n, x̃_n)` sees each recovered state."""
    x_last, _ = SCHEMES[scheme].forward(net, x0, s)
    grads = _buffers(net, out)
    a = SCHEMES[scheme].backward_memory_free(net, x_last, x_last - target, s, grads, on_recovered)
    return Gradients(x_last, a, *grads)


def smoothness(net: Network) -> torch.Tensor:
    """Δ per draw (D,): max_n ‖θ_{n+1} − θ_n‖, the Frobenius norm over V (and W) together."""
    if net.depth < 2:
        return torch.zeros(net.layers_V.shape[1], dtype=net.layers_V.dtype, device=net.layers_V.device)
    sq = (net.layers_V[1:] - net.layers_V[:-1]).pow(2).sum((-2, -1))
    if net.layers_W is not None:
        sq = sq + (net.layers_W[1:] - net.layers_W[:-1]).pow(2).sum((-2, -1))
    return sq.amax(0).sqrt()
