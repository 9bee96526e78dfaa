"""The activation registry (dynamics.activations): each σ and σ' against closed forms written
here (math.erf for GELU) and torch.autograd, the in-place variants, and what the reverse pass
records of σ'(pre) — the bool mask of piecewise-linear σ, taken with and without `out` and
`scratch` buffers — applied back to a cotangent, out of place and in place."""

from __future__ import annotations

import math

import pytest
import torch

from resnet_scale_cli.dynamics.activations import ACTIVATIONS, INPLACE, LEAKY_SLOPE

F64 = torch.float64
#: zero, both signs, values inside (0, 1) and beyond 1
POINTS = [-2.5, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.3, 0.5, 0.99, 1.0, 1.7, 3.0]


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


CLOSED = {
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "tanh": (math.tanh, lambda x: 1.0 - math.tanh(x) ** 2),
    "gelu": (lambda x: x * _phi(x), lambda x: _phi(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "identity": (lambda x: x, lambda x: 1.0),
}


def _points() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.cat([torch.tensor(POINTS, dtype=F64), 2 * torch.randn(20, generator=g, dtype=F64)]).view(4, 8)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_sigma_and_its_derivative_against_closed_forms_and_autograd(name):
    act = ACTIVATIONS[name]
    fn, deriv = CLOSED[name]
    x = _points()
    expected = torch.tensor([fn(v) for v in x.flatten().tolist()], dtype=F64).view_as(x)
    expected_d = torch.tensor([deriv(v) for v in x.flatten().tolist()], dtype=F64).view_as(x)
    torch.testing.assert_close(act.fn(x), expected, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(act.deriv(x), expected_d, rtol=1e-12, atol=1e-15)
    assert act.deriv(x).dtype == F64 and act.deriv(x.float()).dtype == torch.float32
    # σ' is the derivative of σ (away from the kink at 0)
    away = x[x.abs() > 1e-6].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(act.fn(away).sum(), away)
    torch.testing.assert_close(act.deriv(away.detach()), grad, rtol=1e-12, atol=1e-15)
    if name in INPLACE:
        y = x.clone()
        INPLACE[name](y)
        torch.testing.assert_close(y, expected, rtol=1e-13, atol=1e-15)
    if act.slopes is not None:  # (slope for x ≤ 0, slope for x > 0)
        assert act.slopes == ((0.0, 1.0) if name == "relu" else (LEAKY_SLOPE, 1.0))
        assert act.homogeneous and act.zero_below == (name == "relu")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_recorded_derivative_applies_like_sigma_prime(name):
    """record(pre) is a bool mask pre > 0 for piecewise-linear σ (else σ'(pre)); applying it to a
    cotangent u gives u ⊙ σ'(pre), out of place and in place, whether written into `out`, taken
    through a `scratch` buffer or allocated."""
    act = ACTIVATIONS[name]
    pre = _points()
    u = torch.linspace(-3.0, 4.0, pre.numel(), dtype=F64).view_as(pre)
    expected = u * torch.tensor([CLOSED[name][1](v) for v in pre.flatten().tolist()], dtype=F64).view_as(pre)
    piecewise = act.slopes is not None
    recorded = act.record(pre)
    if piecewise:
        assert recorded.dtype == torch.bool and torch.equal(recorded, pre > 0)
        out = torch.zeros_like(pre, dtype=torch.bool)
        scratch = torch.full_like(pre, 7.0)
        assert act.record(pre, out, scratch) is out and torch.equal(out, pre > 0)
        assert torch.equal(act.record(pre, None, scratch), pre > 0)
    else:
        out = torch.zeros_like(pre)
        assert act.record(pre, out) is out
        torch.testing.assert_close(out, act.deriv(pre), rtol=0, atol=0)
    rtol = 1e-13
    for rec in (recorded, out):
        torch.testing.assert_close(act.apply_recorded(u, rec), expected, rtol=rtol, atol=1e-15)
        v = u.clone()
        assert act.apply_recorded_(v, rec) is v
        torch.testing.assert_close(v, expected, rtol=rtol, atol=1e-15)


def test_relu_mask_from_the_activated_values():
    """ReLU: σ(pre) ≠ 0 exactly where pre > 0, taken from σ(pre), allocated or into `out`."""
    act = ACTIVATIONS["relu"]
    pre = _points()
    assert torch.equal(act.record_activated(act.fn(pre)), pre > 0)
    out = torch.ones_like(pre, dtype=torch.bool)
    assert act.record_activated(act.fn(pre), out) is out and torch.equal(out, pre > 0)


def test_leaky_relu_derivative_slope_is_exact_in_float64():
    act = ACTIVATIONS["leaky_relu"]
    pre = torch.tensor([-1.0, 2.0], dtype=F64)
    assert act.deriv(pre).tolist() == [LEAKY_SLOPE, 1.0]
    assert act.apply_recorded(torch.ones_like(pre), act.record(pre)).tolist() == [LEAKY_SLOPE, 1.0]
