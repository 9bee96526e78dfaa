"""Fractional Gaussian noise (increments of fBm) with Hurst index H, unit variance:
γ(k) = ½(|k+1|^{2H} − 2|k|^{2H} + |k−1|^{2H}), sampled exactly by circulant embedding
(Davies–Harte) of (γ(0..L), γ(L−1..1)) in length 2L: one complex FFT gives two paths.
The PyPI `fbm` package (`fbm_backend = "fbm"`) is the slow reference, one path at a time."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import TYPE_CHECKING, Any, Sequence

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import iid
from resnet_scale_cli.values import LAW as LAW_PANEL, Choice, Real, Setting
from resnet_scale_cli.laws.base import FBM_BACKENDS, Law, into
from resnet_scale_cli.laws.references import QUANTITY_TEXT, Limit, Reference

if TYPE_CHECKING:
    import numpy as np


def fgn_autocovariance(hurst: float, lags: np.ndarray | Sequence[int]) -> np.ndarray:
    """γ(k) = ½(|k+1|^{2H} − 2|k|^{2H} + |k−1|^{2H}) of unit-variance fractional Gaussian noise."""
    import numpy as np

    k = np.abs(np.asarray(lags, dtype=np.float64))
    two_h = 2.0 * hurst
    return 0.5 * (np.abs(k + 1) ** two_h - 2 * k**two_h + np.abs(k - 1) ** two_h)


#: Bytes of noise one FFT call may take, per device type (whole chunks, at least one per call). On
#: the CPU one chunk per call keeps an FFT's data in the core's cache; on a GPU fewer, larger calls
#: save kernel launches (the Figure-7 grid: 7 chunks per draw and weight tensor in one call). The
#: paths are the same either way (the FFT of a row does not depend on the rows beside it; tested).
FFT_GROUP_BYTES: dict[str, int] = {"cpu": 0, "cuda": 64 * 2**20}


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

    hurst = float(settings["hurst"])
    if settings["fbm_backend"] == "fbm":
        return _reference(hurst, depth, dtype, device)
    sqrt_eig = torch.as_tensor(_circulant_sqrt_eigenvalues(hurst, int(depth)), dtype=dtype, device=device)
    kept: list[torch.Tensor] = []  # the noise buffer, reused from call to call of this sampler
    row_bytes = 2 * depth * 2 * (torch.finfo(dtype).bits // 8)  # one complex noise row of length 2L
    group_bytes = FFT_GROUP_BYTES.get(torch.device(device).type, 0)

    def group(sizes: list[int], gen, out: "torch.Tensor") -> None:
        """Chunks of `sizes` paths, one after another from `gen`, into out (L, sum(sizes)): each
        chunk of n paths is ⌈n/2⌉ complex rows of noise; their FFTs' real parts are its first
        ⌈n/2⌉ paths, the imaginary parts the rest. One FFT for all the chunks."""
        halves = [(n + 1) // 2 for n in sizes]
        rows = sum(halves)
        if not kept or kept[0].shape[0] < rows:
            kept[:] = [torch.empty((rows, 2 * depth, 2), dtype=dtype, device=device)]
        start = 0
        for h in halves:  # per chunk: the same numbers as torch.randn((⌈n/2⌉, 2L, 2))
            kept[0][start:start + h].normal_(generator=gen)
            start += h
        noise = torch.view_as_complex(kept[0][:rows])
        paths = torch.fft.fft(noise.mul_(sqrt_eig), dim=-1)[:, :depth]  # (out= would only add a copy)
        # the whole chunks (all of one even size; only the last may be shorter): their real and
        # imaginary parts in one copy each
        full = sum(n == sizes[0] for n in sizes) if sizes[0] % 2 == 0 else 0
        h = sizes[0] // 2
        if full:
            blocks = out[:, :full * sizes[0]].unflatten(1, (full, 2, h))  # (L, chunk, real/imaginary, path)
            blocks[:, :, 0].copy_(paths[:full * h].real.T.unflatten(1, (full, h)))
            blocks[:, :, 1].copy_(paths[:full * h].imag.T.unflatten(1, (full, h)))
        row, col = full * h, full * sizes[0]
        for n, h in zip(sizes[full:], halves[full:]):
            out[:, col:col + h].copy_(paths[row:row + h].real.T)
            out[:, col + h:col + n].copy_(paths[row:row + n - h].imag.T)
            row, col = row + h, col + n

    def draw(n_paths: int, gen, out=None, chunk: int | None = None) -> "torch.Tensor":
        """n_paths unit-variance fGn paths (L, n_paths). `chunk` (`sampling.PATH_CHUNK`): the paths
        are drawn in chunks of that many, exactly as one call per chunk would draw them; on a
        device where `FFT_GROUP_BYTES` allows, several chunks share one FFT call."""
        chunk = max(1, n_paths if chunk is None else chunk)
        if out is None:
            out = torch.empty((depth, n_paths), dtype=dtype, device=device)
        per_call = max(1, group_bytes // (((chunk + 1) // 2) * row_bytes))  # chunks per FFT call
        sizes = [min(chunk, n_paths - first) for first in range(0, n_paths, chunk)]
        col = 0
        for i in range(0, len(sizes), per_call):
            part = sizes[i:i + per_call]
            group(part, gen, out[:, col:col + sum(part)])
            col += sum(part)
        return out

    return draw


def autocorrelation(lags: np.ndarray, depth: int, settings: dict[str, Any]) -> np.ndarray:
    return fgn_autocovariance(float(settings["hurst"]), lags)


#: activations σ with σ(−x) = −σ(x): E σ(W h) = 0 for symmetric W
ODD = ("tanh", "identity")


def references(quantity: str, model: str, activation: str, settings: dict[str, Any], predict) -> Reference:
    """First-order arguments: critical β ≈ max(1/2, H) where a share of the increments carries V's
    long memory, max(1/2, 2H − 1) for the full model with σ odd; i.i.d.'s at H = 1/2 (white
    noise). `predict(H)` attaches the finite-(L, d) prediction where it applies."""
    H = float(settings["hurst"])
    if H == 0.5:  # fGn at H = 1/2 is Gaussian white noise: i.i.d. across depth
        return iid.references(quantity, model, activation, settings, predict)
    what = QUANTITY_TEXT[quantity]
    prediction = predict(H)
    if H < 0.5:
        return Reference(0.5, "first-order", f"first-order scaling argument for the {what}: for H < 1/2 the "
                         "increments' sum grows no faster than L^{1/2}, the quadratic variation L^{1−2β} decides",
                         prediction=prediction)
    if model in ("linear", "simple"):
        return Reference(max(0.5, H), "first-order", f"first-order scaling argument for the {what}: the increments "
                         "are V_k (fGn) times a slowly varying vector, so their sum grows like L^{H−β}; the quadratic "
                         "variation gives 1/2: max(1/2, H)", prediction=prediction)
    if activation in ODD:
        return Reference(round(max(0.5, 2 * H - 1), 12), "first-order", f"first-order scaling argument for the {what}: "
                         "σ odd, so E σ(W_k h) = 0 and E σ'(W_k h) W_k = 0; the increments are products of two "
                         "independent fGn sequences, autocovariance ≈ γ(k)², long memory of exponent 2H − 1 only for "
                         "H > 3/4: max(1/2, 2H − 1)", prediction=prediction)
    if quantity == "output":
        return Reference(max(0.5, H), "first-order", f"first-order scaling argument for the {what}: E σ(W_k h) ≠ 0 "
                         f"({activation}), so a fixed share of the increments carries V's long memory and their "
                         "sum grows like L^{H−β}: max(1/2, H)", prediction=prediction)
    why = ("the backward increment V_k D_k W_k q has a rank-one mean E[D_k W_k] = ĥ-direction only: a share "
           "≈ 1/(2πd) of its autocovariance carries V's long memory, the rest decays like γ(k)²; the critical β "
           "moves from max(1/2, 2H − 1) (L ≪ L*) to max(1/2, H) (L ≫ L*), so no asymptotic line holds at finite "
           "(L, d)")
    if prediction is not None:
        return Reference(None, "prediction", f"first-order finite-(L, d) prediction for the {what}: {why}",
                         prediction=prediction)
    return Reference(None, "none", f"no reference for the {what} with {activation}: {why}; the first-order formula "
                     "is implemented for piecewise-linear σ only")


def limit(settings: dict[str, Any]) -> Limit | str:
    """At β = H > 1/2 a Young equation (the neural SDE at H = 1/2). Euler's error has a term of
    order L^{-(2H−1)} (from the squared increments: the rate of the Euler scheme for fBm-driven
    equations, e.g. Mishura; Neuenkirch and Nourdin for its exactness) and terms of order up to
    1/L; only the d diagonal noise entries feed the first, with weight ~1/d (a first-order
    argument, not a theorem), so at moderate depths the rate sits between 2H − 1 and 1."""
    H = float(settings["hurst"])
    if H < 0.5:
        return (f"--hurst {H:g}: Euler's scheme has no pathwise limit for fBm with H < 1/2 (a rough driver); "
                "use H ≥ 1/2")
    young = Limit("young", H, f"β = H = {H:g} (the Young equation)",
                  "dH = dB^H σ(H), B^H a d×d fBm with entry variance t^{2H}/d (a Young equation for H > 1/2)",
                  "Euler with V_k = L^H (B^H_{k/L} − B^H_{(k−1)/L})",
                  "Euler on a grid r·L finer; B^H sampled exactly on the fine grid, the ResNet's increments are its sums",
                  round(2.0 * H - 1.0, 12), (round(2.0 * H - 1.0, 12), 1.0),
                  "2H − 1 as L → ∞ (Euler for fBm-driven equations, H > 1/2); between 2H − 1 and 1 at moderate L "
                  "(first-order argument: the 2H − 1 term has weight ~1/d)", ("simple", "linear"))
    if abs(H - 0.5) < 1e-12:  # fBm with H = 1/2 is Brownian motion
        return dataclasses.replace(young, kind="sde", rate=iid.SDE.rate, rate_range=iid.SDE.rate_range,
                                   rate_basis=iid.SDE.rate_basis)
    return young


def _batched(settings: dict[str, Any]) -> bool:
    """The circulant-embedding sampler (not the `fbm` package's one path at a time)."""
    return settings["fbm_backend"] != "fbm"


#: the settings this law adds to a spec: H in (0, 1), and the sampler of its increments
HURST = Setting(Real(0.0, 1.0), "fBm Hurst index H in (0,1).", 0.5, panel=LAW_PANEL, name="hurst", symbol="H",
                grid_help="fBm Hurst index H (implies --law fbm): one value, a list 0.2,0.5 or a range 0.05:0.97:24.")
FBM_BACKEND = Setting(Choice(FBM_BACKENDS), "fGn sampler (fbm = the PyPI package, one path at a time, reference).",
                      "torch", panel=LAW_PANEL, name="fbm_backend")

LAW = Law("fbm", "fractional Gaussian noise (fBm increments), Hurst index H", ("hurst",), sampler, autocorrelation,
          parameter="hurst", symbol="H", parameters=(HURST, FBM_BACKEND), chunked=_batched, whole_draw=_batched,
          references=references, limit=limit, smoothness=0.0)
