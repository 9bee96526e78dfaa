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
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.dynamics.activations import ACTIVATIONS
from resnet_scale_cli.dynamics.models import MODELS
from resnet_scale_cli.dynamics.recursion import RENORM_EVERY, Network, autograd_gradient, backward, forward
from resnet_scale_cli.laws.registry import law_parameters
from resnet_scale_cli.laws.sampling import sample_weights
from resnet_scale_cli.metrics import log10_norm, log10_norm_diff, tangent_gradient_log10
from resnet_scale_cli.spec import RunSpec

from resnet_scale_cli.analysis.regimes import RATIO_QUANTITIES as QUANTITIES  # noqa: E402  (re-exported)


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


def _budget_draws(spec: RunSpec) -> int:
    """Draws whose weights fit the memory budget (at least 1)."""
    itemsize = torch.finfo(spec.torch_dtype()).bits // 8
    per_draw = spec.depth * spec.width**2 * itemsize * len(MODELS[spec.model].weights)
    return max(1, int(spec.memory_gb * 2**29 // per_draw))


def _draw_chunk(spec: RunSpec) -> int:
    return min(spec.n_draws, _budget_draws(spec))


def _checkpoint_every(spec: RunSpec, chunk: int, rows: int) -> int:
    """0 (store σ' of every layer) when that fits half the budget, else ⌈√L⌉-layer segments."""
    piecewise_linear = ACTIVATIONS[spec.activation].slopes is not None
    itemsize = 1 if piecewise_linear else torch.finfo(spec.torch_dtype()).bits // 8
    if chunk * rows * spec.depth * spec.width * itemsize <= spec.memory_gb * 2**29:
        return 0
    return max(RENORM_EVERY, int(math.ceil(math.sqrt(spec.depth) / RENORM_EVERY)) * RENORM_EVERY)


class _Reuse:
    """Memory kept from one pass to the next within a `measure` or `measure_group` call (one per
    CPU worker): the weights V and W and the σ' block of the reverse pass. Fresh blocks cost their
    first-touch page faults on every pass (per Figure-7 setting 64 MB of weights and 140 MB of
    σ', about 50 000 pages: several per cent of a CPU pass)."""

    def __init__(self) -> None:
        self.blocks: dict[str, torch.Tensor] = {}

    def tensor(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """An uninitialized tensor of `shape`: a prefix of the block kept under `name` when that is
        large enough, else a new block (kept in its place)."""
        n = math.prod(shape)
        block = self.blocks.get(name)
        if block is None or block.numel() < n or block.dtype != dtype or block.device != torch.device(device):
            self.blocks.pop(name, None)  # freed before the larger one is allocated
            block = self.blocks[name] = torch.empty(n, dtype=dtype, device=device)
        return block[:n].view(shape)


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
    reuse: _Reuse | None = None

    @property
    def carry_delta(self) -> bool:
        """Carry h_k − h_0 and p_k − p_L apart (`dynamics.recursion`): below float64, where the
        increments L^{-β} f at large β fall under the resolution of h_k."""
        return self.h0.dtype != torch.float64


@dataclass
class _Pass:
    """What a gradient pass returns: ĥ_L with its log2 exponents, the gradient's log10 ratios
    (empty for `none`), the rows that overflowed, and ĥ_L − ĥ_0 in the frame of ĥ_L when the
    pass carried it apart."""

    h_hat: torch.Tensor
    h_exp: torch.Tensor
    gradient: dict[str, torch.Tensor]
    bad: torch.Tensor
    h_delta: torch.Tensor | None = None


def _gradient_ratios(p_hat: torch.Tensor, p_exp: torch.Tensor, p_last: torch.Tensor,
                     p_delta: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """log10 ‖p_0 − p_L‖/‖p_L‖ and log10 ‖p_0‖/‖p_L‖ from p_0 = p̂_0 · 2^exp (and, when carried
    apart, p_0 − p_L = π̂_0 · 2^exp)."""
    log_pl = log10_norm(p_last, torch.zeros_like(p_exp))
    diff = log10_norm_diff(p_hat, p_exp, p_last) if p_delta is None else log10_norm(p_delta, p_exp)
    return {"gradient_log10": diff - log_pl, "gradient_norm_log10": log10_norm(p_hat, p_exp) - log_pl}


def _autograd_pass(c: _Chunk) -> _Pass:
    """Plain PyTorch backpropagation of p_L through the unrolled recursion (no log-norm carrying)."""
    hL, p0 = autograd_gradient(c.net, c.h0, c.row_scales, c.p_last)
    zero = torch.zeros(hL.shape[:-1], dtype=torch.int64, device=hL.device)
    if c.progress is not None:
        c.progress(c.spec.depth)
    bad = ~torch.isfinite(hL).all(-1) | ~torch.isfinite(p0).all(-1)
    return _Pass(hL, zero, _gradient_ratios(p0, zero, c.p_last), bad)


def _forward_pass(c: _Chunk, *, record_masks: bool) -> tuple[Any, _Pass]:
    store = None
    if record_masks and c.reuse is not None and c.net.f.nonlinear and c.net.activation.slopes is not None:
        store = c.reuse.tensor("masks", (c.net.depth, *c.h0.shape), torch.bool, c.h0.device)
    fwd = forward(c.net, c.h0, c.row_scales, c.h0.shape[1], record_masks=record_masks,
                  checkpoint_every=c.checkpoint_every, carry_delta=c.carry_delta, progress=c.progress,
                  mask_store=store)
    h_hat = fwd.x
    return fwd, _Pass(h_hat, fwd.exps, {}, ~torch.isfinite(h_hat).all(-1), fwd.delta)


def _no_gradient_pass(c: _Chunk) -> _Pass:
    """Forward only: h_L, no gradient ratios."""
    return _forward_pass(c, record_masks=False)[1]


def _reverse_pass(c: _Chunk) -> _Pass:
    """Forward storing σ' (or checkpoints), then the exact reverse pass p_k = p_{k+1} + L^-β J_kᵀ p_{k+1}."""
    fwd, out = _forward_pass(c, record_masks=c.checkpoint_every == 0)
    p_delta: list[torch.Tensor] | None = [] if c.carry_delta else None
    p_hat, p_exp = backward(c.net, fwd, c.p_last, c.row_scales, progress=c.progress, delta_out=p_delta)
    out.bad |= ~torch.isfinite(p_hat).all(-1)
    out.gradient = _gradient_ratios(p_hat, p_exp, c.p_last, p_delta[0] if p_delta else None)
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
    fwd = forward(c.net, x0, scales, n_states, record_masks=False, checkpoint_every=0, carry_delta=c.carry_delta,
                  progress=c.progress)
    h_hat, h_exp = fwd.x[:, :n_states], fwd.exps[:, :n_states]
    q_hat = fwd.x[:, n_states:].reshape(n_chunk, n_states, n_probes, d)
    q_exp = fwd.exps[:, n_states:].reshape(n_chunk, n_states, n_probes)
    h_delta = q_delta = None
    if fwd.delta is not None:
        h_delta, q_delta = fwd.delta[:, :n_states], fwd.delta[:, n_states:].reshape(n_chunk, n_states, n_probes, d)
    bad = ~torch.isfinite(h_hat).all(-1) | ~torch.isfinite(q_hat).all(-1).all(-1)
    log_p0, log_diff = tangent_gradient_log10(q_hat, q_exp, probes, c.p_last, q_delta)
    log_pl = torch.log10(torch.linalg.vector_norm(c.p_last.to(torch.float64), dim=-1))
    return _Pass(h_hat, h_exp, {"gradient_log10": log_diff - log_pl, "gradient_norm_log10": log_p0 - log_pl}, bad,
                 h_delta)


GRADIENT_PASSES: dict[str, Callable[[_Chunk], _Pass]] = {
    "none": _no_gradient_pass,
    "reverse": _reverse_pass,
    "tangent": _tangent_pass,
    "autograd": _autograd_pass,
}
"""The pass each resolved gradient method runs (names as in `dynamics.gradients.GRAD_METHODS`)."""


GROUP_SETTINGS = True
"""Measure the law settings (H or ℓ values) of a grid that share everything else in one pass
(`measure_group`); False measures each setting alone. Values are bit-identical either way."""

SETTING_FIELDS = law_parameters()
"""The spec fields that may differ within a group: the law's parameter (not part of `cell_key`,
so the settings of a group share every draw's streams)."""


def group_key(spec: RunSpec) -> tuple:
    """Specs with equal keys can be measured together by `measure_group`."""
    return tuple(sorted((k, repr(v)) for k, v in spec.to_dict().items() if k not in SETTING_FIELDS))


def _settings_per_pass(spec: RunSpec, n_settings: int) -> int:
    """How many settings' full draw sets fit one pass within the memory budget: their weights
    (as `_draw_chunk` bounds a chunk), and for the reverse pass without checkpoints their σ'
    (as `_checkpoint_every` bounds them). 1: measure each setting alone."""
    k = min(n_settings, _budget_draws(spec) // spec.n_draws)
    if k > 1 and resolved_grad_method(spec) == "reverse" and _checkpoint_every(spec, _draw_chunk(spec),
                                                                                len(spec.betas) * spec.inputs_per_draw) == 0:
        while k > 1 and _checkpoint_every(spec, k * spec.n_draws, len(spec.betas) * spec.inputs_per_draw) != 0:
            k -= 1
    return max(1, k)


CPU_WORKERS: int | None = None
"""CPU passes: how many threads share a pass, each running whole draws through all layers (every
draw's rows are computed alone, so this never changes a value). None: torch's intra-op thread
count; 1: no worker threads. The workers share torch's intra-op threads (one each on a 2-core
machine). The layer loop is a dozen small operations per layer: intra-op threads meet at a
barrier after each (on a loaded machine one late thread stalls them all, a pass took 20–30×
longer), worker threads do not; they hand Python's lock over at each operation instead, which
costs less the larger a worker's share (so each gets one part, below)."""
MIN_ROWS_PER_WORKER = 1024
"""No more workers than one per this many rows of the stack."""
ROWS_PER_PART = 1024
"""With one worker, the stack runs in parts of at least this many rows (the Figure-7 cell: 2 draws
of 700 rows), one after another: a part's working set per layer stays in the core's cache (7 %
faster than the 5 draws of a Hurst index at once on one thread)."""


def _parts(device: torch.device, n_pairs: int, rows_per_pair: int, wanted: int) -> list[range]:
    """Contiguous, balanced ranges of the stack: one per worker, or (one worker) parts of
    `ROWS_PER_PART` rows; the whole stack off the CPU."""
    if device.type != "cpu":
        return [range(n_pairs)]
    rows = n_pairs * rows_per_pair
    workers = max(1, min(wanted, n_pairs, rows // MIN_ROWS_PER_WORKER))
    n_parts = workers if workers > 1 else max(1, min(n_pairs, rows // ROWS_PER_PART))
    bounds = [n_pairs * j // n_parts for j in range(n_parts + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]


class _Layers:
    """Progress of a pass run in parts: each part reports its layers, counted for its share of
    the stack (n_set · part/stack per layer: the whole pass stands for n_set settings' layers);
    `flush` (on the calling thread only) passes whole layers on to the callback."""

    def __init__(self, progress: Callable[[int], None] | None, n_set: int, n_pairs: int) -> None:
        self.progress, self.n_set, self.n_pairs = progress, n_set, n_pairs
        self.lock = threading.Lock()
        self.count = 0  # layers × n_set × pairs, over all parts
        self.reported = 0

    def reporter(self, part_pairs: int) -> Callable[[int], None] | None:
        if self.progress is None:
            return None

        def add(n: int) -> None:
            with self.lock:
                self.count += n * self.n_set * part_pairs

        return add

    def flush(self) -> None:
        if self.progress is not None:
            with self.lock:
                due = self.count // self.n_pairs - self.reported
                self.reported += due
            if due:
                self.progress(due)


def _measure_settings(specs: list[RunSpec], draws: range, progress: Callable[[int], None] | None,
                      method: str, checkpoint_every: int,
                      reuse: list[_Reuse] | None = None) -> list[dict[str, np.ndarray]]:
    """One pass over `draws` of every spec in `specs` (same except the law's parameter): the
    settings' weights stacked on the draw axis (settings-major), each draw from its own streams.
    On the CPU the stack runs in parts (`_parts`) on up to `CPU_WORKERS` threads (each takes the
    next part when done); only the calling thread reports progress. Returns per spec its values (β, draws·m) per quantity
    and "overflowed". `reuse`: memory kept across the passes of one call, one entry per worker
    (grown as needed)."""
    spec = specs[0]
    device = spec.torch_device()
    n_beta, m, n_set, n_draw = len(spec.betas), spec.inputs_per_draw, len(specs), len(draws)
    pairs = [(s, i) for s in specs for i in draws]  # the stack: setting-major, then draws
    rows = n_beta * m * (1 + (spec.width if spec.probes is None else spec.probes) if method == "tangent" else 1)
    wanted = CPU_WORKERS if CPU_WORKERS is not None else torch.get_num_threads()
    parts = [pairs[r.start:r.stop] for r in _parts(device, len(pairs), rows, wanted)]
    workers = max(1, min(wanted, len(parts)))
    if reuse is None or device.type != "cpu":
        reuse = [None] * workers  # (other devices reuse memory through their caching allocator)
    reuse += [_Reuse() for _ in range(workers - len(reuse))]
    layers = _Layers(progress, n_set, len(pairs))
    results: list[dict[str, torch.Tensor] | None] = [None] * len(parts)
    if workers == 1:
        for j, part in enumerate(parts):
            report = layers.reporter(len(part))
            flushed = None if report is None else (lambda n, report=report: (report(n), layers.flush()))
            results[j] = _measure_pairs(part, flushed, method, checkpoint_every, reuse[0])
    else:
        threads = torch.get_num_threads()
        per_worker = max(1, threads // workers)
        grad = torch.is_grad_enabled()
        queue = iter(range(len(parts)))
        lock, stop = threading.Lock(), threading.Event()

        def work(kept: _Reuse | None) -> None:
            torch.set_num_threads(per_worker)
            with torch.set_grad_enabled(grad):
                while not stop.is_set():
                    with lock:
                        j = next(queue, None)
                    if j is None:
                        return
                    results[j] = _measure_pairs(parts[j], layers.reporter(len(parts[j])), method, checkpoint_every,
                                                kept)

        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="rscale-pass") as pool:
                pending = {pool.submit(work, kept) for kept in reuse[:workers]}
                try:
                    while pending:
                        done, pending = futures_wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                        layers.flush()
                        for f in done:
                            f.result()  # a worker's exception, raised here
                except BaseException:
                    stop.set()  # the other workers stop after their current part
                    raise
        finally:
            torch.set_num_threads(threads)
    layers.flush()
    result = {q: torch.cat([r[q] for r in results]) for q in results[0]} if len(results) > 1 else results[0]

    def per_setting(x: torch.Tensor) -> list[np.ndarray]:
        # (settings·draws, β·m) -> per setting (β, draws·m): samples ordered by draw, then input
        x = x.reshape(n_set, n_draw, n_beta, m).permute(0, 2, 1, 3).reshape(n_set, n_beta, -1).cpu().numpy()
        return list(x)

    bad = result.pop("bad")
    out: list[dict[str, np.ndarray]] = [{} for _ in specs]
    for q in QUANTITIES:
        if q in result:
            for o, v in zip(out, per_setting(result[q].masked_fill(bad, float("nan")))):
                o[q] = v
    for o, v in zip(out, per_setting(bad)):
        o["overflowed"] = v
    return out


def _measure_pairs(pairs: list[tuple[RunSpec, int]], progress: Callable[[int], None] | None, method: str,
                   checkpoint_every: int, reuse: _Reuse | None = None) -> dict[str, torch.Tensor]:
    """The pass over a stack of (setting, draw) pairs (settings consecutive): per quantity and
    "bad", a tensor (pairs, β·m). `progress` gets the pass's layers."""
    spec = pairs[0][0]
    device, dtype = spec.torch_device(), spec.torch_dtype()
    betas, m, d, depth = spec.betas, spec.inputs_per_draw, spec.width, spec.depth
    n_beta = len(betas)
    n_states = n_beta * m
    gradient_pass = GRADIENT_PASSES[method]
    key = cell_key(spec)
    act = ACTIVATIONS[spec.activation]
    row_scales = torch.tensor([depth ** (-b) for b in betas for _ in range(m)], dtype=torch.float64, device=device)
    runs: list[tuple[RunSpec, list[int]]] = []  # consecutive pairs of one setting
    for s, i in pairs:
        if runs and runs[-1][0] is s:
            runs[-1][1].append(i)
        else:
            runs.append((s, [i]))

    def gen(i: int, purpose: int) -> torch.Generator:
        return seeding.generator(spec.seed, key + (i, purpose), device)

    def all_gens(purpose: int) -> list[torch.Generator]:
        return [gen(i, purpose) for _, i in pairs]

    def weights(purpose: int, name: str) -> torch.Tensor:
        shape = (depth, len(pairs), d, d)
        out = torch.empty(shape, dtype=dtype, device=device) if reuse is None else reuse.tensor(name, shape, dtype, device)
        first = 0
        for s, draws in runs:  # each setting's draws written in place: no second copy
            sample_weights(s.law, depth, d, [gen(i, purpose) for i in draws], layer_major=True, dtype=dtype,
                           device=device, out=out[:, first:first + len(draws)], **s.law_settings())
            first += len(draws)
        return out

    V = weights(seeding.WEIGHTS_V, "V")
    W = weights(seeding.WEIGHTS_W, "W") if MODELS[spec.model].has_inner_weights else None
    net = Network(V, W, spec.model, act, layer_major=True)
    h0 = torch.stack([torch.randn((m, d), generator=g, dtype=dtype, device=device) for g in all_gens(seeding.INPUTS)])
    h0 = h0.repeat(1, n_beta, 1)  # rows: β-major, then inputs
    readout = torch.stack([torch.randn(d, generator=g, dtype=dtype, device=device) for g in all_gens(seeding.READOUT)])
    p_last = readout.unsqueeze(1).expand(-1, n_states, -1)
    done = gradient_pass(_Chunk(spec, net, h0, row_scales, p_last, all_gens, progress, checkpoint_every, reuse))
    log_h0 = log10_norm(h0, torch.zeros_like(done.h_exp))
    out_diff = (log10_norm_diff(done.h_hat, done.h_exp, h0) if done.h_delta is None
                else log10_norm(done.h_delta, done.h_exp))
    return {"output_log10": out_diff - log_h0, "output_norm_log10": log10_norm(done.h_hat, done.h_exp) - log_h0,
            **done.gradient, "bad": done.bad}


def _assemble(spec: RunSpec, parts: list[dict[str, np.ndarray]], method: str, checkpoint_every: int,
              chunk: int) -> Measurements:
    d = spec.width
    exact_probes = method == "tangent" and spec.probes is None
    n_probes = d if exact_probes else (spec.probes or 0) if method == "tangent" else 0
    values = {q: np.concatenate([p[q] for p in parts], axis=1) for q in QUANTITIES if q in parts[0]}
    info = {
        "device": str(spec.torch_device()),
        "grad_method_used": method,
        "probes_used": "exact (d basis vectors)" if exact_probes else n_probes if method == "tangent" else None,
        "checkpoint_every": checkpoint_every or None,
        "draws": spec.n_draws,
        "inputs_per_draw": spec.inputs_per_draw,
        "draws_per_chunk": chunk,
    }
    return Measurements(tuple(spec.betas), values, np.concatenate([p["overflowed"] for p in parts], axis=1), info)


def measure(spec: RunSpec, progress: Callable[[int], None] | None = None) -> Measurements:
    """Per-sample log10 ‖h_L − h_0‖/‖h_0‖, ‖h_L‖/‖h_0‖, ‖p_0 − p_L‖/‖p_L‖ and ‖p_0‖/‖p_L‖."""
    return _measure(spec, progress, [])


def _measure(spec: RunSpec, progress: Callable[[int], None] | None, reuse: list[_Reuse]) -> Measurements:
    method = resolved_grad_method(spec)
    chunk = _draw_chunk(spec)
    checkpoint_every = (_checkpoint_every(spec, chunk, len(spec.betas) * spec.inputs_per_draw)
                        if method == "reverse" else 0)
    parts = [_measure_settings([spec], range(first, min(first + chunk, spec.n_draws)), progress, method,
                               checkpoint_every, reuse)[0]
             for first in range(0, spec.n_draws, chunk)]
    return _assemble(spec, parts, method, checkpoint_every, chunk)


def measure_group(specs: list[RunSpec], progress: Callable[[int], None] | None = None) -> list[Measurements]:
    """`measure` of each spec (specs equal but for the law's parameter, see `group_key`), with the
    settings' draws stacked in one pass as far as the memory budget allows (a chunk's worth of
    draws per pass, the same bound as `measure`). Every value is bit-identical to `measure(spec)`
    on the same device; `draws_per_chunk` in the info tells the draws of a pass."""
    if not specs:
        return []
    if len({group_key(s) for s in specs}) != 1:
        raise ValueError("measure_group: the specs differ in more than the law's parameter")
    spec = specs[0]
    per_pass = _settings_per_pass(spec, len(specs)) if GROUP_SETTINGS else 1
    reuse: list[_Reuse] = []  # kept from pass to pass of this call
    if per_pass == 1:
        return [_measure(s, progress, reuse) for s in specs]
    method = resolved_grad_method(spec)
    checkpoint_every = (_checkpoint_every(spec, _draw_chunk(spec), len(spec.betas) * spec.inputs_per_draw)
                        if method == "reverse" else 0)
    out: list[Measurements] = []
    for first in range(0, len(specs), per_pass):
        group = specs[first:first + per_pass]
        parts = _measure_settings(group, range(spec.n_draws), progress, method, checkpoint_every, reuse)
        out += [_assemble(s, [p], method, checkpoint_every, spec.n_draws * len(group)) for s, p in zip(group, parts)]
    return out


@dataclass
class RunResult:
    spec: RunSpec
    measurements: Measurements
    results: list[dict[str, Any]]
    elapsed_seconds: float


def statistics(spec: RunSpec, meas: Measurements) -> list[dict[str, Any]]:
    """One summary per β (`analysis.regimes.beta_rows`): quantiles of each log10 ratio, sample and
    overflow counts, and the single-depth regime of the output ratio with its median's interval."""
    from resnet_scale_cli.analysis.regimes import beta_rows

    return beta_rows(meas.betas, spec.depth, meas.values, meas.overflowed, inputs_per_draw=spec.inputs_per_draw,
                     seed=spec.seed)


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
