"""The cell of `run`, `sweep` and `phase`: the output and gradient ratios of a law at depth L,
width d, for every β of the spec.

One cell of an experiment: a law at depth L, width d, for every β of the spec.

`measure` returns per-sample log10 ratios; `run` adds their statistics. Draws are processed in
chunks that fit the memory budget; every draw's weights, inputs, readout and probes come from
its own stream, so chunking, batch size and the β list never change a given sample.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.dynamics.activations import ACTIVATIONS
from resnet_scale_cli.dynamics.recursion import RENORM_EVERY, Network, autograd_gradient, backward, forward
from resnet_scale_cli.laws.sampling import sample_weights
from resnet_scale_cli.metrics import log10_norm, log10_norm_diff, summarize, tangent_gradient_log10
from resnet_scale_cli.spec import RunSpec

QUANTITIES = ("output_log10", "output_norm_log10", "gradient_log10", "gradient_norm_log10")
IDENTITY_BELOW, EXPLOSION_ABOVE = -1.0, 1.0


@dataclass
class Measurements:
    """Per-sample log10 ratios, arrays of shape (n_betas, samples); NaN where overflowed."""

    betas: tuple[float, ...]
    values: dict[str, np.ndarray]
    overflowed: np.ndarray  # (n_betas, samples) bool
    info: dict[str, Any] = field(default_factory=dict)


def cell_key(spec: RunSpec) -> tuple[int, ...]:
    """Stream coordinates of a cell: the law's name, d and L (common random numbers across β
    and across a law's parameter H or ℓ)."""
    return (seeding.name_key(spec.law), spec.width, spec.depth)


def resolved_grad_method(spec: RunSpec) -> str:
    """`auto`: random-probe tangents when --probes is given, else the exact reverse pass."""
    if not spec.gradients:
        return "none"
    if spec.grad_method == "auto":
        return "tangent" if spec.probes is not None else "reverse"
    return spec.grad_method


def _draw_chunk(spec: RunSpec) -> int:
    itemsize = torch.finfo(spec.torch_dtype()).bits // 8
    per_draw = spec.depth * spec.width**2 * itemsize * (2 if spec.model == "full" else 1)
    return max(1, min(spec.n_draws, int(spec.memory_gb * 2**29 // per_draw)))


def _checkpoint_every(spec: RunSpec, chunk: int, rows: int) -> int:
    """0 (store σ' of every layer) when that fits half the budget, else ⌈√L⌉-layer segments."""
    piecewise_linear = ACTIVATIONS[spec.activation].slopes is not None
    itemsize = 1 if piecewise_linear else torch.finfo(spec.torch_dtype()).bits // 8
    if chunk * rows * spec.depth * spec.width * itemsize <= spec.memory_gb * 2**29:
        return 0
    return max(RENORM_EVERY, int(math.ceil(math.sqrt(spec.depth) / RENORM_EVERY)) * RENORM_EVERY)


@dataclass
class _Chunk:
    """One chunk of draws, ready for a gradient pass: the network, inputs h_0 (draws, β·m, d),
    per-row scales L^-β, the readout p_L, and the streams of the chunk's draws."""

    spec: RunSpec
    net: Network
    h0: torch.Tensor
    row_scales: torch.Tensor
    p_last: torch.Tensor
    gens: Callable[[int], list[torch.Generator]]
    progress: Callable[[int], None] | None
    checkpoint_every: int


@dataclass
class _Pass:
    """What a gradient pass returns: ĥ_L with its log2 exponents, the gradient's log10 ratios
    (empty for `none`), and the rows that overflowed."""

    h_hat: torch.Tensor
    h_exp: torch.Tensor
    gradient: dict[str, torch.Tensor]
    bad: torch.Tensor


def _gradient_ratios(p_hat: torch.Tensor, p_exp: torch.Tensor, p_last: torch.Tensor) -> dict[str, torch.Tensor]:
    """log10 ‖p_0 − p_L‖/‖p_L‖ and log10 ‖p_0‖/‖p_L‖ from p_0 = p̂_0 · 2^exp."""
    log_pl = log10_norm(p_last, torch.zeros_like(p_exp))
    return {"gradient_log10": log10_norm_diff(p_hat, p_exp, p_last) - log_pl,
            "gradient_norm_log10": log10_norm(p_hat, p_exp) - log_pl}


def _autograd_pass(c: _Chunk) -> _Pass:
    """Plain PyTorch backpropagation of p_L through the unrolled recursion (no log-norm carrying)."""
    hL, p0 = autograd_gradient(c.net, c.h0, c.row_scales, c.p_last)
    zero = torch.zeros(hL.shape[:-1], dtype=torch.int64, device=hL.device)
    if c.progress is not None:
        c.progress(c.spec.depth)
    bad = ~torch.isfinite(hL).all(-1) | ~torch.isfinite(p0).all(-1)
    return _Pass(hL, zero, _gradient_ratios(p0, zero, c.p_last), bad)


def _forward_pass(c: _Chunk, *, record_masks: bool) -> tuple[Any, _Pass]:
    fwd = forward(c.net, c.h0, c.row_scales, c.h0.shape[1], record_masks=record_masks,
                  checkpoint_every=c.checkpoint_every, progress=c.progress)
    h_hat = fwd.x
    return fwd, _Pass(h_hat, fwd.exps, {}, ~torch.isfinite(h_hat).all(-1))


def _no_gradient_pass(c: _Chunk) -> _Pass:
    """Forward only: h_L, no gradient ratios."""
    return _forward_pass(c, record_masks=False)[1]


def _reverse_pass(c: _Chunk) -> _Pass:
    """Forward storing σ' (or checkpoints), then the exact reverse pass p_k = p_{k+1} + L^-β J_kᵀ p_{k+1}."""
    fwd, out = _forward_pass(c, record_masks=c.checkpoint_every == 0)
    p_hat, p_exp = backward(c.net, fwd, c.p_last, c.row_scales, progress=c.progress)
    out.bad |= ~torch.isfinite(p_hat).all(-1)
    out.gradient = _gradient_ratios(p_hat, p_exp, c.p_last)
    return out


def _tangent_pass(c: _Chunk) -> _Pass:
    """Tangents q_k = ∂h_k/∂h_0 · z pushed forward beside h_k: z the d basis vectors (exact) or
    --probes N Gaussian probes (unbiased for ‖p_0‖²); p_0 recovered from the q_L."""
    spec, h0 = c.spec, c.h0
    n_chunk, n_states, d = h0.shape
    n_beta, m = len(spec.betas), spec.inputs_per_draw
    device, dtype = h0.device, h0.dtype
    probes = None
    if spec.probes is None:
        n_probes = d
        tangents = torch.eye(d, dtype=dtype, device=device).expand(n_chunk, n_states, d, d)
    else:
        n_probes = spec.probes
        z = torch.stack([torch.randn((m, n_probes, d), generator=g, dtype=dtype, device=device)
                         for g in c.gens(seeding.PROBES)])
        probes = tangents = z.repeat(1, n_beta, 1, 1)
    x0 = torch.cat([h0, tangents.reshape(n_chunk, n_states * n_probes, d)], dim=1)
    scales = torch.cat([c.row_scales, c.row_scales.repeat_interleave(n_probes)])
    fwd = forward(c.net, x0, scales, n_states, record_masks=False, checkpoint_every=0, progress=c.progress)
    h_hat, h_exp = fwd.x[:, :n_states], fwd.exps[:, :n_states]
    q_hat = fwd.x[:, n_states:].reshape(n_chunk, n_states, n_probes, d)
    q_exp = fwd.exps[:, n_states:].reshape(n_chunk, n_states, n_probes)
    bad = ~torch.isfinite(h_hat).all(-1) | ~torch.isfinite(q_hat).all(-1).all(-1)
    log_p0, log_diff = tangent_gradient_log10(q_hat, q_exp, probes, c.p_last)
    log_pl = torch.log10(torch.linalg.vector_norm(c.p_last.to(torch.float64), dim=-1))
    return _Pass(h_hat, h_exp, {"gradient_log10": log_diff - log_pl, "gradient_norm_log10": log_p0 - log_pl}, bad)


GRADIENT_PASSES: dict[str, Callable[[_Chunk], _Pass]] = {
    "none": _no_gradient_pass,
    "reverse": _reverse_pass,
    "tangent": _tangent_pass,
    "autograd": _autograd_pass,
}
"""The pass each resolved gradient method runs (names as in `dynamics.gradients.GRAD_METHODS`)."""


def measure(spec: RunSpec, progress: Callable[[int], None] | None = None) -> Measurements:
    """Per-sample log10 ‖h_L − h_0‖/‖h_0‖, ‖h_L‖/‖h_0‖, ‖p_0 − p_L‖/‖p_L‖ and ‖p_0‖/‖p_L‖."""
    device, dtype = spec.torch_device(), spec.torch_dtype()
    betas, m, d, depth = spec.betas, spec.inputs_per_draw, spec.width, spec.depth
    n_beta = len(betas)
    method = resolved_grad_method(spec)
    gradient_pass = GRADIENT_PASSES[method]
    key = cell_key(spec)
    act = ACTIVATIONS[spec.activation]
    law_options = dict(dist=spec.dist, lengthscale=spec.lengthscale, hurst=spec.hurst,
                       fbm_backend=spec.fbm_backend, dtype=dtype, device=device)
    chunk = _draw_chunk(spec)
    n_states = n_beta * m
    row_scales = torch.tensor([depth ** (-b) for b in betas for _ in range(m)], dtype=torch.float64, device=device)
    exact_probes = method == "tangent" and spec.probes is None
    n_probes = d if exact_probes else (spec.probes or 0) if method == "tangent" else 0
    checkpoint_every = _checkpoint_every(spec, chunk, n_states) if method == "reverse" else 0

    parts: dict[str, list[np.ndarray]] = {q: [] for q in QUANTITIES}
    overflow_parts: list[np.ndarray] = []
    for first in range(0, spec.n_draws, chunk):
        draws = range(first, min(first + chunk, spec.n_draws))

        def gens(purpose: int, draws: range = draws) -> list[torch.Generator]:
            return [seeding.generator(spec.seed, key + (i, purpose), device) for i in draws]

        net = Network(sample_weights(spec.law, depth, d, gens(seeding.WEIGHTS_V), layer_major=True, **law_options),
                      sample_weights(spec.law, depth, d, gens(seeding.WEIGHTS_W), layer_major=True, **law_options)
                      if spec.model == "full" else None, spec.model, act, layer_major=True)
        h0 = torch.stack([torch.randn((m, d), generator=g, dtype=dtype, device=device) for g in gens(seeding.INPUTS)])
        h0 = h0.repeat(1, n_beta, 1)  # rows: β-major, then inputs
        readout = torch.stack([torch.randn(d, generator=g, dtype=dtype, device=device) for g in gens(seeding.READOUT)])
        p_last = readout.unsqueeze(1).expand(-1, n_states, -1)
        n_chunk = len(draws)
        done = gradient_pass(_Chunk(spec, net, h0, row_scales, p_last, gens, progress, checkpoint_every))
        log_h0 = log10_norm(h0, torch.zeros_like(done.h_exp))
        result = {"output_log10": log10_norm_diff(done.h_hat, done.h_exp, h0) - log_h0,
                  "output_norm_log10": log10_norm(done.h_hat, done.h_exp) - log_h0, **done.gradient}
        for q in QUANTITIES:
            if q in result:
                values = result[q].masked_fill(done.bad, float("nan"))
                # (draws, β·m) -> (β, draws·m): samples ordered by draw, then input
                parts[q].append(values.reshape(n_chunk, n_beta, m).permute(1, 0, 2).reshape(n_beta, -1).cpu().numpy())
        overflow_parts.append(done.bad.reshape(n_chunk, n_beta, m).permute(1, 0, 2).reshape(n_beta, -1).cpu().numpy())
        del net, done

    values = {q: np.concatenate(v, axis=1) for q, v in parts.items() if v}
    info = {
        "device": str(device),
        "grad_method_used": method,
        "probes_used": "exact (d basis vectors)" if exact_probes else n_probes if method == "tangent" else None,
        "checkpoint_every": checkpoint_every or None,
        "draws": spec.n_draws,
        "inputs_per_draw": m,
        "draws_per_chunk": chunk,
    }
    return Measurements(tuple(betas), values, np.concatenate(overflow_parts, axis=1), info)


def suggest_regime(median_log10: float | None) -> str:
    """Single-depth reading of a median log10 ratio: < −1 identity, > +1 explosion, else stable."""
    if median_log10 is None:
        return "explosion"
    if median_log10 < IDENTITY_BELOW:
        return "identity"
    if median_log10 > EXPLOSION_ABOVE:
        return "explosion"
    return "stable"


@dataclass
class RunResult:
    spec: RunSpec
    measurements: Measurements
    results: list[dict[str, Any]]
    elapsed_seconds: float


def statistics(spec: RunSpec, meas: Measurements) -> list[dict[str, Any]]:
    """One summary per β: quantiles of each log10 ratio, sample and overflow counts, regime."""
    rows = []
    for j, beta in enumerate(meas.betas):
        row: dict[str, Any] = {"beta": float(beta), "depth": spec.depth}
        for q in QUANTITIES:
            row[q] = summarize(meas.values[q][j]) if q in meas.values else None
        row["samples"] = int(meas.overflowed.shape[1])
        row["overflowed"] = int(meas.overflowed[j].sum())
        out = row["output_log10"]
        row["regime"] = suggest_regime(None if out is None or row["overflowed"] * 2 > row["samples"] else out["median"])
        rows.append(row)
    return rows


def run(spec: RunSpec, progress: Callable[[int], None] | None = None) -> RunResult:
    """Measure a spec and summarize it per β."""
    start = time.perf_counter()
    with torch.no_grad():
        meas = measure(spec, progress)
    return RunResult(spec, meas, statistics(spec, meas), time.perf_counter() - start)


def progress_total(spec: RunSpec) -> int:
    """Layers `measure` will report through its progress callback."""
    chunks = math.ceil(spec.n_draws / _draw_chunk(spec))
    passes = 2 if resolved_grad_method(spec) == "reverse" else 1
    return chunks * spec.depth * passes
