"""log10 ratios from carried (row, exponent) pairs against float64 computed directly."""

import math

import numpy as np
import torch

from resnet_scale_cli.metrics import log10_norm, log10_norm_diff, summarize, tangent_gradient_log10


def test_log10_norm_adds_the_carried_exponent(device):
    x = torch.tensor([[[3.0, 4.0]]], dtype=torch.float32, device=device)
    e = torch.tensor([[10]], device=device)
    # a few ulps: CUDA's float64 log10 is specified to within 1 ulp, not correctly rounded
    assert math.isclose(float(log10_norm(x, e)), math.log10(5.0) + 10 * math.log10(2.0), rel_tol=4e-16, abs_tol=0)


def test_log10_norm_diff_equals_the_direct_difference_in_range(device):
    gen = torch.Generator().manual_seed(0)
    xhat = torch.randn(3, 5, 7, generator=gen, dtype=torch.float64).to(device)
    exps = torch.randint(-6, 6, (3, 5), generator=gen).to(device)
    y = torch.randn(3, 5, 7, generator=gen, dtype=torch.float64).to(device)
    direct = torch.log10(torch.linalg.vector_norm(xhat * torch.exp2(exps.double()).unsqueeze(-1) - y, dim=-1))
    torch.testing.assert_close(log10_norm_diff(xhat, exps, y), direct, rtol=0, atol=1e-12)


def test_log10_norm_diff_stays_exact_far_past_the_float_range(device):
    """x = x̂·2^3000 is 10^903: ‖x − y‖ = ‖x‖ to float64 precision for any y of order one."""
    xhat = torch.tensor([[[0.0, 1.0]]], dtype=torch.float32, device=device)
    out = log10_norm_diff(xhat, torch.tensor([[3000]], device=device), torch.tensor([[[1.0, -2.0]]], device=device))
    assert abs(float(out) - 3000 * math.log10(2.0)) < 1e-12


def test_tangent_gradient_with_basis_probes_is_the_exact_jacobian_transpose_product(device):
    """q_L(e_i) are the columns of J; ‖p_0‖ = ‖Jᵀ p_L‖ and ‖p_0 − p_L‖ = ‖(J − I)ᵀ p_L‖."""
    gen = torch.Generator().manual_seed(1)
    d = 4
    J = torch.randn(d, d, generator=gen, dtype=torch.float64)
    p_last = torch.randn(1, 1, d, generator=gen, dtype=torch.float64)
    exps = torch.tensor([[[5, -3, 0, 2]]])
    q_hat = (J.T * torch.exp2(-exps[0, 0].double()).unsqueeze(-1)).reshape(1, 1, d, d)  # rows q(e_i) / 2^e_i
    log_p0, log_diff = tangent_gradient_log10(q_hat.to(device), exps.to(device), None, p_last.to(device))
    p = p_last[0, 0]
    assert abs(float(log_p0) - math.log10(float(torch.linalg.vector_norm(J.T @ p)))) < 1e-12
    assert abs(float(log_diff) - math.log10(float(torch.linalg.vector_norm((J - torch.eye(d, dtype=J.dtype)).T @ p)))) < 1e-12


def test_summarize_uses_finite_values_with_linear_quantiles():
    stats = summarize(np.array([5.0, 1.0, np.nan, 3.0, 2.0, 4.0, np.inf]))
    assert stats == {"median": 3.0, "q05": 1.2, "q95": 4.8, "mean": 3.0}
    assert summarize(np.array([np.nan, np.inf])) is None


def test_tangent_gradient_with_random_probes_is_an_unbiased_mean_over_probes(device):
    """z ~ N(0, I): (p_Lᵀ J z) ~ N(0, ‖Jᵀ p_L‖²), so the mean of its square over P probes has relative
    standard error √(2/P) = 0.01 at P = 20 000, i.e. 0.5·log10(1.01) ≈ 0.0022 in log10 of the norm;
    4 s.e. allowed. Without the 1/P normalization the estimate would be off by log10(P)/2 ≈ 2.15."""
    gen = torch.Generator().manual_seed(2)
    d, P = 4, 20_000
    J = torch.randn(d, d, generator=gen, dtype=torch.float64)
    p_last = torch.randn(1, 1, d, generator=gen, dtype=torch.float64)
    z = torch.randn(1, 1, P, d, generator=gen, dtype=torch.float64)
    q_hat = z @ J.T  # rows q_L(z) = J z, exponent 0
    exps = torch.zeros(1, 1, P, dtype=torch.long)
    log_p0, log_diff = tangent_gradient_log10(q_hat.to(device), exps.to(device), z.to(device), p_last.to(device))
    p = p_last[0, 0]
    tol = 4 * 0.5 * math.log10(1 + math.sqrt(2 / P))
    assert abs(float(log_p0) - math.log10(float(torch.linalg.vector_norm(J.T @ p)))) < tol
    exact_diff = math.log10(float(torch.linalg.vector_norm((J - torch.eye(d, dtype=J.dtype)).T @ p)))
    assert abs(float(log_diff) - exact_diff) < tol
