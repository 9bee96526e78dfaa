"""Weight laws across depth, batched: tensors of shape (draws, L, d, d), variance 1/d per entry.

Every entry path `k ↦ √d (V_k)_{ij}`, k = 1..L, is independent across (i, j) and follows the law:

- ``iid``: independent across k, Gaussian N(0, 1), Rademacher ±1 or uniform on [-√3, √3];
- ``rbf``: values G(k/L) of a Gaussian process with covariance exp(-(s-t)²/(2ℓ²));
- ``fbm``: fractional Gaussian noise with Hurst index H, autocovariance
  γ(k) = ½(|k+1|^{2H} - 2|k|^{2H} + |k-1|^{2H}), sampled exactly by circulant embedding.

Each draw takes its own `torch.Generator`, so a draw's weights do not depend on how many draws
are sampled together.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from resnet_scale_cli.errors import SpecError

DISTS = ("gaussian", "rademacher", "uniform")
FBM_BACKENDS = ("torch", "fbm")


@dataclass(frozen=True)
class Law:
    """A registry entry: the law's parameters (spec field names), its summary and theory."""

    name: str
    params: tuple[str, ...]
    summary: str
    critical_beta: Callable[..., float]


def _fbm_critical(hurst: float = 0.5, **_: object) -> float:
    # heuristic reference of SCIENCE.md §4: 1/2 for H <= 1/2, rising linearly to 1 as H -> 1
    return max(0.5, hurst)


LAWS: dict[str, Law] = {
    "iid": Law("iid", ("dist",), "i.i.d. across depth (gaussian | rademacher | uniform)", lambda **_: 0.5),
    "rbf": Law("rbf", ("lengthscale",), "smooth Gaussian process, RBF kernel with lengthscale ℓ", lambda **_: 1.0),
    "fbm": Law("fbm", ("hurst",), "fractional Gaussian noise (fBm increments), Hurst index H", _fbm_critical),
    "tied": Law("tied", (), "weight-tied: one Gaussian matrix shared by every layer (constant across depth)", lambda **_: 1.0),
}


# --------------------------------------------------------------------------- theory
def fgn_autocovariance(hurst: float, lags: np.ndarray | Sequence[int]) -> np.ndarray:
    """γ(k) = ½(|k+1|^{2H} − 2|k|^{2H} + |k−1|^{2H}) of unit-variance fractional Gaussian noise."""
    k = np.abs(np.asarray(lags, dtype=np.float64))
    two_h = 2.0 * hurst
    return 0.5 * (np.abs(k + 1) ** two_h - 2 * k**two_h + np.abs(k - 1) ** two_h)


def rbf_kernel_matrix(depth: int, lengthscale: float) -> np.ndarray:
    """K_{kl} = exp(−(k/L − l/L)² / (2ℓ²)) on the grid k = 1..L (scikit-learn's RBF kernel)."""
    from sklearn.gaussian_process.kernels import RBF

    grid = (np.arange(1, depth + 1, dtype=np.float64) / depth)[:, None]
    return RBF(length_scale=float(lengthscale))(grid)


def theory_autocorrelation(law: str, lags: np.ndarray, depth: int, *, lengthscale: float = 0.1, hurst: float = 0.5) -> np.ndarray:
    """Autocorrelation across depth of one entry path at the given lags."""
    lags = np.asarray(lags, dtype=np.float64)
    if law == "iid":
        return (lags == 0).astype(np.float64)
    if law == "rbf":
        return np.exp(-((lags / depth) ** 2) / (2.0 * lengthscale**2))
    if law == "fbm":
        return fgn_autocovariance(hurst, lags)
    if law == "tied":
        return np.ones_like(lags)
    raise SpecError(f"--law: unknown value {law!r}; choose from {', '.join(LAWS)}")


# --------------------------------------------------------------------------- factors
@functools.lru_cache(maxsize=32)
def _circulant_sqrt_eigenvalues(hurst: float, depth: int) -> np.ndarray:
    """√(λ_j / 2L) for the circulant embedding c = (γ(0..L), γ(L−1..1)) of length 2L."""
    gamma = fgn_autocovariance(hurst, np.arange(depth + 1))
    row = np.concatenate([gamma, gamma[-2:0:-1]])
    eig = np.fft.fft(row).real
    if eig.min() < -1e-8 * eig.max():
        raise SpecError(f"--hurst {hurst}: circulant embedding is not non-negative definite at depth {depth}")
    return np.sqrt(np.clip(eig, 0.0, None) / row.size)


@functools.lru_cache(maxsize=16)
def _rbf_cholesky(depth: int, lengthscale: float) -> np.ndarray:
    """Lower Cholesky factor of the RBF kernel matrix, with the smallest jitter that works."""
    kernel = rbf_kernel_matrix(depth, lengthscale)
    jitter = 1e-10
    while jitter <= 1e-3:
        try:
            return np.linalg.cholesky(kernel + jitter * np.eye(depth))
        except np.linalg.LinAlgError:
            jitter *= 10.0
    raise SpecError(f"--lengthscale {lengthscale}: the RBF kernel at depth {depth} is too ill-conditioned")


# --------------------------------------------------------------------------- samplers
#: paths drawn per call: bounds the temporaries (an FFT of length 2L per pair of paths) and fixes
#: how a draw's stream is consumed, so results never depend on memory settings
PATH_CHUNK = 256


def _iid_chunk(dist: str, n_paths: int, depth: int, gen: torch.Generator, dtype, device) -> torch.Tensor:
    shape = (depth, n_paths)
    if dist == "gaussian":
        return torch.randn(shape, generator=gen, dtype=dtype, device=device)
    if dist == "rademacher":
        bits = torch.randint(0, 2, shape, generator=gen, device=device)
        return (2 * bits - 1).to(dtype)
    if dist == "uniform":
        u = torch.rand(shape, generator=gen, dtype=dtype, device=device)
        return (2.0 * u - 1.0) * math.sqrt(3.0)
    raise SpecError(f"--dist: unknown value {dist!r}; choose from {', '.join(DISTS)}")


def _fgn_chunk(hurst: float, depth: int, n_paths: int, gen: torch.Generator, dtype, device) -> torch.Tensor:
    """(L, n_paths) unit-variance fGn: Re and Im of one complex FFT are two independent paths."""
    sqrt_eig = torch.as_tensor(_circulant_sqrt_eigenvalues(float(hurst), int(depth)), dtype=dtype, device=device)
    n_complex = (n_paths + 1) // 2
    noise = torch.view_as_complex(torch.randn((n_complex, 2 * depth, 2), generator=gen, dtype=dtype, device=device))
    paths = torch.fft.fft(noise * sqrt_eig, dim=-1)[:, :depth]
    return torch.cat([paths.real, paths.imag], dim=0)[:n_paths].T


def _rbf_chunk(chol: torch.Tensor, n_paths: int, gen: torch.Generator, dtype, device) -> torch.Tensor:
    return chol @ torch.randn((chol.shape[0], n_paths), generator=gen, dtype=dtype, device=device)


def _fgn_reference(hurst: float, depth: int, n_paths: int, gen: torch.Generator, dtype, device) -> torch.Tensor:
    """The PyPI `fbm` package, one path at a time (slow; a reference to validate against)."""
    from fbm import FBM

    out = np.empty((depth, n_paths))
    saved = np.random.get_state()
    try:
        np.random.seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device).item()))
        process = FBM(n=int(depth), hurst=float(hurst), length=int(depth), method="daviesharte")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the package warns when it falls back to Hosking's method
            for j in range(n_paths):
                out[:, j] = process.fgn()
    finally:
        np.random.set_state(saved)
    return torch.as_tensor(out, dtype=dtype, device=device)


def _fill_paths(out, law: str, depth: int, n_paths: int, generators: Sequence[torch.Generator], *, dist: str,
                lengthscale: float, hurst: float, fbm_backend: str, dtype, device) -> None:
    """Write draw i's unit-variance paths into out(i) of shape (L, n_paths), chunk by chunk."""
    if law not in LAWS:
        raise SpecError(f"--law: unknown value {law!r}; choose from {', '.join(LAWS)}")
    chol = None
    if law == "rbf":
        chol = torch.as_tensor(_rbf_cholesky(int(depth), float(lengthscale)), dtype=dtype, device=device)
    for i, gen in enumerate(generators):
        target = out(i)
        if law == "fbm" and fbm_backend == "fbm":
            target.copy_(_fgn_reference(hurst, depth, n_paths, gen, dtype, device))
            continue
        for first in range(0, n_paths, PATH_CHUNK):
            n = min(PATH_CHUNK, n_paths - first)
            if law == "iid":
                chunk = _iid_chunk(dist, n, depth, gen, dtype, device)
            elif law == "fbm":
                chunk = _fgn_chunk(hurst, depth, n, gen, dtype, device)
            elif law == "tied":
                chunk = torch.randn((1, n), generator=gen, dtype=dtype, device=device).expand(depth, n)
            else:
                chunk = _rbf_chunk(chol, n, gen, dtype, device)
            target[:, first:first + n] = chunk


def sample_paths(
    law: str,
    depth: int,
    n_paths: int,
    generators: Sequence[torch.Generator],
    *,
    dist: str = "gaussian",
    lengthscale: float = 0.1,
    hurst: float = 0.5,
    fbm_backend: str = "torch",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Unit-variance entry paths across depth, shape (draws, L, n_paths), one generator per draw."""
    out = torch.empty((len(generators), depth, n_paths), dtype=dtype, device=device)
    _fill_paths(lambda i: out[i], law, depth, n_paths, generators, dist=dist, lengthscale=lengthscale, hurst=hurst,
                fbm_backend=fbm_backend, dtype=dtype, device=device)
    return out


def sample_fgn(hurst: float, depth: int, n_paths: int, generators: Sequence[torch.Generator], *, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """Exact unit-variance fGn, shape (draws, L, n_paths), by circulant embedding (Davies–Harte)."""
    return sample_paths("fbm", depth, n_paths, generators, hurst=hurst, dtype=dtype, device=device)


def sample_weights(
    law: str,
    depth: int,
    width: int,
    generators: Sequence[torch.Generator],
    *,
    layer_major: bool = False,
    **options,
) -> torch.Tensor:
    """Weights (V_k)_{k=1..L} for each draw, entries of variance 1/d: shape (draws, L, d, d), or
    (L, draws, d, d) with `layer_major` (written in place, chunk by chunk: no second copy).

    `options` are those of `sample_paths` (dist, lengthscale, hurst, fbm_backend, dtype, device).
    """
    dtype, device = options.get("dtype", torch.float32), options.get("device", "cpu")
    n = width * width
    shape = (depth, len(generators), n) if layer_major else (len(generators), depth, n)
    out = torch.empty(shape, dtype=dtype, device=device)
    pick = (lambda i: out[:, i]) if layer_major else (lambda i: out[i])
    defaults = dict(dist="gaussian", lengthscale=0.1, hurst=0.5, fbm_backend="torch")
    _fill_paths(pick, law, depth, n, generators, **{**defaults, **options, "dtype": dtype, "device": device})
    out.mul_(1.0 / math.sqrt(width))
    return out.view(*shape[:2], width, width)
