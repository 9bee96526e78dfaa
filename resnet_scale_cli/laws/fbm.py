"""Fractional Gaussian noise (increments of fBm) with Hurst index H, unit variance:
γ(k) = ½(|k+1|^{2H} − 2|k|^{2H} + |k−1|^{2H}), sampled exactly by circulant embedding
(Davies–Harte) of (γ(0..L), γ(L−1..1)) in length 2L: one complex FFT gives two paths.
The PyPI `fbm` package (`fbm_backend = "fbm"`) is the slow reference, one path at a time."""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any, Sequence

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws.base import Law, into

if TYPE_CHECKING:
    import numpy as np


def fgn_autocovariance(hurst: float, lags: np.ndarray | Sequence[int]) -> np.ndarray:
    """γ(k) = ½(|k+1|^{2H} − 2|k|^{2H} + |k−1|^{2H}) of unit-variance fractional Gaussian noise."""
    import numpy as np

    k = np.abs(np.asarray(lags, dtype=np.float64))
    two_h = 2.0 * hurst
    return 0.5 * (np.abs(k + 1) ** two_h - 2 * k**two_h + np.abs(k - 1) ** two_h)


@functools.lru_cache(maxsize=32)
def _circulant_sqrt_eigenvalues(hurst: float, depth: int) -> np.ndarray:
    """√(λ_j / 2L) for the circulant embedding c = (γ(0..L), γ(L−1..1)) of length 2L."""
    import numpy as np

    gamma = fgn_autocovariance(hurst, np.arange(depth + 1))
    row = np.concatenate([gamma, gamma[-2:0:-1]])
    eig = np.fft.fft(row).real
    if eig.min() < -1e-8 * eig.max():
        raise SpecError(f"--hurst {hurst}: circulant embedding is not non-negative definite at depth {depth}")
    return np.sqrt(np.clip(eig, 0.0, None) / row.size)


def _reference(hurst: float, depth: int, dtype, device):
    """The PyPI `fbm` package, one path at a time (slow; a reference to validate against)."""
    import numpy as np
    import torch
    from fbm import FBM

    def draw(n_paths: int, gen, out=None) -> "torch.Tensor":
        paths = np.empty((depth, n_paths))
        saved = np.random.get_state()
        try:
            np.random.seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device).item()))
            process = FBM(n=int(depth), hurst=float(hurst), length=int(depth), method="daviesharte")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the package warns when it falls back to Hosking's method
                for j in range(n_paths):
                    paths[:, j] = process.fgn()
        finally:
            np.random.set_state(saved)
        return into(out, torch.as_tensor(paths, dtype=dtype, device=device))

    return draw


def sampler(depth: int, settings: dict[str, Any], dtype, device):
    import torch

    hurst = float(settings.get("hurst", 0.5))
    if settings.get("fbm_backend", "torch") == "fbm":
        return _reference(hurst, depth, dtype, device)
    sqrt_eig = torch.as_tensor(_circulant_sqrt_eigenvalues(hurst, int(depth)), dtype=dtype, device=device)
    kept: list[torch.Tensor] = []  # the noise buffer, reused from call to call of this sampler

    def draw(n_paths: int, gen, out=None) -> "torch.Tensor":
        n_complex = (n_paths + 1) // 2
        if not kept or kept[0].shape[0] < n_complex:
            kept[:] = [torch.empty((n_complex, 2 * depth, 2), dtype=dtype, device=device)]
        # the same numbers as torch.randn((n_complex, 2L, 2)), drawn into a contiguous buffer
        noise = torch.view_as_complex(kept[0][:n_complex].normal_(generator=gen))
        spectrum = torch.fft.fft(noise.mul_(sqrt_eig), dim=-1)  # (out= would only add a copy)
        paths = spectrum[:, :depth]  # real parts: paths 0..n_complex-1, imaginary parts: the next ones
        if out is None:
            out = torch.empty((depth, n_paths), dtype=dtype, device=device)
        out[:, :n_complex].copy_(paths.real.T)
        out[:, n_complex:].copy_(paths.imag[:n_paths - n_complex].T)
        return out

    return draw


def autocorrelation(lags: np.ndarray, depth: int, settings: dict[str, Any]) -> np.ndarray:
    return fgn_autocovariance(float(settings.get("hurst", 0.5)), lags)


LAW = Law("fbm", "fractional Gaussian noise (fBm increments), Hurst index H", ("hurst",), sampler, autocorrelation,
          parameter="hurst", symbol="H", chunked=lambda settings: settings.get("fbm_backend", "torch") != "fbm")
