"""`inspect`: the depth-scaling analysis of the user's own residual block.

The block is a factory `package.module:factory` or `path/to/file.py:factory` returning an
`nn.Module` that computes the residual branch f(h); the tool adds the skip connection and the
scale: h_{k+1} = h_k + L^{-β} f_k(h_k), k = 0..L−1, layer k being the module built by
`factory(width=d[, layer=k][, depth=L])` (the keywords its signature accepts).

Weights across depth (`law`):
- ``iid`` (default) with ``init = "module"`` (default): each (draw, layer) is a fresh
  construction of the module with the CPU generator seeded from the draw's stream: the module's
  own initialization, i.i.d. in depth. With ``init = "moments"``: i.i.d. entries (``dist``:
  Gaussian, Rademacher or uniform) with the per-tensor mean and standard deviation of that
  initialization (below): no construction per layer, so it runs at the built-in engine's speed.
- ``rbf`` | ``fbm`` | ``tied``: every scalar parameter θ of tensor t follows the law across k,
  θ_k = μ_t + s_t · G_k, with G the law's unit-variance path (`laws.sample_paths`, independent
  across scalars) and (μ_t, s_t) the mean and standard deviation of tensor t's entries in the
  module's own initialization (see `inspect_block_stack.reference_moments`: pooled over 64
  constructions, per layer for a layer-dependent factory; a mean indistinguishable from 0 at 4
  standard errors is 0; exact where the module declares `rscale_moments`). A constant tensor
  (LayerNorm's weight) stays constant.

Streams: the cell key is the built-in cell's, (law, d, L), and each draw's inputs, readout and
law paths use the engine's purposes; tensor t draws its paths from its own stream, the first
two from the engine's V and W streams (`inspect_block_stack.tensor_purpose`). So a block
(V, W) = V relu(W h) with declared N(0, 1/d) moments under a law is the engine's `full` model
draw for draw: the numbers of `run`/`sweep`/`phase` to rounding.

Measured per (depth L, β), over `samples` = draws × inputs per draw, as in the built-in cell:
output ratio ‖h_L − h_0‖/‖h_0‖ (and ‖h_L‖/‖h_0‖), gradient ratio ‖p_0 − p_L‖/‖p_L‖ (and
‖p_0‖/‖p_L‖) with p_k = ∂(p_L · h_L)/∂h_k by autograd through the stack, p_L a Gaussian readout;
and profiles at up to 64 positions k/L: ‖h_k‖/‖h_0‖, ‖L^{-β} f_{k−1}(h_{k−1})‖/‖h_0‖, ‖p_k‖/‖p_L‖
and the RMS of every submodule's output relative to the RMS of the block's input.

Log-norm carrying: where f is positively homogeneous (f(c h) = c f(h), c > 0: checked
numerically on the draws, or declared), every `RENORM_EVERY` layers each state is divided by a
power of two and the exponent carried; exact for the states and, since ∂f is then homogeneous
of degree 0, for the gradients (p̂_k = 2^{−E_{>k}} p_k). Otherwise states are never rescaled and a
sample whose state or gradient is not finite is counted as overflowed (its values are null).

Records have the shape of the built-in grid cells (`cell`, `betas`, `inputs_per_draw`,
`results`, `values`, `info`) plus `profiles`, so the existing analysis reads them unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.dynamics import RENORM_EVERY
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments import inspect_block_stack as stk
from resnet_scale_cli.experiments.inspect_spec import (  # noqa: F401  (the spec, torch-free, re-exported)
    BATCHING, HOMOGENEOUS, INITS, MAX_PROFILE_POINTS, InspectSpec, _whole, parse_block, parse_shape)
from resnet_scale_cli.laws import law_entry, law_parameter
from resnet_scale_cli.analysis.regimes import RATIO_QUANTITIES as QUANTITIES, beta_rows
from resnet_scale_cli.metrics import log10_norm, log10_norm_diff

if TYPE_CHECKING:
    from resnet_scale_cli.resources import Need

COMMAND = "inspect"
#: relative tolerance of the homogeneity check and of the vmap-against-loop comparison
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-10}


# ----------------------------------------------------------------------------- cells
def cell_id(spec: InspectSpec, depth: int) -> dict[str, Any]:
    """{"law", [hurst | lengthscale], "depth"}: the coordinates of the built-in grid cells."""
    out: dict[str, Any] = {"law": spec.law}
    parameter = law_parameter(spec.law)
    if parameter:
        out[parameter] = getattr(spec, parameter)
    out["depth"] = depth
    return out


def cell_key(spec: InspectSpec, depth: int) -> tuple[int, ...]:
    """Stream coordinates (law, d, L), each draw adding (draw, purpose): the built-in cell's
    (`experiments.cell.cell_key`), so that at one seed `inspect` and `run`/`sweep`/`phase` share
    inputs h_0 and readouts p_L (common random numbers), and law paths share V and W streams."""
    return (seeding.name_key(spec.law), spec.width, depth)


def profile_positions(depth: int, points: int) -> list[int]:
    """Layer indices k ∈ {1..L} where profiles are taken: every k when L ≤ points, else round(i L / points)."""
    if depth <= points:
        return list(range(1, depth + 1))
    return sorted({max(1, int(round(i * depth / points))) for i in range(1, points + 1)})


# ----------------------------------------------------------------------------- inputs
def load_inputs(path: str, input_shape: tuple[int, ...] | None) -> np.ndarray:
    """A numeric .npy array as (N, *S); never unpickles (allow_pickle=False)."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SpecError(f"--inputs: no such file {path!r}") from None
    except ValueError as exc:
        raise SpecError(f"--inputs {path}: not a plain numeric .npy array ({stk.one_line(exc)}); "
                        f"pickled object arrays are refused") from None
    except OSError as exc:
        raise SpecError(f"--inputs {path}: cannot read it: {stk.one_line(exc)}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise SpecError(f"--inputs {path}: expected a numeric array, got dtype {getattr(array, 'dtype', '?')}")
    if array.ndim == 0 or array.size == 0:
        raise SpecError(f"--inputs {path}: the array is empty or a scalar")
    if input_shape is not None:
        if tuple(array.shape) == input_shape:
            array = array[None]
        elif tuple(array.shape[1:]) != input_shape:
            raise SpecError(f"--inputs {path}: shape {tuple(array.shape)} is neither --input-shape "
                            f"{input_shape} nor (N, *{input_shape})")
    elif array.ndim == 1:
        array = array[None]
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise SpecError(f"--inputs {path}: holds NaN or infinite values")
    norms = np.sqrt((array.reshape(array.shape[0], -1) ** 2).sum(-1))
    if (norms == 0).any():
        raise SpecError(f"--inputs {path}: input {int(np.argmax(norms == 0))} is zero (the ratios divide by ‖h_0‖)")
    return array


def _inputs(spec: InspectSpec, shape: tuple[int, ...], draws: range, key, data: np.ndarray | None, dtype, device) -> torch.Tensor:
    """(D, m, *S): Gaussian N(0, I) from each draw's INPUTS stream, or rows of the .npy data."""
    m = spec.inputs_per_draw
    if data is None:
        return torch.stack([torch.randn((m, *shape), generator=seeding.generator(spec.seed, key + (i, seeding.INPUTS), device),
                                        dtype=dtype, device=device) for i in draws])
    rows = np.array([[(i * m + j) % data.shape[0] for j in range(m)] for i in draws])
    return torch.as_tensor(data[rows], dtype=dtype, device=device)


# ----------------------------------------------------------------------------- the cell
#: tensors of the states autograd saves per layer for the gradients: at least the block's input
#: (LEAST_SAVED, what the refusal counts); about SAVED_PER_LAYER for a block of a few operations
#: (what the draws per chunk allow for)
LEAST_SAVED, SAVED_PER_LAYER = 1, 8


def draw_bytes(spec: InspectSpec, depth: int, n_params: int, rows: int, state_numel: int,
               saved: int = LEAST_SAVED) -> int:
    """Memory of one draw at depth L (bytes): its parameter stack, L·P numbers (P the block's
    parameters); with gradients, `saved` tensors of the states per layer, saved·L·R·s, else
    STATE_COPIES rows of temporaries, STATE_COPIES·R·s (R rows = β × inputs per draw, s numbers
    per input). With `saved` = LEAST_SAVED, the least it can need."""
    from resnet_scale_cli.resources import STATE_COPIES, itemsize, law_bytes

    states = (saved * depth if spec.gradients else STATE_COPIES) * rows * state_numel
    return (depth * n_params + states) * itemsize(spec.dtype) + law_bytes(spec.law, depth)


def draw_need(spec: InspectSpec, depth: int, n_params: int, state_numel: int) -> "Need":
    """The least memory of one draw (`draw_bytes`) with its description (`resources.check_need`)."""
    from resnet_scale_cli.resources import Need, itemsize

    rows = len(spec.betas) * spec.inputs_per_draw
    saved = f", plus the {rows} states of every layer for the gradients" if spec.gradients else ", plus the states"
    return Need(draw_bytes(spec, depth, n_params, rows, state_numel), f"--depth {depth} --width {spec.width}: one draw",
                f"the block's L·P = {depth}·{n_params} parameters of {itemsize(spec.dtype)} bytes{saved}",
                "--depth or --width" + (", or use --no-gradients" if spec.gradients else ""))


def preflight(spec: InspectSpec) -> None:
    """Refuse (`SpecError`) the first depth whose one draw exceeds `--memory-gb` or the free memory
    (the block is built once per depth, one layer, to count its parameters)."""
    from resnet_scale_cli.resources import available_bytes, check_need
    from resnet_scale_cli.spec import resolve_device

    device = str(resolve_device(spec.device))
    free = available_bytes(device)
    for need in depth_needs(spec):
        check_need(need, memory_gb=spec.memory_gb, device=device, available=free)


def depth_needs(spec: InspectSpec) -> list["Need"]:
    """`draw_need` of every depth, in grid order (the block is built once per depth, one layer,
    to count its parameters P and the numbers of one input)."""
    needs = []
    for depth in spec.depths:
        setup = _setup(spec, depth, torch.device("cpu"), _dtype(spec))
        needs.append(draw_need(spec, depth, setup.layout.numel, math.prod(setup.shape)))
    return needs


def _draw_chunk(spec: InspectSpec, depth: int, n_params: int, rows: int, state_numel: int) -> int:
    """Draws per chunk: as many as `draw_bytes` fit half the memory budget, at least one."""
    per_draw = draw_bytes(spec, depth, n_params, rows, state_numel, SAVED_PER_LAYER)
    return max(1, min(spec.n_draws, int(spec.memory_gb * 2**29 // max(per_draw, 1))))


def _dtype(spec: InspectSpec) -> torch.dtype:
    from resnet_scale_cli.spec import torch_dtype

    return torch_dtype(spec.dtype)


@dataclass
class _Setup:
    block: stk.Block
    template: torch.nn.Module
    layout: stk.Layout
    shape: tuple[int, ...]
    data: np.ndarray | None


def _setup(spec: InspectSpec, depth: int, device: torch.device, dtype: torch.dtype) -> _Setup:
    block = stk.load_block(spec.block)
    seed = stk._seeds(spec.seed, cell_key(spec, depth), 0, stk.TEMPLATE, 1)[0]
    with torch.random.fork_rng(devices=[]):
        template = stk.construct(block, spec.width, 0, depth, seed).eval()
    layout = stk.Layout.of(template, spec.block)
    template = template.to(device=device, dtype=dtype)
    for p in template.parameters():
        p.requires_grad_(False)
    data = load_inputs(spec.inputs, spec.input_shape) if spec.inputs is not None else None
    shape = tuple(data.shape[1:]) if data is not None else (spec.input_shape or (spec.width,))
    return _Setup(block, template, layout, shape, data)


def _check_output(setup: _Setup, x: torch.Tensor, text: str) -> None:
    """The template on real inputs: the output must be a tensor of the input's shape, finite."""
    try:
        with torch.no_grad():
            y = setup.template(x)
    except Exception as exc:
        raise SpecError(f"block {text}: forward failed on a batch of shape {tuple(x.shape)}: {stk.one_line(exc)}") from None
    if not isinstance(y, torch.Tensor):
        raise SpecError(f"block {text}: forward returned {type(y).__name__}, not a tensor")
    if tuple(y.shape) != tuple(x.shape):
        raise SpecError(f"block {text}: output shape {tuple(y.shape[1:])} differs from the input shape "
                        f"{tuple(x.shape[1:])} (the residual branch must keep the shape; see --input-shape)")
    if not torch.isfinite(y).all():
        raise SpecError(f"block {text}: NaN or infinite output at initialization on finite inputs")


def cell_cost(spec: InspectSpec, cell: dict[str, Any] | int) -> int:
    """Units `measure_inspect_cell` reports for one depth: per draw chunk, L layers built (or
    sampled), L forward, and L backward with gradients."""
    depth = cell["depth"] if isinstance(cell, dict) else int(cell)
    setup = _setup(spec, depth, torch.device("cpu"), _dtype(spec))
    rows = len(spec.betas) * spec.inputs_per_draw
    chunk = _draw_chunk(spec, depth, setup.layout.numel, rows, math.prod(setup.shape))
    return math.ceil(spec.n_draws / chunk) * depth * (3 if spec.gradients else 2)


def grid_cells(spec: InspectSpec) -> list[dict[str, Any]]:
    """The cells of the grid, one per depth: their coordinates as records carry them. A depth
    whose one draw does not fit is refused first (`preflight`)."""
    preflight(spec)
    return [cell_id(spec, depth) for depth in spec.depths]


def measure_grid_cell(spec: InspectSpec, cell: dict[str, Any], progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """`measure_inspect_cell` for a cell of `grid_cells` (the signature of
    `experiments.protocol.Experiment.measure`)."""
    return measure_inspect_cell(spec, cell["depth"], progress=progress)


def _f64(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64)


def _flat_rows(x: torch.Tensor) -> torch.Tensor:
    """(D, R, *S) → (D, R, n)."""
    return x.reshape(x.shape[0], x.shape[1], -1)


def measure_inspect_cell(spec: InspectSpec, depth: int, *, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """One depth L for every β: a JSON-ready record shaped like the built-in grid cells.

    {"cell": {"law", [hurst|lengthscale], "depth"}, "betas", "inputs_per_draw",
    "results": [per-β statistics], "values": {quantity: [[per-sample log10 or null] per β]},
    "profiles": [per β: positions and medians], "info": {...}}.
    """
    _whole(depth, "--depth", 1)
    saved = torch.get_num_threads()
    if spec.threads is not None:
        torch.set_num_threads(spec.threads)
    try:
        return _measure(spec, depth, progress)
    finally:
        if spec.threads is not None:
            torch.set_num_threads(saved)


def _measure(spec: InspectSpec, depth: int, progress: Callable[[int], None] | None) -> dict[str, Any]:
    from resnet_scale_cli.spec import resolve_device

    device, dtype = resolve_device(spec.device), _dtype(spec)
    key = cell_key(spec, depth)
    setup = _setup(spec, depth, device, dtype)
    block, layout, shape = setup.block, setup.layout, setup.shape
    betas, m = spec.betas, spec.inputs_per_draw
    n_beta, rows = len(betas), len(spec.betas) * spec.inputs_per_draw
    ones = (1,) * len(shape)
    scales = torch.tensor([depth ** (-b) for b in betas for _ in range(m)], dtype=dtype, device=device)
    scale_col = scales.view(1, rows, *ones)
    chunk = _draw_chunk(spec, depth, layout.numel, rows, math.prod(shape))
    positions = profile_positions(depth, spec.profile_points)
    at = {k: i for i, k in enumerate(positions)}
    tol = TOLERANCE[dtype]
    moments = moment_info = None
    constructed = spec.law == "iid" and spec.init == "module"
    if not constructed:
        mean, std, moment_info = stk.reference_moments(block, layout, spec.width, depth, spec.seed, key)
        moments = (mean, std)
    stack = stk.Stack(setup.template, layout)
    mode = reason = None
    homogeneous = None
    homogeneity_err = None
    parts: dict[str, list[np.ndarray]] = {q: [] for q in QUANTITIES}
    overflow_parts: list[np.ndarray] = []
    prof_parts: dict[str, list[np.ndarray]] = {"state": [], "increment": [], "gradient": []}
    module_parts: list[dict[str, np.ndarray]] = []
    seen_modules: set[str] = set()

    with torch.random.fork_rng(devices=[]):
        # a block that draws random numbers in forward (noise, train-mode dropout) is reproducible too
        torch.default_generator.manual_seed(stk._seeds(spec.seed, key, 0, stk.FORWARD_RNG, 1)[0])
        for first in range(0, spec.n_draws, chunk):
            draws = range(first, min(first + chunk, spec.n_draws))
            n = len(draws)
            h_in = _inputs(spec, shape, draws, key, setup.data, dtype, device)  # (D, m, *S)
            if first == 0:
                _check_output(setup, h_in[0], spec.block)
            flat = stk.sample_stack(block, layout, law=spec.law, width=spec.width, depth=depth, draws=draws,
                                    root_seed=spec.seed, key=key, dtype=dtype, device=device,
                                    moments=moments, init=spec.init, progress=progress, **spec.law_settings())
            h0 = h_in.repeat(1, n_beta, *ones)  # rows: β-major, then inputs
            readout = torch.stack([torch.randn(shape, generator=seeding.generator(spec.seed, key + (i, seeding.READOUT), device),
                                               dtype=dtype, device=device) for i in draws])
            p_last = readout.unsqueeze(1).expand(n, rows, *shape)
            if mode is None:
                mode, reason = stk.choose_mode(stack, flat[0], h0, spec.batching, spec.block, tol)
                layers = sorted({0, depth - 1}) if block.layer_dependent else [0]
                homogeneity_err = stk.homogeneity_error(stack, [flat[k] for k in layers], h0)
                homogeneous = spec.homogeneous == "yes" or (spec.homogeneous == "auto" and homogeneity_err <= tol)
            stack.mode = mode
            run = (stack, flat, h0, p_last, scale_col, depth, at, homogeneous, spec.gradients, progress)
            out = _guarded(spec.block, depth, _run_chunk, *run)
            if out is None:  # the backward pass failed under vmap: redo the chunk draw by draw
                mode, reason = "loop", "vmap failed in the backward pass"
                stack.mode = mode
                out = _guarded(spec.block, depth, _run_chunk, *run)
            del flat
            result, bad, profile, modules = out
            for q, v in result.items():
                v = v.masked_fill(bad, float("nan"))
                parts[q].append(v.reshape(n, n_beta, m).permute(1, 0, 2).reshape(n_beta, -1).cpu().numpy())
            overflow_parts.append(bad.reshape(n, n_beta, m).permute(1, 0, 2).reshape(n_beta, -1).cpu().numpy())
            for name, v in profile.items():  # (P, D, R) → (β, P, D·m)
                prof_parts[name].append(v.reshape(len(positions), n, n_beta, m).permute(2, 0, 1, 3)
                                        .reshape(n_beta, len(positions), -1).cpu().numpy())
            module_parts.append({name: v.reshape(len(positions), n, n_beta, m).permute(2, 0, 1, 3)
                                 .reshape(n_beta, len(positions), -1).cpu().numpy() for name, v in modules.items()})
            seen_modules.update(modules)

    values = {q: np.concatenate(v, axis=1) for q, v in parts.items() if v}
    overflowed = np.concatenate(overflow_parts, axis=1)
    unrecorded = [name for name in stack.submodules if name not in seen_modules]
    profiles = _profiles(betas, depth, positions, prof_parts, module_parts, sorted(seen_modules, key=stack.submodules.index))
    info = {
        "device": str(device),
        "grad_method_used": "autograd" if spec.gradients else "none",
        "checkpoint_every": None,
        "block": spec.block,
        "factory": block.qualname,
        "factory_keywords": ["width"] + (["layer"] if block.takes_layer else []) + (["depth"] if block.takes_depth else []),
        "parameters": layout.numel,
        "input_shape": list(shape),
        "inputs": spec.inputs or "gaussian",
        "weights": ("module initialization, independent seed per (draw, layer)" if constructed else
                    f"{spec.law} {'Gaussian ' if spec.law == 'iid' else ''}paths scaled to the initialization's "
                    f"per-tensor mean and standard deviation"),
        "moments": moment_info,
        "batching": mode,
        "batching_reason": reason,
        "homogeneous": bool(homogeneous),
        "homogeneous_declared": spec.homogeneous,
        "homogeneity_error": homogeneity_err if homogeneity_err is not None and math.isfinite(homogeneity_err) else None,
        "homogeneity_tolerance": tol,
        "log_norm_carrying": bool(homogeneous),
        "profile_modules_unrecorded": unrecorded,
        "draws": spec.n_draws,
        "inputs_per_draw": m,
        "draws_per_chunk": chunk,
        "threads": torch.get_num_threads(),
    }
    return {
        "cell": cell_id(spec, depth),
        "betas": [float(b) for b in betas],
        "inputs_per_draw": m,
        "results": beta_rows(betas, depth, values, overflowed, inputs_per_draw=m, seed=spec.seed),
        "values": {q: [[None if not np.isfinite(v) else float(v) for v in row] for row in arr] for q, arr in values.items()},
        "profiles": profiles,
        "info": info,
    }


def _guarded(text: str, depth: int, fn, *args):
    """fn(*args); an exception raised by the user's block while the stack runs becomes one line."""
    try:
        return fn(*args)
    except SpecError:
        raise
    except Exception as exc:  # the user's code runs inside: report it as the block's failure
        raise SpecError(f"block {text}: running the stack of depth {depth} failed: {stk.one_line(exc)}") from None


def _run_chunk(stack: stk.Stack, flat: torch.Tensor, h0: torch.Tensor, p_last: torch.Tensor, scale_col: torch.Tensor,
               depth: int, at: dict[int, int], carry: bool, gradients: bool, progress):
    """The recursion for one chunk of draws, every β and input on the row axis.

    Returns (quantities (D, R) float64, overflowed (D, R), profiles {name: (P, D, R)},
    submodule records {name: (P, D, R)}), or None when autograd fails under vmap.
    """
    n, rows = h0.shape[:2]
    with torch.set_grad_enabled(gradients):
        x0 = h0.detach().clone().requires_grad_(gradients)
        x = x0
        exps = torch.zeros((n, rows), dtype=torch.int64, device=h0.device)
        log_h0 = log10_norm(_flat_rows(h0), torch.zeros_like(exps))
        state_log, inc_log, pos_x, pos_exps = [], [], [], []
        records: list[dict[str, torch.Tensor]] = []
        for k in range(depth):
            if (k + 1) in at:
                fk, rec = stack.recorded(flat[k], x)
                rms_in = torch.log10(torch.linalg.vector_norm(_f64(_flat_rows(x)), dim=-1)
                                     / math.sqrt(_flat_rows(x).shape[-1]))
                records.append({name: v - rms_in for name, v in rec.items()})
            else:
                fk = stack(flat[k], x)
            inc = fk * scale_col
            x = x + inc
            if (k + 1) in at:
                inc_log.append(log10_norm(_flat_rows(inc), exps) - log_h0)
            if carry and ((k + 1) % RENORM_EVERY == 0 or k + 1 == depth):
                _, e = torch.frexp(_flat_rows(x.detach()).abs().amax(dim=-1))
                x = x * torch.exp2(-e.to(x.dtype)).view(n, rows, *([1] * (x.dim() - 2)))
                exps = exps + e.to(torch.int64)
            if (k + 1) in at:
                state_log.append(log10_norm(_flat_rows(x), exps) - log_h0)
                pos_x.append(x)
                pos_exps.append(exps)
            if progress is not None and ((k + 1) % 64 == 0 or k + 1 == depth):
                progress((k % 64) + 1)
        h_hat = _flat_rows(x.detach())
        h0_rows = _flat_rows(h0)
        result = {"output_log10": log10_norm_diff(h_hat, exps, h0_rows) - log_h0,
                  "output_norm_log10": log10_norm(h_hat, exps) - log_h0}
        bad = ~torch.isfinite(h_hat).all(-1)
        profile = {"state": torch.stack(state_log), "increment": torch.stack(inc_log)}
        if gradients:
            targets = [x0] + pos_x[:-1] if depth in at else [x0] + pos_x
            try:
                grads = torch.autograd.grad((x * p_last).sum(), targets)
            except RuntimeError:
                if stack.mode == "vmap":
                    return None
                raise
            p0 = _flat_rows(grads[0])
            pl = _flat_rows(p_last)
            log_pl = log10_norm(pl, torch.zeros_like(exps))
            result["gradient_log10"] = log10_norm_diff(p0, exps, pl) - log_pl
            result["gradient_norm_log10"] = log10_norm(p0, exps) - log_pl
            bad |= ~torch.isfinite(p0).all(-1)
            grad_log = [log10_norm(_flat_rows(g), exps - e) - log_pl for g, e in zip(grads[1:], pos_exps)]
            if depth in at:
                grad_log.append(torch.zeros_like(log_pl))
            profile["gradient"] = torch.stack(grad_log)
            if progress is not None:
                progress(depth)
    names = sorted(set().union(*records)) if records else []
    nan = torch.full((n, rows), float("nan"), dtype=torch.float64, device=h0.device)
    modules = {name: torch.stack([r.get(name, nan) for r in records]) for name in names}
    return {q: v.detach() for q, v in result.items()}, bad, profile, modules


def _median_or_none(values: np.ndarray) -> float | None:
    """Median with NaN samples (overflowed) as +∞, an explosion; None if the median is not finite."""
    v = np.where(np.isnan(values), np.inf, values)
    med = float(np.median(v)) if v.size else math.inf
    return med if math.isfinite(med) else None


def _profiles(betas, depth: int, positions: list[int], parts: dict[str, list[np.ndarray]],
              module_parts: list[dict[str, np.ndarray]], module_names: list[str]) -> list[dict[str, Any]]:
    joined = {name: np.concatenate(v, axis=-1) for name, v in parts.items() if v}
    modules = {}
    for name in module_names:
        pieces = [mp[name] if name in mp else np.full_like(next(iter(mp.values())), np.nan) for mp in module_parts]
        modules[name] = np.concatenate(pieces, axis=-1)
    out = []
    for j, beta in enumerate(betas):
        entry: dict[str, Any] = {"beta": float(beta), "k": positions, "t": [k / depth for k in positions]}
        for name, label in (("state", "state_log10"), ("increment", "increment_log10"), ("gradient", "gradient_log10")):
            entry[label] = [_median_or_none(joined[name][j, i]) for i in range(len(positions))] if name in joined else None
        entry["modules_log10"] = {name: [_median_or_none(v[j, i]) for i in range(len(positions))] for name, v in modules.items()}
        out.append(entry)
    return out


# ----------------------------------------------------------------------------- summary
THEORY_BASIS = ("reference of the built-in models (SCIENCE.md §4: theorem for i.i.d. sub-Gaussian and smooth weights "
                "of the res-1/res-3 models); for a user block a comparison, not a theorem")


def summarize_inspect(spec: InspectSpec, records: list[dict[str, Any]]) -> dict[str, Any]:
    """spec (with the block's description), cells (one per depth × β), critical β per law
    setting from the existing analysis (two depths or more), and profiles (one per depth × β)
    — from the records alone, so a resumed run summarizes identically."""
    from resnet_scale_cli.analysis import analyze

    cells = [{**r["cell"], **row} for r in records for row in r["results"]]
    depths = {r["cell"]["depth"] for r in records}
    critical = analyze(records, seed=spec.seed) if len(depths) > 1 else []
    for entry in critical:
        law = law_entry(entry["law"])
        settings = {p.name: entry.get(p.name, getattr(spec, p.name, p.default)) for p in law.parameters}
        entry["theory_reference"] = law.reference("output", "full", "relu", settings).value
        entry["theory_basis"] = {"kind": "comparison", "statement": THEORY_BASIS, "source": None}
    profiles = [{**r["cell"], **p} for r in records for p in r.get("profiles", [])]
    info = records[0]["info"] if records else {}
    # "spec" replaces the plain spec.to_dict() of api.run_experiment's document: the block's
    # import path and its description (factory, parameter count, batching, homogeneity)
    document_spec = spec.to_dict() | {k: info.get(source) for k, source in SPEC_INFO.items()}
    return {"spec": document_spec, "cells": cells, "critical": critical, "profiles": profiles}


#: the block's description in the document's spec (key there: key in the first cell's info); the
#: settings as given keep their names (homogeneous "auto", batching "auto"), what was used is `*_used`
SPEC_INFO = {"factory": "factory", "factory_keywords": "factory_keywords", "parameters": "parameters",
             "input_shape_used": "input_shape", "device": "device", "grad_method_used": "grad_method_used",
             "batching_used": "batching", "batching_reason": "batching_reason", "homogeneous_detected": "homogeneous",
             "homogeneity_error": "homogeneity_error", "log_norm_carrying": "log_norm_carrying",
             "profile_modules_unrecorded": "profile_modules_unrecorded", "moments": "moments"}


def run_inspect(spec: InspectSpec, *, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Every depth, then the summary: the `rscale inspect --json` document without
    `command`/`versions`: {"spec", "cells", "critical", "profiles"}."""
    records = [measure_inspect_cell(spec, depth, progress=progress) for depth in spec.depths]
    return summarize_inspect(spec, records)
