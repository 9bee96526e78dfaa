"""One layer of the residual recursion h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}), forward (with
tangent rows q_{k+1} = q_k + L^{-β} ∂_h f q_k) and reverse (p_k = p_{k+1} + L^{-β} ∂_h fᵀ p_{k+1}),
with exact log-norm carrying and delta carrying: the per-layer code that the eager loop
(`dynamics.recursion`) and the CUDA graph replay (`dynamics.replay`) both run. See
`dynamics.recursion` for the batching, carrying and shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from resnet_scale_cli.dynamics.activations import INPLACE, Activation
from resnet_scale_cli.dynamics.models import MODELS

RENORM_EVERY = 8


class Network:
    """Weights of a batch of draws: V (and W for ``full``), given as (draws, L, d, d), or as
    (L, draws, d, d) with `layer_major=True`; `f` is the model's residual map (`MODELS`).

    They are kept layer-major and contiguous, so that each layer's (draws, d, d) block is
    contiguous for the batched matrix products of both passes.
    """

    def __init__(self, V: torch.Tensor, W: torch.Tensor | None, model: str, activation: Activation,
                 *, layer_major: bool = False) -> None:
        def arrange(x):
            return x if layer_major else x.transpose(0, 1)

        self.layers_V = arrange(V).contiguous()
        self.layers_W = arrange(W).contiguous() if W is not None else None
        self.model = model
        self.f = MODELS[model]
        self.activation = activation
        self._views: tuple | None = None

    def views(self) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor] | None,
                             list[torch.Tensor] | None]:
        """Per-layer (V_k, V_kᵀ, W_k, W_kᵀ) as lists of views, built once per weight tensor: the
        layer loops index lists instead of slicing and transposing twice per layer and pass."""
        V, W = self.layers_V, self.layers_W
        if self._views is None or self._views[0] is not V or self._views[1] is not W:
            Vs = list(V.unbind(0))
            Ws = list(W.unbind(0)) if W is not None else None
            self._views = (V, W, (Vs, [v.mT for v in Vs], Ws, [w.mT for w in Ws] if Ws is not None else None))
        return self._views[2]

    @property
    def depth(self) -> int:
        return self.layers_V.shape[0]

    @property
    def state_homogeneous(self) -> bool:
        return not self.f.nonlinear or self.activation.homogeneous

    def residual(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """f(x, θ_k) for rows x (D, R, d)."""
        W = self.layers_W[k].mT if self.layers_W is not None else None
        return self.f.residual(self.activation, x, self.layers_V[k].mT, W)

    def vjp(self, x: torch.Tensor, k: int, g: torch.Tensor, grad_V: torch.Tensor,
            grad_W: torch.Tensor | None) -> torch.Tensor:
        """∂ℓ/∂x from g = ∂ℓ/∂f(x, θ_k), adding ∂ℓ/∂V_k (∂ℓ/∂W_k) into grad_V[k] (grad_W[k])."""
        W = self.layers_W[k] if self.layers_W is not None else None
        return self.f.vjp(self.activation, x, self.layers_V[k], W, g, grad_V[k],
                          grad_W[k] if grad_W is not None else None)


@dataclass
class Forward:
    """End of a forward pass: normalized rows and their base-2 exponents (row = x̂ · 2^e)."""

    x: torch.Tensor  # (D, R, d)
    exps: torch.Tensor  # (D, R) int64
    n_states: int
    masks: list[torch.Tensor] | None = None  # σ' at every layer, when recorded
    checkpoints: list[tuple[int, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    checkpoint_every: int = 0
    delta: torch.Tensor | None = None  # (D, R, d) x_L − x_0 in the frame of x (row = δ̂ · 2^e), with carry_delta


def _renormalize(x: torch.Tensor, exps: torch.Tensor, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Divide (in place) each selected row by 2^e, e the binary exponent of its max-abs entry:
    exact in floating point. frexp gives e = 0 for zero, infinite or NaN rows (left as they are)."""
    _, e = torch.frexp(x.abs().amax(dim=-1))
    if rows is not None:
        e = e * rows
    x.mul_(torch.exp2(-e.to(x.dtype)).unsqueeze(-1))
    return x, exps + e


def _renormalize_delta(x: torch.Tensor, base: torch.Tensor, delta: torch.Tensor, exps: torch.Tensor,
                       rows: torch.Tensor | None) -> torch.Tensor:
    """`_renormalize` of x = base + delta, with base and delta divided (in place) by the same
    power of two as x: the three stay one frame, exactly. Returns the new exponents."""
    _, e = torch.frexp(x.abs().amax(dim=-1))
    if rows is not None:
        e = e * rows
    factor = torch.exp2(-e.to(x.dtype)).unsqueeze(-1)
    for t in (x, base, delta):
        t.mul_(factor)
    return exps + e


def fused(net: Network) -> bool:
    """Whether the forward layer step runs in place in one buffer (`_forward_layer`): the full
    model with σ in `INPLACE` (states and tangent rows alike)."""
    return net.f.has_inner_weights and net.activation.name in INPLACE


def _activated(net: Network, pre: torch.Tensor, n_states: int, record: bool = False,
               mask_out: torch.Tensor | None = None,
               scratch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rows fed to V_k: σ(pre) for states, σ'(pre_h) ⊙ pre_q for tangents; with `record`, also
    what the reverse pass needs of σ'(pre_h) (see `Activation.record`; into `mask_out` if given)."""
    if not net.f.nonlinear:
        return pre, None
    act = net.activation
    h_pre = pre[:, :n_states]
    recorded = act.record(h_pre, mask_out, scratch) if record else None
    if pre.shape[1] == n_states:
        return act.fn(h_pre), recorded
    d0, rows, width = pre.shape
    probes = (rows - n_states) // n_states
    tangent = pre[:, n_states:].reshape(d0, n_states, probes, width) * act.deriv(h_pre).unsqueeze(2)
    return torch.cat([act.fn(h_pre), tangent.reshape(d0, n_states * probes, width)], dim=1), recorded


def forward_layer(net: Network, k: int, x: torch.Tensor, base: torch.Tensor | None, delta: torch.Tensor | None,
                   exps: torch.Tensor, scale_col: torch.Tensor, n_states: int, rescale_rows: torch.Tensor | None,
                   buffer: torch.Tensor | None, renorm: bool, record: bool, *, mask_out: torch.Tensor | None = None,
                   scratch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Layer k of `forward`, updating x (and base, delta with delta carrying) in place; returns the
    exponents and, with `record`, what the reverse pass needs of σ' (written into `mask_out`, shape
    (D, n_states, d), when given; `scratch`, a float tensor of that shape, serves `Activation.record`).
    With a `buffer` (`fused(net)`: full model, σ in `INPLACE`) the step runs in it without
    temporaries: pre = x W_kᵀ, tangent rows ⊙ σ'(pre_h) in place, σ in place on the state rows,
    scale, x += pre V_kᵀ (ReLU records σ' as σ(pre) ≠ 0, True on a NaN state row where pre > 0 is
    False: such a row is flagged as overflowed). `dynamics.replay` captures it."""
    mask = None
    Vs, VTs, Ws, WTs = net.views()
    if buffer is not None:
        pre = torch.bmm(x, WTs[k], out=buffer)
        act = net.activation
        d0, rows, width = pre.shape
        h_pre = pre if rows == n_states else pre[:, :n_states]
        if record and not act.zero_below:
            mask = act.record(h_pre, mask_out, scratch)
        if rows > n_states:  # before σ overwrites pre_h
            act.tangent_(pre[:, n_states:].view(d0, n_states, (rows - n_states) // n_states, width), h_pre)
        fed_h = INPLACE[act.name](h_pre)
        if record and act.zero_below:  # ReLU: σ' recorded as σ(pre) ≠ 0 (see Activation.record_activated)
            mask = act.record_activated(fed_h, mask_out)
        fed = pre.mul_(scale_col)
    else:
        pre = net.f.inner(x, WTs[k] if WTs is not None else None)
        fed, mask = _activated(net, pre, n_states, record, mask_out, scratch)
        fed = fed * scale_col
    (x if delta is None else delta).baddbmm_(fed, VTs[k])  # the rows the increments are added to
    if delta is not None:
        torch.add(base, delta, out=x)
    if renorm:
        if delta is not None:
            exps = _renormalize_delta(x, base, delta, exps, rescale_rows)
        else:
            _, exps = _renormalize(x, exps, rescale_rows)
    return exps, mask


def reverse_layer(net: Network, k: int, mask: torch.Tensor | None, p: torch.Tensor, exps: torch.Tensor,
                   base: torch.Tensor | None, pi: torch.Tensor | None, scale_col: torch.Tensor,
                   renorm: bool, *, work: tuple[torch.Tensor, torch.Tensor] | None = None,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Layer k of `backward`: p_k = p_{k+1} + L^{-β} ∂_h f(h_k, θ_{k+1})ᵀ p_{k+1} in row form, with
    delta carrying π_k = π_{k+1} + (the same increment) and p_k = base + π_k. Returns (p_k,
    exponents, π_k); p (and π, base) are updated in place, so p must be a tensor of the caller's
    own, not a view of p_L; with delta carrying it must equal base + π (as at the end of a layer).
    `work`: two scratch tensors shaped like p (allocated when not given).
    `dynamics.replay` captures it."""
    ps, u = work if work is not None else (torch.empty_like(p), torch.empty_like(p))
    Vs, _, Ws, _ = net.views()
    # with delta carrying p is recomputed as base + π below: p·L^-β in place (cheaper than into ps)
    torch.bmm(p.mul_(scale_col) if pi is not None else torch.mul(p, scale_col, out=ps), Vs[k], out=u)
    if mask is not None:
        net.activation.apply_recorded_(u, mask)
    acc = p if pi is None else pi  # the rows the increment is added to
    net.f.add_pullback(acc, u, Ws[k] if Ws is not None else None, out=acc)
    if pi is not None:
        torch.add(base, pi, out=p)
    if renorm:
        if pi is not None:
            exps = _renormalize_delta(p, base, pi, exps, None)
        else:
            p, exps = _renormalize(p, exps, None)
    return p, exps, pi
