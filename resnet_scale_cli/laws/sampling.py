"""Batched sampling of weight laws: tensors of shape (draws, L, d, d), variance 1/d per entry.

Each draw takes its own `torch.Generator`, and its paths are drawn in chunks of `PATH_CHUNK`,
so a draw's weights depend neither on how many draws are sampled together nor on memory
settings. The law itself (iid, rbf, fbm, tied, …) comes from the `LAWS` registry.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from resnet_scale_cli.laws.registry import LAWS, law_entry

#: paths drawn per call: bounds the temporaries (an FFT of length 2L per pair of paths) and fixes
#: how a draw's stream is consumed, so results never depend on memory settings
PATH_CHUNK = 256
#: every law's settings at their defaults
LAW_SETTINGS = {name: value for law in LAWS.values() for name, value in law.defaults.items()}


def _fill_paths(out, law: str, depth: int, n_paths: int, generators: Sequence[torch.Generator], *, dtype, device,
                **settings) -> None:
    """Write draw i's unit-variance paths into out(i) of shape (L, n_paths), chunk by chunk."""
    entry = law_entry(law)
    settings = entry.settings(settings)
    draw = entry.sampler(int(depth), settings, dtype, device)
    chunked = entry.chunked(settings)
    whole = chunked and entry.whole_draw(settings)
    for i, gen in enumerate(generators):
        target = out(i)
        if not chunked or whole:
            draw(n_paths, gen, out=target, **({"chunk": PATH_CHUNK} if whole else {}))
            continue
        for first in range(0, n_paths, PATH_CHUNK):
            n = min(PATH_CHUNK, n_paths - first)
            draw(n, gen, out=target[:, first:first + n])


def sample_paths(
    law: str,
    depth: int,
    n_paths: int,
    generators: Sequence[torch.Generator],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    **settings,
) -> torch.Tensor:
    """Unit-variance entry paths across depth, shape (draws, L, n_paths), one generator per draw.
    `settings`: the law's (dist, lengthscale, hurst, fbm_backend), each defaulting to the law's
    declared default."""
    out = torch.empty((len(generators), depth, n_paths), dtype=dtype, device=device)
    _fill_paths(lambda i: out[i], law, depth, n_paths, generators, dtype=dtype, device=device, **settings)
    return out


def sample_fgn(hurst: float, depth: int, n_paths: int, generators: Sequence[torch.Generator], *, dtype=torch.float32,
               device="cpu") -> torch.Tensor:
    """Exact unit-variance fGn, shape (draws, L, n_paths), by circulant embedding (Davies–Harte)."""
    return sample_paths("fbm", depth, n_paths, generators, hurst=hurst, dtype=dtype, device=device)


def sample_weights(
    law: str,
    depth: int,
    width: int,
    generators: Sequence[torch.Generator],
    *,
    layer_major: bool = False,
    out: torch.Tensor | None = None,
    **options,
) -> torch.Tensor:
    """Weights (V_k)_{k=1..L} for each draw, entries of variance 1/d: shape (draws, L, d, d), or
    (L, draws, d, d) with `layer_major` (written in place, chunk by chunk: no second copy).

    `out`: a tensor of that shape (each (d, d) block contiguous, e.g. a slice of a larger stack on
    the draw axis) to write into instead of a new one; returned.
    `options` are those of `sample_paths` (dist, lengthscale, hurst, fbm_backend, dtype, device).
    """
    dtype, device = options.pop("dtype", torch.float32), options.pop("device", "cpu")
    n = width * width
    shape = (depth, len(generators), n) if layer_major else (len(generators), depth, n)
    if out is None:
        flat = torch.empty(shape, dtype=dtype, device=device)
    else:
        if out.shape != (*shape[:2], width, width) or out.dtype != dtype:
            raise ValueError(f"sample_weights: out is {tuple(out.shape)} {out.dtype}, expected "
                             f"{(*shape[:2], width, width)} {dtype}")
        flat = out.view(shape)
    pick = (lambda i: flat[:, i]) if layer_major else (lambda i: flat[i])
    _fill_paths(pick, law, depth, n, generators, dtype=dtype, device=device, **options)
    flat.mul_(1.0 / math.sqrt(width))
    return flat.view(*shape[:2], width, width) if out is None else out
