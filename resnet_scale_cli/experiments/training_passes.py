"""The passes of one training step of `rscale train`, for each net: forward (storing the states
or not), exact backward, memory-free (adjoint) backward, and evaluation. The training loop
(`experiments.training`) calls them the same way for both nets.

Rows: h (S, n, d) for S networks on the batch axis and n examples; weights layer-major,
V (K, S, d, m) and W (K, S, m, d) (None unless ``full``); s = N^{-β}; p_N = ∂ℓ/∂h_N (S, n, d).

- ``resnet`` (Euler, K = N weight layers): h_{n+1} = h_n + s f(h_n, θ_n), n = 0..N−1; the
  engine's fused passes of `training_engine` (s folded into V, states in a `Workspace`), adjoint
  by reverse Euler.
- ``heunnet`` (Heun, K = N + 1 weight layers θ_0..θ_N, Sander, Ablin & Peyré eq. 8):
  y_n = h_n + s f(h_n, θ_n),  h_{n+1} = h_n + (s/2)(f(h_n, θ_n) + f(y_n, θ_{n+1})); the passes of
  the scheme `dynamics.schemes.Heun` (exact: the N + 1 states h_n stored, y_n recomputed;
  adjoint: states recovered by reverse Heun, eq. 9).
"""

from __future__ import annotations

import torch

from resnet_scale_cli.dynamics import Activation, Network
from resnet_scale_cli.dynamics.adjoint import gradient_buffers
from resnet_scale_cli.dynamics.schemes import SCHEMES, net_scheme
from resnet_scale_cli.experiments.training_engine import (
    Workspace, backward_adjoint, backward_store, forward_eval, forward_store,
)

Grads = tuple[torch.Tensor, torch.Tensor | None]


class EulerPasses:
    """ResNet passes (`training_engine`): V is scaled by s once per forward, and the exact
    backward reads the `Workspace` the storing forward filled (allocated on first use)."""

    def __init__(self, model: str, act: Activation, scale: float, shape: tuple[int, int, int, int, int],
                 dtype: torch.dtype, device: torch.device) -> None:
        self.model, self.act, self.scale = model, act, scale
        self.shape, self.dtype, self.device = shape, dtype, device  # (N, S, n, d, m)
        self.ws: Workspace | None = None
        self._sV: torch.Tensor | None = None
        self._W: torch.Tensor | None = None

    def forward(self, V: torch.Tensor, W: torch.Tensor | None, h0: torch.Tensor, *, store: bool) -> torch.Tensor:
        """h_N; with `store`, every h_n, z_n and σ(z_n) kept for `exact`."""
        self._sV, self._W = V * self.scale, W
        if not store:
            return forward_eval(self._sV, W, self.model, self.act, h0)
        if self.ws is None:
            self.ws = Workspace(*self.shape, self.model, self.dtype, self.device)
        return forward_store(self.ws, self._sV, W, self.act, h0)

    def exact(self, p_last: torch.Tensor) -> Grads:
        return backward_store(self.ws, self._sV, self._W, self.act, p_last, self.scale)

    def adjoint(self, h_last: torch.Tensor, p_last: torch.Tensor) -> Grads:
        return backward_adjoint(self._sV, self._W, self.model, self.act, h_last, p_last, self.scale)

    def evaluate(self, V: torch.Tensor, W: torch.Tensor | None, h0: torch.Tensor) -> torch.Tensor:
        return forward_eval(V * self.scale, W, self.model, self.act, h0)

    def release(self) -> None:
        """Drop the stored states (the adjoint needs them only for its step-0 check)."""
        self.ws = None


class HeunPasses:
    """HeunNet passes (the scheme `dynamics.schemes.Heun`): the states h_0..h_N of the last
    storing forward are held for `exact`."""

    scheme = SCHEMES["heun"]

    def __init__(self, model: str, act: Activation, scale: float) -> None:
        self.model, self.act, self.scale = model, act, scale
        self._net: Network | None = None
        self._states: torch.Tensor | None = None

    def _network(self, V: torch.Tensor, W: torch.Tensor | None) -> Network:
        return Network(V, W, self.model, self.act, layer_major=True)

    def forward(self, V: torch.Tensor, W: torch.Tensor | None, h0: torch.Tensor, *, store: bool) -> torch.Tensor:
        """h_N by N Heun steps; with `store`, the states h_0..h_N kept for `exact`."""
        self._net = self._network(V, W)
        h, self._states = self.scheme.forward(self._net, h0, self.scale, store=store)
        return h

    def exact(self, p_last: torch.Tensor) -> Grads:
        grads = gradient_buffers(self._net)
        self.scheme.backward_exact(self._net, self._states, p_last, self.scale, grads)
        return grads

    def adjoint(self, h_last: torch.Tensor, p_last: torch.Tensor) -> Grads:
        grads = gradient_buffers(self._net)
        self.scheme.backward_memory_free(self._net, h_last, p_last, self.scale, grads)
        return grads

    def evaluate(self, V: torch.Tensor, W: torch.Tensor | None, h0: torch.Tensor) -> torch.Tensor:
        return self.scheme.forward(self._network(V, W), h0, self.scale)[0]

    def release(self) -> None:
        self._states = None


def make_passes(net: str, model: str, act: Activation, scale: float, shape: tuple[int, int, int, int, int],
                dtype: torch.dtype, device: torch.device) -> EulerPasses | HeunPasses:
    """The passes of `net` at step s = `scale`; `shape` = (N, S, rows, d, m) sizes the ResNet's
    workspace."""
    if net_scheme(net) is HeunPasses.scheme:
        return HeunPasses(model, act, scale)
    return EulerPasses(model, act, scale, shape, dtype, device)


def end_layer_lr_factor(net: str, optimizer: str, lr_scaling: str) -> float:
    """The extra step factor of the end layers θ_0 and θ_N of a HeunNet: 2 under the depth-scaled
    step of ``gd``/``sgd``, else 1 (and 1 for every ResNet layer).

    Heun's step is the trapezoid rule: θ_n enters h_N with weight s/2 at n = 0 and n = N and s in
    between (w_0 = w_N = 1/2, w_n = 1), so ∂ℓ/∂θ_n ≈ s w_n δℓ/δθ(n/N), the functional gradient of
    the continuous model at time n/N. The step θ_n ← θ_n − η c_N (1/w_n) ∂ℓ/∂θ_n (c_N = N^{2β−1},
    = N = 1/s at β = 1) is then gradient descent for the trapezoid inner product s Σ_n w_n ⟨θ_n, θ'_n⟩,
    the discretization of gradient flow in L²(0, 1), exactly as the ResNet's η N ∂ℓ/∂θ_n is for
    the rectangle rule. Without the factor the end layers move at half the speed of their
    neighbours and training opens an O(1) gap θ_1 − θ_0. Adam is invariant to a gradient's scale
    (factor 1); so is a step without depth scaling (plain gradient descent on the parameters).
    """
    return 1.0 / net_scheme(net).end_weight if optimizer != "adam" and lr_scaling == "depth" else 1.0


def scale_end_layers(grads: Grads, factor: float) -> None:
    """Multiply the gradients of θ_0 and θ_K−1 (the end layers) by `factor`, in place (exact in
    floating point for factor 2)."""
    if factor == 1.0:
        return
    for g in grads:
        if g is not None:
            g[0].mul_(factor)
            g[-1].mul_(factor)
