"""The residual maps f (`dynamics.models`) against per-row formulas and torch.autograd, the fused
activation kernels against σ and σ', and the Euler and Heun schemes (`dynamics.schemes`):
their weight grids, their orders of convergence on dx/dt = A x (exact solution e^A x_0), and
the local error of their reverse steps."""

from __future__ import annotations

import math

import pytest
import torch

from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS, Network
from resnet_scale_cli.dynamics.schemes import SCHEMES, Euler, net_scheme
from resnet_scale_cli.experiments.training_passes import end_layer_lr_factor

F64 = torch.float64
D, R, d = 2, 3, 4


def draw(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    h, g_out = (torch.randn((D, R, d), generator=g, dtype=F64) for _ in range(2))
    V, W = (torch.randn((D, d, d), generator=g, dtype=F64) / math.sqrt(d) for _ in range(2))
    return h, g_out, V, W


def per_row_f(model: str, sigma, h, V, W):
    """f(h) = V σ(W h), V σ(h) or V h, one row at a time (column vectors)."""
    out = torch.empty_like(h)
    for i in range(h.shape[0]):
        for r in range(h.shape[1]):
            x = h[i, r].unsqueeze(1)
            z = W[i] @ x if model == "full" else x
            out[i, r] = (V[i] @ (z if model == "linear" else sigma(z))).squeeze(1)
    return out


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu"])
def test_residual_is_the_formula_and_vjp_is_autograd(model, activation):
    f, act = MODELS[model], ACTIVATIONS[activation]
    h, g_out, V, W = draw()
    W_arg = W if f.has_inner_weights else None
    expected = per_row_f(model, act.fn, h, V, W)
    assert torch.allclose(f.residual(act, h, V.mT, W_arg.mT if W_arg is not None else None), expected, atol=1e-13)

    hr, Vr, Wr = (t.clone().requires_grad_(True) for t in (h, V, W))
    (per_row_f(model, act.fn, hr, Vr, Wr) * g_out).sum().backward()
    grad_V, grad_W = torch.zeros_like(V), torch.zeros_like(W)
    grad_h = f.vjp(act, h, V, W_arg, g_out, grad_V, grad_W if W_arg is not None else None)
    assert torch.allclose(grad_h, hr.grad, atol=1e-12)
    assert torch.allclose(grad_V, Vr.grad, atol=1e-12)
    assert torch.allclose(grad_W, Wr.grad if f.has_inner_weights else torch.zeros_like(W), atol=1e-12)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_add_pullback_adds_e_through_w(model):
    f = MODELS[model]
    acc, e, _, W = draw(1)
    expected = acc + (e @ W if model == "full" else e)
    assert torch.allclose(f.add_pullback(acc, e, W if f.has_inner_weights else None), expected, atol=1e-14)
    in_place = acc.clone()
    assert f.add_pullback(in_place, e, W if f.has_inner_weights else None, out=in_place) is in_place
    assert torch.allclose(in_place, expected, atol=1e-14)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_fused_activation_kernels_are_sigma_and_its_derivative(activation):
    act = ACTIVATIONS[activation]
    z, g, _, _ = draw(2)
    assert torch.allclose(act.fn_into(z, torch.empty_like(z)), act.fn(z), atol=1e-15)
    assert torch.allclose(act.backward_(g.clone(), z, act.fn(z)), g * act.deriv(z), atol=1e-12)


def test_model_flags():
    assert [(m, MODELS[m].has_inner_weights, MODELS[m].nonlinear) for m in ("full", "simple", "linear")] == [
        ("full", True, True), ("simple", False, True), ("linear", False, False)]


def test_weight_grids_of_the_schemes():
    euler, heun = SCHEMES["euler"], SCHEMES["heun"]
    assert (net_scheme("resnet"), net_scheme("heunnet")) == (euler, heun)
    assert (euler.weight_layers(4), heun.weight_layers(4)) == (4, 5)
    assert euler.layer_times(4) == [0.25, 0.5, 0.75, 1.0]
    assert heun.layer_times(4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert (end_layer_lr_factor("heunnet", "gd", "depth"), end_layer_lr_factor("heunnet", "adam", "depth"),
            end_layer_lr_factor("resnet", "gd", "depth")) == (2.0, 1.0, 1.0)


def tied_linear(scheme: str, depth: int, A: torch.Tensor) -> Network:
    layers = SCHEMES[scheme].weight_layers(depth)
    return Network(A.expand(layers, *A.shape).unsqueeze(1).contiguous(), None, "linear", ACTIVATIONS["identity"],
                   layer_major=True)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_order_of_convergence_on_a_linear_ode(scheme):
    """x_N → e^A x_0 with error ∝ N^-order: the error ratio at N and 2N is about 2^order."""
    g = torch.Generator().manual_seed(3)
    A = torch.randn((d, d), generator=g, dtype=F64) / math.sqrt(d)
    x0 = torch.randn((1, 1, d), generator=g, dtype=F64)
    exact = x0 @ torch.linalg.matrix_exp(A).mT
    errors = []
    for depth in (32, 64):
        xN, _ = SCHEMES[scheme].forward(tied_linear(scheme, depth, A), x0, 1.0 / depth)
        errors.append((xN - exact).norm().item())
    assert errors[0] / errors[1] == pytest.approx(2.0 ** SCHEMES[scheme].order, rel=0.1)


@pytest.mark.parametrize("scheme, exponent", [("euler", 2), ("heun", 4)])
def test_reverse_step_undoes_the_step_to_local_order(scheme, exponent):
    """‖reverse(step(x)) − x‖ ∝ s^exponent (tied weights, a smooth f). A step of order p is the
    flow plus e(x) s^(p+1); the reverse step adds e(x) (−s)^(p+1): Euler's s² terms add up, Heun's
    s³ terms cancel and s⁴ is left."""
    h, _, V, W = draw(4)
    K = SCHEMES[scheme].weight_layers(1)
    net = Network(V.unsqueeze(0).expand(K, -1, -1, -1).contiguous(), W.unsqueeze(0).expand(K, -1, -1, -1).contiguous(),
                  "full", ACTIVATIONS["tanh"], layer_major=True)
    method, errors = SCHEMES[scheme], []
    for s in (0.02, 0.01):
        errors.append((method.reverse_step(net, method._step_func(net, h, 0, s), 0, s) - h).norm().item())
    assert math.log2(errors[0] / errors[1]) == pytest.approx(exponent, abs=0.2)


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("activation", ["tanh", "identity"])
def test_limit_step_adds_the_step_matrix_times_f(model, activation):
    """In place, also where f(x) = A x reads the very rows it updates (σ the identity)."""
    f, act = MODELS[model], ACTIVATIONS[activation]
    h, _, A, W = draw(5)
    h = h[:, :1].contiguous()
    expected = h + per_row_f(model, act.fn, h, A, W)
    Euler.step_(f, act, h, A, W if f.has_inner_weights else None)
    assert torch.allclose(h, expected, atol=1e-14)
