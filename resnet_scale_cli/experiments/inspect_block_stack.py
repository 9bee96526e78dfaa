"""The machinery of `inspect`: a user's residual block, loaded, stacked over depth and draws.

- `load_block("pkg.mod:factory" | "path/file.py:factory")` imports the factory (code the user
  names, run as Python would run it); `Block.build(width, layer, depth)` calls it with the
  keywords its signature accepts and checks that it returned an `nn.Module`.
- `Layout` flattens one module's parameters into a vector of P scalars: a stack of L layers
  for D draws is one layer-major tensor of shape (L, D, P), written in place, and layer k of
  every draw is the contiguous block `flat[k]` of shape (D, P).
- `sample_stack` fills that tensor: by default every (draw, layer) is a fresh construction of
  the module, with the CPU generator seeded from the draw's stream (the module's own
  initialization, i.i.d. in depth); with a law, every scalar parameter follows the law's unit
  variance path across k, scaled to the mean and standard deviation of the module's own
  initialization (`reference_moments`).
- `Stack` evaluates f_k on the states (D, R, *S) of every draw at once: `torch.func.vmap` over
  draws of `functional_call(template, params_k)`, or a per-draw loop where vmap fails or
  disagrees with the loop (the mode and the reason are recorded). Recorded calls add forward
  hooks on every submodule and report which never ran.

Nothing here imports the CLI, the sweep or the built-in engine.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from resnet_scale_cli import seeding
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.inspect_spec import BATCHING, INITS, parse_block  # noqa: F401  (re-exported)

#: seeding purposes beyond seeding's (WEIGHTS_V, WEIGHTS_W, INPUTS, READOUT, PROBES = 0..4)
REFERENCE, TEMPLATE, FORWARD_RNG = 16, 17, 18
#: purpose of the law paths of parameter tensor t ≥ 2 is PARAMS + t (see `tensor_purpose`)
PARAMS = 32
#: module attribute by which a block may declare its initialization's moments
MOMENTS_ATTRIBUTE = "rscale_moments"


def tensor_purpose(t: int) -> int:
    """Stream purpose of the law paths of the t-th parameter tensor (named_parameters order): the
    built-in engine's V and W streams for the first two (so a block (V, W) with the engine's
    scale draws the engine's very weights), PARAMS + t after them."""
    return (seeding.WEIGHTS_V, seeding.WEIGHTS_W)[t] if t < 2 else PARAMS + t
#: reference constructions pooled for the moments of a layer-independent factory
REFERENCE_CONSTRUCTIONS = 64
#: a mean is kept only where it is this many standard errors away from zero
MEAN_SIGNIFICANCE = 4.0
MESSAGE_LIMIT = 300


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line, at most MESSAGE_LIMIT characters."""
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT - 1] + "…"
    return f"{type(exc).__name__}: {text}"


# ----------------------------------------------------------------------------- loading
def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


_FILE_MODULES: dict[tuple[str, int], Any] = {}


def _import_file(text: str, target: str):
    path = Path(target).expanduser()
    if not path.is_file():
        raise SpecError(f"block {text}: no such file {target!r}")
    path = path.resolve()
    key = (str(path), path.stat().st_mtime_ns)
    if key in _FILE_MODULES:
        return _FILE_MODULES[key]
    name = "rscale_block_" + hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"block {text}: cannot import {target!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(path.parent))  # as `python file.py` would: its folder is importable
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any failure is a bad input
        sys.modules.pop(name, None)
        raise SpecError(f"block {text}: importing {target} failed: {one_line(exc)}") from None
    finally:
        sys.path.remove(str(path.parent))
    _FILE_MODULES[key] = module
    return module


def _import_module(text: str, target: str):
    cwd = os.getcwd()
    sys.path.insert(0, cwd)  # `python -c "import pkg.mod"` sees the working directory too
    try:
        return importlib.import_module(target)
    except Exception as exc:
        raise SpecError(f"block {text}: importing {target} failed: {one_line(exc)}") from None
    finally:
        sys.path.remove(cwd)


def _accepts(signature: inspect.Signature | None, name: str) -> bool:
    if signature is None:
        return False
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    p = params.get(name)
    return p is not None and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class Block:
    """A loaded factory: `text` as the user gave it, the callable, and which keywords it takes."""

    text: str
    factory: Callable[..., Any]
    takes_layer: bool
    takes_depth: bool

    @property
    def qualname(self) -> str:
        """module.qualname of the factory (the file's path for a file import)."""
        name = getattr(self.factory, "__qualname__", repr(self.factory))
        module = getattr(self.factory, "__module__", None) or "?"
        if module.startswith("rscale_block_"):
            return f"{self.text.rpartition(':')[0]}:{name}"
        return f"{module}.{name}"

    @property
    def layer_dependent(self) -> bool:
        return self.takes_layer or self.takes_depth

    def build(self, width: int, layer: int, depth: int) -> nn.Module:
        """factory(width=d[, layer=k][, depth=L]), checked to be an nn.Module."""
        kwargs: dict[str, int] = {"width": width}
        if self.takes_layer:
            kwargs["layer"] = layer
        if self.takes_depth:
            kwargs["depth"] = depth
        try:
            module = self.factory(**kwargs)
        except Exception as exc:
            args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
            raise SpecError(f"block {self.text}: the factory raised on ({args}): {one_line(exc)}") from None
        if not isinstance(module, nn.Module):
            raise SpecError(f"block {self.text}: the factory returned {type(module).__name__}, not a torch.nn.Module")
        return module


def load_block(text: str) -> Block:
    """Import `package.module:factory` or `path/to/file.py:factory` (this runs the user's code)."""
    target, attr = parse_block(text)
    module = _import_file(text, target) if _is_path(target) else _import_module(text, target)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"block {text}: {target} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(f"block {text}: {attr!r} is a {type(obj).__name__}, not a callable factory")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    if signature is not None and not _accepts(signature, "width"):
        raise SpecError(f"block {text}: the factory must accept width= (its signature is {signature})")
    return Block(text, obj, _accepts(signature, "layer"), _accepts(signature, "depth"))


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Layout:
    """Names, shapes and offsets of a module's parameters in the flat vector of P scalars."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    numel: int

    @classmethod
    def of(cls, module: nn.Module, block_text: str) -> "Layout":
        names, shapes, offsets, total = [], [], [], 0
        for name, p in module.named_parameters():
            if not p.is_floating_point():
                raise SpecError(f"block {block_text}: parameter {name!r} is not a floating-point tensor")
            names.append(name)
            shapes.append(tuple(p.shape))
            offsets.append(total)
            total += p.numel()
        return cls(tuple(names), tuple(shapes), tuple(offsets), total)

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """{name: (*lead, *shape)} views of flat (*lead, P) (no copy when P is the last, unit-stride axis)."""
        lead = flat.shape[:-1]
        return {n: flat[..., o:o + math.prod(s)].view(*lead, *s) for n, s, o in zip(self.names, self.shapes, self.offsets)}

    def sizes(self) -> list[int]:
        return [math.prod(s) for s in self.shapes]

    def check(self, module: nn.Module, block_text: str, layer: int) -> None:
        other = Layout.of(module, block_text)
        if (other.names, other.shapes) != (self.names, self.shapes):
            raise SpecError(f"block {block_text}: the factory's module at layer {layer} has other parameters than at "
                            f"layer 0 (every layer must have the same names and shapes to be stacked)")


def _write_flat(out: torch.Tensor, module: nn.Module, layout: Layout) -> None:
    """out (P,) ← the module's parameters, in layout order."""
    params = dict(module.named_parameters())
    for name, offset, size in zip(layout.names, layout.offsets, layout.sizes()):
        out[offset:offset + size].copy_(params[name].detach().reshape(-1))


def _seeds(root_seed: int, key: tuple[int, ...], draw: int, purpose: int, count: int) -> list[int]:
    gen = seeding.generator(root_seed, key + (draw, purpose))
    return torch.randint(0, 2**62, (count,), generator=gen, dtype=torch.int64).tolist()


def construct(block: Block, width: int, layer: int, depth: int, seed: int) -> nn.Module:
    """One construction with the CPU generator seeded (callers hold `torch.random.fork_rng`)."""
    torch.default_generator.manual_seed(seed)
    return block.build(width, layer, depth)


def _declared(module: nn.Module, layout: Layout, block_text: str) -> dict[str, tuple[float, float]]:
    """The moments a module declares as `rscale_moments = {name: (mean, std)}`, checked."""
    declared = getattr(module, MOMENTS_ATTRIBUTE, None)
    if declared is None:
        return {}
    if not isinstance(declared, dict):
        raise SpecError(f"block {block_text}: {MOMENTS_ATTRIBUTE} must be a dict {{parameter name: (mean, std)}}")
    out = {}
    for name, pair in declared.items():
        if name not in layout.names:
            raise SpecError(f"block {block_text}: {MOMENTS_ATTRIBUTE} names {name!r}, not a parameter of the module "
                            f"({', '.join(layout.names)})")
        try:
            mean, std = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise SpecError(f"block {block_text}: {MOMENTS_ATTRIBUTE}[{name!r}] must be a pair (mean, std)") from None
        if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
            raise SpecError(f"block {block_text}: {MOMENTS_ATTRIBUTE}[{name!r}] = {pair!r}: expected a finite mean "
                            f"and a standard deviation >= 0")
        out[name] = (mean, std)
    return out


def reference_moments(block: Block, layout: Layout, width: int, depth: int, root_seed: int,
                      key: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Per-tensor mean μ_t and standard deviation s_t of the module's own initialization,
    as float64 vectors over the P scalars: shape (P,), or (L, P) for a factory that takes
    `layer`/`depth` (one construction per layer, its own statistics).

    A layer-independent factory pools REFERENCE_CONSTRUCTIONS constructions. s_t is the
    population standard deviation of the pooled entries; μ_t is their mean, set to 0 where
    s_t > 0 and |μ_t| ≤ MEAN_SIGNIFICANCE · s_t / √n_t (indistinguishable from a centered init).
    A module that declares `rscale_moments = {name: (mean, std)}` gets those values, exactly,
    for the tensors it names (per layer for a layer-dependent factory).
    """
    count = depth if block.layer_dependent else REFERENCE_CONSTRUCTIONS
    seeds = _seeds(root_seed, key, 0, REFERENCE, count)
    rows = torch.empty((count, layout.numel), dtype=torch.float64)
    declared: list[dict[str, tuple[float, float]]] = []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for r in range(count):
            layer = r if block.layer_dependent else 0
            module = construct(block, width, layer, depth, seeds[r])
            layout.check(module, block.text, layer)
            _write_flat(rows[r], module, layout)
            if r == 0 or block.layer_dependent:
                declared.append(_declared(module, layout, block.text))
    if not bool(torch.isfinite(rows).all()):
        raise SpecError(f"block {block.text}: the factory's initialization holds NaN or infinite parameters")
    groups = rows.unsqueeze(0) if not block.layer_dependent else rows.unsqueeze(1)  # (G, n_pool, P)
    mean = torch.empty((groups.shape[0], layout.numel), dtype=torch.float64)
    std = torch.empty_like(mean)
    kept_means = []
    for name, offset, size in zip(layout.names, layout.offsets, layout.sizes()):
        block_vals = groups[:, :, offset:offset + size].reshape(groups.shape[0], -1)
        mu = block_vals.mean(-1)
        sd = block_vals.std(-1, correction=0)
        n = block_vals.shape[-1]
        negligible = (sd > 0) & (mu.abs() <= MEAN_SIGNIFICANCE * sd / math.sqrt(n))
        mu = torch.where(negligible, torch.zeros_like(mu), mu)
        for g, given in enumerate(declared):
            if name in given:
                mu[g], sd[g] = given[name]
        if (mu != 0).any():
            kept_means.append(name)
        mean[:, offset:offset + size] = mu.unsqueeze(-1)
        std[:, offset:offset + size] = sd.unsqueeze(-1)
    if not block.layer_dependent:
        mean, std = mean[0], std[0]
    info = {"reference_constructions": count, "per_layer": block.layer_dependent, "nonzero_means": kept_means,
            "declared": sorted(set().union(*declared)) if declared else []}
    return mean, std, info


def sample_stack(block: Block, layout: Layout, *, law: str, width: int, depth: int, draws: range, root_seed: int,
                 key: tuple[int, ...], dtype: torch.dtype, device: torch.device,
                 moments: tuple[torch.Tensor, torch.Tensor] | None = None, init: str = "module",
                 progress: Callable[[int], None] | None = None, **settings: Any) -> torch.Tensor:
    """Parameters of L layers for the given draws, layer-major: shape (L, D, P), on `device` in
    `dtype` (layer k of every draw is the contiguous block `out[k]`).

    `iid` with init "module": draw i, layer k is factory(...) built with the CPU generator
    seeded from the i-th draw's stream (purpose WEIGHTS_V, one 62-bit seed per layer), the D
    modules of a layer stacked with `torch.func.stack_module_state`. Otherwise (other laws, or
    init "moments"): θ = μ_t + s_t · G, G the law's unit-variance paths (`laws.sample_paths` with
    the law's `settings`, its defaults where not given), tensor t of draw i from its own stream (purpose `tensor_purpose(t)`),
    and (μ_t, s_t) the `reference_moments`.
    """
    n = len(draws)
    if law == "iid" and init == "module":
        from torch.func import stack_module_state

        out = torch.empty((depth, n, layout.numel), dtype=dtype)
        seeds = [_seeds(root_seed, key, i, seeding.WEIGHTS_V, depth) for i in draws]
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for k in range(depth):
                modules = []
                for j in range(n):
                    module = construct(block, width, k, depth, seeds[j][k])
                    if k == 0 or block.layer_dependent:
                        layout.check(module, block.text, k)
                    modules.append(module)
                params, _ = stack_module_state(modules)
                for name, offset, size in zip(layout.names, layout.offsets, layout.sizes()):
                    values = params[name].detach().reshape(n, size)
                    if not bool(torch.isfinite(values.sum())):  # a NaN or ±inf entry makes the sum non-finite
                        raise SpecError(f"block {block.text}: the factory's initialization of {name!r} at layer {k} "
                                        f"holds NaN or infinite values")
                    out[k, :, offset:offset + size] = values
                if progress is not None and ((k + 1) % 64 == 0 or k + 1 == depth):
                    progress((k % 64) + 1)
        return out.to(device)
    from resnet_scale_cli.laws import sample_paths

    assert moments is not None
    out = torch.empty((depth, n, layout.numel), dtype=dtype, device=device)
    for t, (offset, size) in enumerate(zip(layout.offsets, layout.sizes())):
        for j, i in enumerate(draws):  # one tensor of one draw at a time: a single (L, size) temporary
            gen = seeding.generator(root_seed, key + (i, tensor_purpose(t)), device)
            out[:, j, offset:offset + size] = sample_paths(law, depth, size, [gen], dtype=dtype, device=device,
                                                           **settings)[0]
    mean, std = (m.to(device=device, dtype=dtype) for m in moments)
    if mean.dim() == 2:  # per layer: (L, P) → (L, 1, P)
        mean, std = mean.unsqueeze(1), std.unsqueeze(1)
    out.mul_(std).add_(mean)
    if progress is not None:
        progress(depth)
    return out


# ----------------------------------------------------------------------------- evaluation


class Stack:
    """f_k on states x (D, R, *S) for the D draws of a chunk, given layer k's flat parameters (D, P).

    `mode` is "vmap" (torch.func.vmap over draws of functional_call) or "loop" (one
    functional_call per draw). Buffers are the template's, shared by every layer and draw.
    """

    def __init__(self, template: nn.Module, layout: Layout, mode: str = "vmap") -> None:
        from torch.func import functional_call, vmap

        self.template = template
        self.layout = layout
        self.buffers = dict(template.named_buffers())
        self.mode = mode
        self._records: dict[str, torch.Tensor] | None = None
        self._rows = 0
        self._functional_call = functional_call

        def call(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return functional_call(template, (params, self.buffers), (x,))

        def call_recorded(params: dict[str, torch.Tensor], x: torch.Tensor):
            self._records = {}
            try:
                out = functional_call(template, (params, self.buffers), (x,))
                records = self._records
            finally:
                self._records = None
            return out, records

        self._call, self._call_recorded = call, call_recorded
        self._vcall, self._vcall_recorded = vmap(call), vmap(call_recorded)
        self.submodules = [name for name, _ in template.named_modules() if name]

    def __call__(self, flat_k: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = self.layout.views(flat_k)
        if self.mode == "vmap":
            return self._vcall(params, x)
        return torch.stack([self._call({n: v[i] for n, v in params.items()}, x[i]) for i in range(x.shape[0])])

    def recorded(self, flat_k: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """f_k(x) and, for every submodule whose forward ran, log10 RMS(output) per row (D, R)."""
        self._rows = x.shape[1]
        handles = [module.register_forward_hook(self._hook(name))
                   for name, module in self.template.named_modules() if name]
        try:
            params = self.layout.views(flat_k)
            if self.mode == "vmap":
                out, records = self._vcall_recorded(params, x)
            else:
                outs, per_draw = [], []
                for i in range(x.shape[0]):
                    o, r = self._call_recorded({n: v[i] for n, v in params.items()}, x[i])
                    outs.append(o)
                    per_draw.append(r)
                out = torch.stack(outs)
                names = set().union(*per_draw) if per_draw else set()
                nan = torch.full((x.shape[1],), float("nan"), dtype=torch.float64, device=x.device)
                records = {name: torch.stack([r.get(name, nan) for r in per_draw]) for name in names}
        finally:
            for h in handles:
                h.remove()
        return out, records

    def _hook(self, name: str):
        def hook(module, args, output):
            if self._records is None:
                return
            value = output[0] if isinstance(output, (tuple, list)) and output else output
            if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.numel() == 0:
                return
            v = value.detach().to(torch.float64)
            if v.dim() >= 1 and v.shape[0] == self._rows:
                rms = v.reshape(self._rows, -1).pow(2).mean(-1).sqrt()
            else:  # the module does not keep the batch axis first: one RMS for the whole batch
                rms = v.pow(2).mean().sqrt().expand(self._rows)
            self._records[name] = torch.log10(rms)
        return hook


def choose_mode(stack: Stack, flat_k: torch.Tensor, x: torch.Tensor, requested: str, block_text: str,
                rtol: float) -> tuple[str, str | None]:
    """vmap where it runs and agrees with the per-draw loop on layer k's parameters, else loop.

    Returns (mode, reason the loop was chosen or None). A failure of the loop itself is the
    user's block failing: SpecError.
    """
    stack.mode = "loop"
    try:
        with torch.no_grad():
            reference = stack(flat_k, x)
    except Exception as exc:
        raise SpecError(f"block {block_text}: forward failed on a batch of shape {tuple(x.shape[1:])}: {one_line(exc)}") from None
    if requested == "loop":
        return "loop", "requested"
    stack.mode = "vmap"
    try:
        with torch.no_grad():
            batched = stack(flat_k, x)
    except Exception as exc:
        if requested == "vmap":
            raise SpecError(f"block {block_text}: --batching vmap: torch.func.vmap cannot run this block: {one_line(exc)}") from None
        stack.mode = "loop"
        return "loop", f"vmap failed: {one_line(exc)}"
    scale = reference.abs().max().clamp_min(torch.finfo(reference.dtype).tiny)
    ok = batched.shape == reference.shape and bool(((batched - reference).abs().max() <= rtol * scale).item())
    if not ok:
        if requested == "vmap":
            raise SpecError(f"block {block_text}: --batching vmap: vmap and the per-draw loop disagree on this block")
        stack.mode = "loop"
        return "loop", "vmap and the per-draw loop disagree"
    return "vmap", None


def homogeneity_error(stack: Stack, flat_ks: list[torch.Tensor], x: torch.Tensor, factors=(1 / 3, 5.0)) -> float:
    """max over layers and c of ‖f(c x) − c f(x)‖ / ‖c f(x)‖ (0 where f vanishes identically)."""
    worst = 0.0
    with torch.no_grad():
        for flat_k in flat_ks:
            fx = stack(flat_k, x).to(torch.float64)
            for c in factors:
                fcx = stack(flat_k, x * c).to(torch.float64)
                num = torch.linalg.vector_norm(fcx - c * fx)
                den = torch.linalg.vector_norm(c * fx)
                if den == 0:
                    err = 0.0 if num == 0 else math.inf
                else:
                    err = float(num / den)
                if not math.isfinite(err):
                    return math.inf
                worst = max(worst, err)
    return worst
