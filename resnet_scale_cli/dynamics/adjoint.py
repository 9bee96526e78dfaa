"""Memory-free backpropagation (Sander, Ablin, Peyré, "Do ResNets discretize neural ODEs?", §4):
the activations are recovered backwards from the output instead of being stored.

Two nets of depth N with step s = N^{-β} (s = 1/N at β = 1, the paper's setting):

- `resnet` (Euler, eq. 1): x_{n+1} = x_n + s f(x_n, θ_n),  n = 0..N−1 (N weight layers);
  reverse Euler (eq. 6): x̃_N = x_N,  x̃_n = x̃_{n+1} − s f(x̃_{n+1}, θ_n).
- `heunnet` (Heun, eq. 8): y_n = x_n + s f(x_n, θ_n),
  x_{n+1} = x_n + (s/2) (f(x_n, θ_n) + f(y_n, θ_{n+1})),  n = 0..N−1 (N + 1 weight layers θ_0..θ_N);
  reverse Heun (eq. 9): ỹ_n = x̃_{n+1} − s f(x̃_{n+1}, θ_{n+1}),
  x̃_n = x̃_{n+1} − (s/2) (f(x̃_{n+1}, θ_{n+1}) + f(ỹ_n, θ_n)).

The backward of step n (eqs. 3 and 7, and their Heun analogue) is one function of the step's
input x_n: `exact_gradients` evaluates it at the stored x_n (N + 1 states held; the HeunNet's
y_n are recomputed from x_n), `memory_free_gradients` at the recovered x̃_n (O(1) states held).
Their difference is the error of the memory-free method and nothing else.

Residual functions f (the engine's, `dynamics.models`): `simple` V σ(x), `full` V σ(W x),
`linear` V x. States are rows: x has shape (D, R, d) (draws, inputs per draw, width); weights
are the engine's `Network` (layer-major (K, D, d, m) and (K, D, m, d); K = N or N + 1).
`exact_gradients` and `memory_free_gradients` take the loss ℓ = ½ Σ_rows ‖x_N − y‖² for a
target y, so ∂ℓ/∂x_N = x_N − y; `backward_exact` and `backward_memory_free` start from any
cotangent a_N = ∂ℓ/∂x_N (e.g. `rscale train`'s a_N = (∂ℓ/∂F) B for a readout F = B x_N and any
loss). Gradients are with respect to the input x_0 and every θ_n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from resnet_scale_cli.dynamics.recursion import Network

SCHEMES = ("euler", "heun")


def weight_layers(scheme: str, depth: int) -> int:
    """Weight layers K of a net of depth N: N (Euler), N + 1 (Heun, θ_0..θ_N)."""
    return depth + (1 if scheme == "heun" else 0)


def net_depth(net: Network, scheme: str) -> int:
    return net.depth - (1 if scheme == "heun" else 0)


def residual(net: Network, x: torch.Tensor, k: int) -> torch.Tensor:
    """f(x, θ_k) for rows x (D, R, d)."""
    if net.model == "linear":
        return torch.bmm(x, net.layers_V[k].mT)
    pre = torch.bmm(x, net.layers_W[k].mT) if net.model == "full" else x
    return torch.bmm(net.activation.fn(pre), net.layers_V[k].mT)


def residual_vjp(net: Network, x: torch.Tensor, k: int, g: torch.Tensor, grad_V: torch.Tensor,
                 grad_W: torch.Tensor | None) -> torch.Tensor:
    """Pull g = ∂ℓ/∂f(x, θ_k) back: returns ∂ℓ/∂x and adds ∂ℓ/∂V_k (and ∂ℓ/∂W_k) into
    grad_V[k] (grad_W[k]), in place.

    Row form f = σ(x Wᵀ) Vᵀ: ∂ℓ/∂V = gᵀ σ(pre), u = (g V) ⊙ σ'(pre), ∂ℓ/∂W = uᵀ x, ∂ℓ/∂x = u W.
    """
    V = net.layers_V[k]
    if net.model == "linear":
        grad_V[k].baddbmm_(g.mT, x)
        return torch.bmm(g, V)
    pre = torch.bmm(x, net.layers_W[k].mT) if net.model == "full" else x
    grad_V[k].baddbmm_(g.mT, net.activation.fn(pre))
    u = torch.bmm(g, V) * net.activation.deriv(pre)
    if net.model == "simple":
        return u
    grad_W[k].baddbmm_(u.mT, x)
    return torch.bmm(u, net.layers_W[k])


def step(net: Network, scheme: str, x: torch.Tensor, n: int, s: float) -> torch.Tensor:
    """x_{n+1} from x_n: Euler (eq. 1) or Heun (eq. 8)."""
    u = residual(net, x, n)
    if scheme == "euler":
        return x + s * u
    y = x + s * u
    return x + (0.5 * s) * (u + residual(net, y, n + 1))


def reverse_step(net: Network, scheme: str, x_next: torch.Tensor, n: int, s: float) -> torch.Tensor:
    """x̃_n from x̃_{n+1}: reverse Euler (eq. 6) or reverse Heun (eq. 9)."""
    if scheme == "euler":
        return x_next - s * residual(net, x_next, n)
    g = residual(net, x_next, n + 1)
    y = x_next - s * g
    return x_next - (0.5 * s) * (g + residual(net, y, n))


def step_vjp(net: Network, scheme: str, x: torch.Tensor, n: int, s: float, a_next: torch.Tensor,
             grad_V: torch.Tensor, grad_W: torch.Tensor | None) -> torch.Tensor:
    """a_n = (∂x_{n+1}/∂x_n)ᵀ a_{n+1} at the step's input x (= x_n, or x̃_n), adding the step's
    parameter gradients into grad_V, grad_W.

    Euler: a_n = a + J_f(x_n, θ_n)ᵀ (s a);  ∇θ_n += ∂_θ f(x_n, θ_n)ᵀ (s a).
    Heun (u = f(x_n, θ_n), y_n = x_n + s u, v = f(y_n, θ_{n+1})): b = J_f(y_n, θ_{n+1})ᵀ (s/2) a,
    c = (s/2) a + s b, a_n = a + b + J_f(x_n, θ_n)ᵀ c; θ_{n+1} gets ∂_θ v ᵀ (s/2) a, θ_n gets ∂_θ uᵀ c.
    """
    if scheme == "euler":
        return a_next + residual_vjp(net, x, n, s * a_next, grad_V, grad_W)
    y = x + s * residual(net, x, n)
    b = residual_vjp(net, y, n + 1, (0.5 * s) * a_next, grad_V, grad_W)
    c = (0.5 * s) * a_next + s * b
    return a_next + b + residual_vjp(net, x, n, c, grad_V, grad_W)


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


def forward(net: Network, scheme: str, x0: torch.Tensor, s: float, *, store: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """x_N, and the states x_0..x_N as one (N + 1, D, R, d) tensor when `store`."""
    depth = net_depth(net, scheme)
    states = torch.empty((depth + 1, *x0.shape), dtype=x0.dtype, device=x0.device) if store else None
    x = x0
    if store:
        states[0] = x0
    for n in range(depth):
        x = step(net, scheme, x, n, s)
        if store:
            states[n + 1] = x
    return x, states


def backward_exact(net: Network, scheme: str, states: torch.Tensor, a_last: torch.Tensor, s: float, *,
                   out: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Exact backward from any cotangent a_N = ∂ℓ/∂x_N (any loss, any readout of x_N): the step
    backwards a_n = (∂x_{n+1}/∂x_n)ᵀ a_{n+1}, n = N−1..0, at the stored inputs x_n = states[n]
    (`forward(..., store=True)`). Returns (∂ℓ/∂x_0, ∂ℓ/∂V, ∂ℓ/∂W), the weight gradients
    layer-major (K, D, ·, ·), K = N (Euler) or N + 1 (Heun)."""
    grad_V, grad_W = _buffers(net, out)
    a = a_last
    del a_last
    for n in reversed(range(net_depth(net, scheme))):
        a = step_vjp(net, scheme, states[n], n, s, a, grad_V, grad_W)
    return a, grad_V, grad_W


def backward_memory_free(net: Network, scheme: str, x_last: torch.Tensor, a_last: torch.Tensor, s: float, *,
                         out: tuple[torch.Tensor, torch.Tensor | None] | None = None,
                         on_recovered: Callable[[int, torch.Tensor], None] | None = None,
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Memory-free backward from x_N and any cotangent a_N = ∂ℓ/∂x_N: x̃_n is recovered from
    x̃_{n+1} by the reverse step (reverse Euler eq. 6 / reverse Heun eq. 9), starting at x̃_N = x_N,
    and step n's backward is evaluated at x̃_n (eq. 7); O(1) states are held. Returns
    (∂ℓ/∂x_0, ∂ℓ/∂V, ∂ℓ/∂W) as `backward_exact` does; `on_recovered(n, x̃_n)` sees each state."""
    grad_V, grad_W = _buffers(net, out)
    a, x = a_last, x_last
    del a_last  # held no longer than the first step needs it (one state fewer at the peak)
    for n in reversed(range(net_depth(net, scheme))):
        x = reverse_step(net, scheme, x, n, s)
        if on_recovered is not None:
            on_recovered(n, x)
        a = step_vjp(net, scheme, x, n, s, a, grad_V, grad_W)
    return a, grad_V, grad_W


def exact_gradients(net: Network, scheme: str, x0: torch.Tensor, target: torch.Tensor, s: float, *,
                    out: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> Gradients:
    """Backpropagation of ℓ = ½ Σ_rows ‖x_N − y‖² with the N + 1 states stored during the forward
    pass (exact). `out` = preallocated (grad_V, grad_W) buffers, zeroed and filled."""
    x_last, states = forward(net, scheme, x0, s, store=True)
    a, grad_V, grad_W = backward_exact(net, scheme, states, x_last - target, s, out=out)
    return Gradients(x_last, a, grad_V, grad_W, states)


def memory_free_gradients(net: Network, scheme: str, x0: torch.Tensor, target: torch.Tensor, s: float, *,
                          out: tuple[torch.Tensor, torch.Tensor | None] | None = None,
                          on_recovered: Callable[[int, torch.Tensor], None] | None = None) -> Gradients:
    """Backpropagation of ℓ = ½ Σ_rows ‖x_N − y‖² without stored activations: forward to x_N
    keeping only the current state, then `backward_memory_free`. `on_recovered(n, x̃_n)` sees
    each recovered state."""
    x_last, _ = forward(net, scheme, x0, s)
    a, grad_V, grad_W = backward_memory_free(net, scheme, x_last, x_last - target, s, out=out,
                                             on_recovered=on_recovered)
    return Gradients(x_last, a, grad_V, grad_W)


def smoothness(net: Network) -> torch.Tensor:
    """Δ per draw (D,): max_n ‖θ_{n+1} − θ_n‖, the Frobenius norm over V (and W) together."""
    if net.depth < 2:
        return torch.zeros(net.layers_V.shape[1], dtype=net.layers_V.dtype, device=net.layers_V.device)
    sq = (net.layers_V[1:] - net.layers_V[:-1]).pow(2).sum((-2, -1))
    if net.layers_W is not None:
        sq = sq + (net.layers_W[1:] - net.layers_W[:-1]).pow(2).sum((-2, -1))
    return sq.amax(0).sqrt()
