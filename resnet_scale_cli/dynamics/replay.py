"""The layer loop of `recursion.forward` and `recursion.backward` replayed from captured CUDA
graphs (issue 10, item 2): no per-layer Python on CUDA.

The loop runs in blocks of `BLOCK` layers. A `Replay` holds static tensors — one block's
weights (and σ' for the reverse pass), the row scales and the state (rows, exponents, and with
delta carrying the base and the delta) — and, per block length, the block captured once: the
same per-layer code as the eager loop (`layers.forward_layer` / `reverse_layer`) reading
and writing only those tensors. A pass copies its inputs in, then for each block copies that
block's weights in and replays it, and clones its outputs out. On CUDA the capture is a CUDA
graph (warmed up on a side stream, captured on the same stream); elsewhere (tests) the
"capture" is the Python function itself, so the buffer management runs on CPU too.

Blocks start at multiples of `BLOCK` (forward) or end at L − multiples of `BLOCK` (reverse),
and `BLOCK` is a multiple of `RENORM_EVERY`: each block's rescaling schedule is the eager one,
so results equal the eager loop's bit for bit (same kernels on the same values; exact log-norm
carrying unchanged). Progress is reported once per block (64 layers, as the eager loop does).

Used automatically for CUDA tensors (`wanted`); `ENABLED = False` or the environment variable
`RSCALE_NO_CUDA_GRAPHS=1` switch it off. Not covered (the eager loop runs): partial passes
(`start`/`stop`/`exps0`), checkpointed passes and the reverse pass from checkpoints. Any
exception while capturing makes the process fall back to the eager loop, with one line on
stderr. CPU tensors never replay unless a test sets `ON_CPU`.

One thread per process: the cached replays' static tensors (and the capture streams) are shared
by every caller in the process (a CUDA cell runs its passes on one thread; Dask GPU workers take
`--nthreads 1`).
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable

import torch

from resnet_scale_cli.dynamics.layers import RENORM_EVERY, Forward, Network, fused
from resnet_scale_cli.dynamics.layers import forward_layer as _forward_layer
from resnet_scale_cli.dynamics.layers import reverse_layer as _reverse_layer

ENV = "RSCALE_NO_CUDA_GRAPHS"
ENABLED = True
"""Replay CUDA passes from captured graphs (False: always the eager loop)."""
ON_CPU = False
"""Tests: replay CPU tensors too, with the eager capture (the function called directly)."""
BLOCK = 64
"""Layers per captured block; a multiple of RENORM_EVERY (and equal to the progress step)."""
CACHE_SIZE = 8
WARMUP = 3

_cache: OrderedDict[tuple, Replay] = OrderedDict()
_failed: str | None = None  # the capture error that sent this process back to the eager loop


def wanted(t: torch.Tensor) -> bool:
    """Whether a pass on `t`'s device goes through a replay."""
    if not ENABLED or _failed is not None or os.environ.get(ENV, "") not in ("", "0"):
        return False
    return t.is_cuda or ON_CPU


def clear() -> None:
    """Drop every cached replay (its static tensors and graphs: their device memory is freed)."""
    _cache.clear()


_streams: dict[int, torch.cuda.Stream] = {}  # one capture stream per CUDA device (one cuBLAS workspace)


def capture(fn: Callable[[], None], graphs: bool) -> Callable[[], None]:
    """`fn` as a replayable callable: a CUDA graph of its kernels (`graphs`; captured on the current
    device's capture stream), else `fn` itself."""
    if not graphs:
        return fn
    stream = _streams.get(torch.cuda.current_device())
    if stream is None:
        stream = _streams[torch.cuda.current_device()] = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up (library handles, workspaces) on the capture stream
        for _ in range(WARMUP):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        fn()
    return graph.replay


class Replay:
    """Static tensors and the blocks captured on them: `block(n)` captures (once) and returns the
    callable that runs n layers on `static` — the caller copies inputs in before and outputs out after."""

    def __init__(self, static: dict[str, torch.Tensor], body: Callable[[int], Callable[[], None]], graphs: bool):
        self.static, self._body, self.graphs = static, body, graphs
        self.device = next(iter(static.values())).device
        self._blocks: dict[int, Callable[[], None]] = {}

    def block(self, n: int) -> Callable[[], None]:
        if n not in self._blocks:
            if self.graphs:
                with torch.cuda.device(self.device):
                    run = capture(self._body(n), True)

                def on_device(run=run) -> None:
                    with torch.cuda.device(self.device):
                        run()

                self._blocks[n] = on_device
            else:
                self._blocks[n] = capture(self._body(n), False)
        return self._blocks[n]


def _sizes(depth: int) -> list[int]:
    """Block lengths: full blocks, then the remainder."""
    return [BLOCK] * (depth // BLOCK) + ([depth % BLOCK] if depth % BLOCK else [])


def _prepared(key: tuple, build: Callable[[], Replay], sizes: list[int]) -> Replay | None:
    """The cached replay of `key` with every block length of `sizes` captured; None (and the eager
    loop from now on, with one note on stderr) if building or capturing raised."""
    global _failed
    try:
        with torch.no_grad():
            rep = _cache.pop(key, None) or build()
            for n in sorted(set(sizes)):
                rep.block(n)
    except Exception as exc:  # noqa: BLE001 - any capture failure falls back to the eager loop
        _cache.pop(key, None)
        if _failed is None:
            _failed = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            print(f"rscale: CUDA graph capture failed ({_failed}); running the eager layer loop "
                  f"(set {ENV}=1 to skip the attempt)", file=sys.stderr, flush=True)
        return None
    _cache[key] = rep
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return rep


def _copy_weights(static: dict[str, torch.Tensor], net: Network, k0: int, n: int) -> None:
    static["V"][:n].copy_(net.layers_V[k0:k0 + n])
    if net.layers_W is not None:
        static["W"][:n].copy_(net.layers_W[k0:k0 + n])


def _block_net(static: dict[str, torch.Tensor], net: Network, n: int) -> Network:
    return Network(static["V"][:n], static["W"][:n] if "W" in static else None, net.model, net.activation,
                   layer_major=True)


def _weights(net: Network, d0: int, width: int, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    out = {"V": torch.zeros((BLOCK, d0, width, width), dtype=dtype, device=device)}
    if net.layers_W is not None:
        out["W"] = torch.zeros_like(out["V"])
    return out


def forward(net: Network, x0: torch.Tensor, scales: torch.Tensor, n_states: int, *, carry_log_norms: bool = True,
            record_masks: bool = False, carry_delta: bool = False,
            progress: Callable[[int], None] | None = None, mask_store: torch.Tensor | None = None) -> Forward | None:
    """`recursion.forward` over all layers (no checkpoints) by replay; None if capture failed.
    `mask_store` (checked by the caller): the (L, D, n_states, d) bool tensor σ' is copied into,
    block by block (`Forward.masks` are its layers), as the eager loop records into it."""
    d0, rows, width = x0.shape
    dtype, device, graphs = x0.dtype, x0.device, x0.is_cuda
    masked = record_masks and net.f.nonlinear
    mask_dtype = torch.bool if net.activation.slopes is not None else dtype
    key = ("forward", str(device), dtype, scales.dtype, net.model, net.activation.name, net.layers_W is not None,
           d0, rows, width, n_states, carry_log_norms, masked, carry_delta, graphs, BLOCK)

    def build() -> Replay:
        s = _weights(net, d0, width, dtype, device)
        s.update(x=torch.zeros_like(x0), exps=torch.zeros((d0, rows), dtype=torch.int64, device=device),
                 scales=torch.zeros_like(scales))
        if carry_delta:
            s.update(base=torch.zeros_like(x0), delta=torch.zeros_like(x0))
        if masked:
            s["masks"] = torch.zeros((BLOCK, d0, n_states, width), dtype=mask_dtype, device=device)
        rescale_rows = None
        if not net.state_homogeneous:
            rescale_rows = torch.ones(rows, dtype=torch.int32, device=device)
            rescale_rows[:n_states] = 0
        in_place = fused(net)

        def body(n: int) -> Callable[[], None]:
            blk = _block_net(s, net, n)

            def run() -> None:
                x, exps = s["x"], s["exps"]
                scale_col = s["scales"].to(dtype).view(1, rows, 1)
                buffer = torch.empty_like(x) if in_place else None
                for j in range(n):
                    renorm = carry_log_norms and ((j + 1) % RENORM_EVERY == 0 or j + 1 == n)
                    exps, _ = _forward_layer(blk, j, x, s.get("base"), s.get("delta"), exps, scale_col, n_states,
                                             rescale_rows, buffer, renorm, masked,
                                             mask_out=s["masks"][j] if masked else None)  # σ' straight into the block
                if exps is not s["exps"]:
                    s["exps"].copy_(exps)

            return run

        return Replay(s, body, graphs)

    sizes = _sizes(net.depth)
    rep = _prepared(key, build, sizes)
    if rep is None:
        return None
    s = rep.static
    with torch.no_grad():
        s["scales"].copy_(scales)
        s["x"].copy_(x0)
        s["exps"].zero_()
        if carry_delta:
            s["base"].copy_(x0)
            s["delta"].zero_()
        stored = mask_store is not None  # (given only with σ' recorded as bool: `recursion.forward`)
        masks: list | None = list(mask_store.unbind(0)) if stored else [] if record_masks else None
        k0 = 0
        for n in sizes:
            _copy_weights(s, net, k0, n)
            rep.block(n)()
            if stored:
                mask_store[k0:k0 + n].copy_(s["masks"][:n])
            elif record_masks:
                masks.extend(s["masks"][:n].clone().unbind(0) if masked else [None] * n)
            if progress is not None:
                progress(n)
            k0 += n
        return Forward(s["x"].clone(), s["exps"].clone(), n_states, masks=masks,
                       delta=s["delta"].clone() if carry_delta else None)


def backward(net: Network, fwd: Forward, p_last: torch.Tensor, scales: torch.Tensor, *, carry_log_norms: bool = True,
             progress: Callable[[int], None] | None = None,
             delta_out: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`recursion.backward` from recorded σ' (or the linear model) by replay; None if capture failed."""
    d0, n_rows, width = p_last.shape
    dtype, device, graphs = p_last.dtype, p_last.device, p_last.is_cuda
    carry_delta = delta_out is not None
    masked = net.f.nonlinear
    mask_dtype = fwd.masks[0].dtype if masked and fwd.masks else None
    key = ("reverse", str(device), dtype, scales.dtype, net.model, net.activation.name, net.layers_W is not None,
           d0, n_rows, width, carry_log_norms, mask_dtype, carry_delta, graphs, BLOCK)

    def build() -> Replay:
        s = _weights(net, d0, width, dtype, device)
        s.update(p=torch.zeros((d0, n_rows, width), dtype=dtype, device=device),
                 exps=torch.zeros((d0, n_rows), dtype=torch.int64, device=device), scales=torch.zeros_like(scales))
        if carry_delta:
            s.update(base=torch.zeros_like(s["p"]), pi=torch.zeros_like(s["p"]))
        if mask_dtype is not None:
            s["masks"] = torch.zeros((BLOCK, d0, n_rows, width), dtype=mask_dtype, device=device)

        def body(n: int) -> Callable[[], None]:
            blk = _block_net(s, net, n)

            def run() -> None:
                p, exps, pi = s["p"], s["exps"], s.get("pi")  # p and pi are updated in place
                scale_col = s["scales"].to(dtype).view(1, n_rows, 1)
                work = (torch.empty_like(p), torch.empty_like(p))
                for j in reversed(range(n)):  # block [k0, k0 + n) ends at L − a multiple of BLOCK
                    renorm = carry_log_norms and ((n - j) % RENORM_EVERY == 0 or j == 0)
                    mask = s["masks"][j] if mask_dtype is not None else None
                    p, exps, pi = _reverse_layer(blk, j, mask, p, exps, s.get("base"), pi, scale_col, renorm, work=work)
                for name, value in (("p", p), ("exps", exps), ("pi", pi)):
                    if value is not None and value is not s[name]:
                        s[name].copy_(value)

            return run

        return Replay(s, body, graphs)

    sizes = _sizes(net.depth)  # from the top: full blocks, the remainder last (at the bottom)
    rep = _prepared(key, build, sizes)
    if rep is None:
        return None
    s = rep.static
    with torch.no_grad():
        s["scales"].copy_(scales)
        s["p"].copy_(p_last)
        s["exps"].zero_()
        if carry_delta:
            s["base"].copy_(p_last)
            s["pi"].zero_()
        k1 = net.depth
        for n in sizes:
            k0 = k1 - n
            _copy_weights(s, net, k0, n)
            if mask_dtype is not None:
                torch.stack(fwd.masks[k0:k1], out=s["masks"][:n])
            rep.block(n)()
            if progress is not None:
                progress(n)
            k1 = k0
        if carry_delta:
            delta_out.append(s["pi"].clone())
        return s["p"].clone(), s["exps"].clone()
