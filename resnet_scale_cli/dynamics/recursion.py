"""The residual recursion h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}), batched, with tangents.

States are rows of a tensor of shape (draws, rows, d): one weight draw serves every β, input
and tangent probe, stacked on the row axis, and each row carries its own scale L^{-β}.
Only layers are looped over.

Models: ``simple`` f = V σ(h), ``full`` f = V σ(W h), ``linear`` f = V h.
Tangents q_{k+1} = q_k + L^{-β} ∂_h f(h_k, θ_{k+1}) q_k ride along as extra rows.

Exact log-norm carrying: every few layers each row is divided by a power of two (exact in
floating point) and the integer exponent is accumulated. This is exact for tangent rows (they
are linear) and for state rows when σ is positively homogeneous (relu, leaky_relu, identity,
and the linear model), so ratios stay exact far past the float range. States of a
non-homogeneous σ (tanh, gelu) are never rescaled; if they overflow the row is flagged.

Delta carrying (`carry_delta`, used for float32): the rows hold δ_k = x_k − x_0 beside a fixed
base x_0 (both in the same rescaled frame), the layer is fed x_k = x_0 + δ_k, and δ_k
accumulates the increments. Then ‖h_L − h_0‖ is read from δ_L without the cancellation of
h_L − h_0: at large β the increments L^{-β} f are far below the float32 resolution of h_k
(β = 2.5, L = 10⁴: 1e-10 ‖h‖ per layer against eps ≈ 6e-8), and plain carrying loses them.
The reverse pass does the same with π_k = p_k − p_L.
"""

from __future__ import annotations

from typing import Callable

import torch

from resnet_scale_cli.dynamics.layers import RENORM_EVERY, Forward, Network, fused  # noqa: F401 (re-exported)
from resnet_scale_cli.dynamics.layers import forward_layer as _forward_layer
from resnet_scale_cli.dynamics.layers import reverse_layer as _reverse_layer


def forward(
    net: Network,
    x0: torch.Tensor,
    scales: torch.Tensor,
    n_states: int,
    *,
    carry_log_norms: bool = True,
    record_masks: bool = False,
    checkpoint_every: int = 0,
    start: int = 0,
    stop: int | None = None,
    exps0: torch.Tensor | None = None,
    carry_delta: bool = False,
    progress: Callable[[int], None] | None = None,
    mask_store: torch.Tensor | None = None,
) -> Forward:
    """Run layers start..stop-1 on rows x0 (D, R, d): the first `n_states` rows are states h,
    the rest their tangents (R − n_states a multiple of n_states, probes grouped per state).

    `scales` (R,) holds L^{-β} for each row. With `carry_log_norms`, rows are rescaled by
    powers of two every few layers and the exponents returned (exact; see module docstring).
    With `carry_delta`, x_L − x_0 is also carried apart and returned as `Forward.delta`.
    `mask_store`: with `record_masks` and a piecewise-linear σ, a bool tensor (stop − start, D,
    n_states, d) of the caller's that σ' is recorded into (`Forward.masks` are its layers), e.g.
    kept from one pass to the next: fresh memory costs its first-touch page faults (on the CPU,
    a measurable part of a Figure-7 pass). The CUDA graph replay copies σ' into it block by block.
    """
    depth = net.depth if stop is None else stop
    d0, rows, width = x0.shape
    store_masks = record_masks and net.f.nonlinear and net.activation.slopes is not None and mask_store is not None
    if store_masks and (mask_store.shape != (depth - start, d0, n_states, width) or mask_store.dtype != torch.bool):
        raise ValueError(f"forward: mask_store is {tuple(mask_store.shape)} {mask_store.dtype}, expected "
                         f"{(depth - start, d0, n_states, width)} torch.bool")
    if start == 0 and stop is None and exps0 is None and not checkpoint_every:
        from resnet_scale_cli.dynamics import replay

        if replay.wanted(x0):  # CUDA: the layer loop replayed from captured graphs (None: capture failed)
            replayed = replay.forward(net, x0, scales, n_states, carry_log_norms=carry_log_norms,
                                      record_masks=record_masks, carry_delta=carry_delta, progress=progress,
                                      mask_store=mask_store if store_masks else None)
            if replayed is not None:
                return replayed
    x = x0.clone()  # updated in place below (with carry_delta: x = base + delta, recomputed per layer)
    base = x0.clone() if carry_delta else None
    delta = torch.zeros_like(x0) if carry_delta else None
    exps = torch.zeros((d0, rows), dtype=torch.int64, device=x0.device) if exps0 is None else exps0.clone()
    rescale_rows = None
    if not net.state_homogeneous:
        rescale_rows = torch.ones(rows, dtype=torch.int32, device=x0.device)
        rescale_rows[:n_states] = 0
    scale_col = scales.to(x0.dtype).view(1, rows, 1)
    in_place = fused(net)
    buffer = torch.empty_like(x) if in_place else None
    out = Forward(x, exps, n_states, masks=[] if record_masks else None, checkpoint_every=checkpoint_every)
    scratch = None
    if record_masks and net.f.nonlinear and net.activation.slopes is not None:
        # `Activation.record` uses it on the CPU only; ReLU in place records from σ(pre)
        if x0.device.type == "cpu" and not (in_place and net.activation.zero_below):
            scratch = torch.empty((d0, n_states, width), dtype=x0.dtype, device=x0.device)
        if store_masks:
            out.masks = list(mask_store.unbind(0))
    stored = out.masks is not None and len(out.masks) > 0
    for k in range(start, depth):
        if checkpoint_every and k % checkpoint_every == 0:
            out.checkpoints.append((k, x[:, :n_states].clone(), exps[:, :n_states].clone()))
        renorm = carry_log_norms and ((k + 1) % RENORM_EVERY == 0 or k + 1 == depth)
        exps, mask = _forward_layer(net, k, x, base, delta, exps, scale_col, n_states, rescale_rows, buffer, renorm,
                                    record_masks, mask_out=out.masks[k - start] if stored else None, scratch=scratch)
        if record_masks and not stored:
            out.masks.append(mask)
        if progress is not None and (k + 1) % 64 == 0:
            progress(64)
    if progress is not None and (depth - start) % 64:
        progress((depth - start) % 64)
    out.x, out.exps, out.delta = x, exps, delta
    return out


def backward(
    net: Network,
    fwd: Forward,
    p_last: torch.Tensor,
    scales: torch.Tensor,
    *,
    carry_log_norms: bool = True,
    progress: Callable[[int], None] | None = None,
    delta_out: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact reverse pass from p_L (D, n, d) to p_0 = (∂h_L/∂h_0)ᵀ p_L, as (p̂_0, exponents).

    Uses the masks σ' recorded by `forward`, or recomputes them segment by segment from its
    checkpoints (memory ~ checkpoint_every × batch instead of L × batch). The linear model
    needs no masks. With `delta_out` (a list), π_0 = p_0 − p_L is carried apart (module
    docstring) and appended to it as π̂_0, in the frame of p̂_0 (same exponents).
    """
    if not net.f.nonlinear or fwd.masks is not None:
        from resnet_scale_cli.dynamics import replay

        if replay.wanted(p_last):  # CUDA: replayed from captured graphs (None: capture failed)
            replayed = replay.backward(net, fwd, p_last, scales, carry_log_norms=carry_log_norms, progress=progress,
                                       delta_out=delta_out)
            if replayed is not None:
                return replayed
    n = fwd.n_states
    scale_col = scales.to(p_last.dtype).view(1, n, 1)
    p = p_last.clone(memory_format=torch.contiguous_format)  # updated in place layer by layer
    work = (torch.empty_like(p), torch.empty_like(p))
    exps = torch.zeros(p.shape[:2], dtype=torch.int64, device=p.device)
    depth = net.depth
    done = 0
    carry_delta = delta_out is not None
    base = p_last.clone(memory_format=torch.contiguous_format) if carry_delta else None
    pi = torch.zeros_like(base) if carry_delta else None

    def step(k: int, mask: torch.Tensor | None) -> None:
        nonlocal p, exps, done, pi
        renorm = carry_log_norms and ((depth - k) % RENORM_EVERY == 0 or k == 0)
        p, exps, pi = _reverse_layer(net, k, mask, p, exps, base, pi, scale_col, renorm, work=work)
        done += 1
        if progress is not None and done % 64 == 0:
            progress(64)

    if not net.f.nonlinear:
        for k in reversed(range(depth)):
            step(k, None)
    elif fwd.masks is not None:
        for k in reversed(range(depth)):
            step(k, fwd.masks[k])
    else:
        for k0, x0, e0 in reversed(fwd.checkpoints):
            k1 = min(k0 + fwd.checkpoint_every, depth)
            segment = forward(net, x0, scales, n, record_masks=True, start=k0, stop=k1, exps0=e0)
            for k in reversed(range(k0, k1)):
                step(k, segment.masks[k - k0])
    if progress is not None and done % 64:
        progress(done % 64)
    if carry_delta:
        delta_out.append(pi)
    return p, exps


def forward_direct(net: Network, h0: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The plain recursion without rescaling (differentiable; overflows where floats do)."""
    scale_col = scales.to(h0.dtype).view(1, -1, 1)
    h = h0
    for k in range(net.depth):
        W = net.layers_W[k].mT if net.layers_W is not None else None
        h = h + torch.bmm(net.f.fed(net.activation, h, W) * scale_col, net.layers_V[k].mT)
    return h


def autograd_gradient(net: Network, h0: torch.Tensor, scales: torch.Tensor, p_last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """h_L and p_0 = (∂h_L/∂h_0)ᵀ p_L by plain PyTorch backpropagation (the cross-check)."""
    with torch.enable_grad():
        x = h0.detach().clone().requires_grad_(True)
        h = forward_direct(net, x, scales)
        (p0,) = torch.autograd.grad((h * p_last).sum(), x)
    return h.detach(), p0
