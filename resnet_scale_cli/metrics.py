"""log10 ratios from (normalized rows, base-2 exponents), computed in float64.

A carried row stands for x = x̂ · 2^e. Differences x − y are taken after scaling both sides
by 2^{-max(e, 0)}, so nothing overflows and the result is exact to float64 rounding.
"""

from __future__ import annotations

import math

import numpy as np
import torch

LOG10_2 = math.log10(2.0)
LN_2 = math.log(2.0)


def _f64(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64)


def log10_norm(xhat: torch.Tensor, exps: torch.Tensor) -> torch.Tensor:
    """log10 ‖x̂ · 2^e‖ over the last axis."""
    return torch.log10(torch.linalg.vector_norm(_f64(xhat), dim=-1)) + exps.to(torch.float64) * LOG10_2


def log10_norm_diff(xhat: torch.Tensor, exps: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log10 ‖x̂ · 2^e − y‖ over the last axis, without overflow."""
    pivot = exps.clamp(min=0).to(torch.float64)
    e = exps.to(torch.float64)
    a = _f64(xhat) * torch.exp2(e - pivot).unsqueeze(-1)
    b = _f64(y) * torch.exp2(-pivot).unsqueeze(-1)
    return torch.log10(torch.linalg.vector_norm(a - b, dim=-1)) + pivot * LOG10_2


def tangent_gradient_log10(
    q_hat: torch.Tensor,
    q_exps: torch.Tensor,
    probes: torch.Tensor | None,
    p_last: torch.Tensor,
    q_delta: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """log10 ‖p_0‖ and log10 ‖p_0 − p_L‖ from tangents q_L(z) = (∂h_L/∂h_0) z.

    q_hat (D, n, P, d), q_exps (D, n, P), p_last (D, n, d). With `probes=None` the probes are
    the d basis vectors and ‖p_0‖² = Σ_i (p_Lᵀ q_L(e_i))² exactly; with random z ~ N(0, I)
    (probes (D, n, P, d)) the mean over probes of (p_Lᵀ q_L(z))² is an unbiased estimate.
    The difference uses (p_0 − p_L)ᵀ z = p_Lᵀ (q_L(z) − z): from `q_delta` = (q_L(z) − z)
    in the frame of q̂ when it was carried apart, else by subtraction.
    """
    p = _f64(p_last).unsqueeze(2)
    a = (_f64(q_hat) * p).sum(-1)  # p_Lᵀ q̂(z), (D, n, P)
    e = q_exps.to(torch.float64)
    norm = 0.0 if probes is None else math.log(a.shape[-1])
    if q_delta is not None:
        pivot = e
        diff = (_f64(q_delta) * p).sum(-1)
    else:
        t = _f64(p_last) if probes is None else (_f64(probes) * p).sum(-1)  # p_Lᵀ z: (p_L)_i for z = e_i
        pivot = e.clamp(min=0)
        diff = a * torch.exp2(e - pivot) - t * torch.exp2(-pivot)
    ln_p0 = torch.log(a.abs()) + e * LN_2
    ln_diff = torch.log(diff.abs()) + pivot * LN_2
    log10_p0 = (torch.logsumexp(2 * ln_p0, dim=-1) - norm) / (2 * math.log(10.0))
    log10_diff = (torch.logsumexp(2 * ln_diff, dim=-1) - norm) / (2 * math.log(10.0))
    return log10_p0, log10_diff


def summarize(values: np.ndarray) -> dict[str, float] | None:
    """median, 5 % and 95 % quantiles and mean of the finite values (None if there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    q05, median, q95 = np.quantile(finite, [0.05, 0.5, 0.95])
    return {"median": float(median), "q05": float(q05), "q95": float(q95), "mean": float(finite.mean())}
