"""Memory-free backpropagation (dynamics.adjoint): exact gradients against torch.autograd and the
engine's reverse pass, the Euler and Heun steps and their reversals (eqs. 6–9) against a plain
per-layer float64 implementation written here, closed forms for tied linear weights, and the
order of convergence of the recovery."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resnet_scale_cli.dynamics import adjoint as A
from resnet_scale_cli.dynamics.schemes import SCHEMES
from resnet_scale_cli.dynamics.activations import ACTIVATIONS
from resnet_scale_cli.dynamics.recursion import Network, backward, forward

F64 = torch.float64
NP_ACT = {"tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2), "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "identity": (lambda z: z, lambda z: np.ones_like(z))}


def random_net(scheme, model, act="tanh", *, draws=3, depth=6, width=5, seed=0, device="cpu"):
    """A net with Gaussian weights (variance 1/d) of shape (draws, K, d, d), drawn on the CPU, on `device`."""
    g = torch.Generator().manual_seed(seed)
    layers = SCHEMES[scheme].weight_layers(depth)
    V = torch.randn((draws, layers, width, width), generator=g, dtype=F64) / math.sqrt(width)
    W = torch.randn((draws, layers, width, width), generator=g, dtype=F64) / math.sqrt(width) if model == "full" else None
    return Network(V.to(device), W.to(device) if W is not None else None, model, ACTIVATIONS[act])


def inputs(draws=3, rows=2, width=5, seed=1, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn((draws, rows, width), generator=g, dtype=F64).to(device),
            torch.randn((draws, rows, width), generator=g, dtype=F64).to(device))


# ----------------------------------------------------------------------------- plain float64 reference (numpy, one draw, one row)
def np_f(x, V, W, model, act):
    sigma = NP_ACT[act][0]
    if model == "linear":
        return V @ x
    return V @ sigma(W @ x if model == "full" else x)


def np_forward(x0, Vs, Ws, model, act, scheme, s):
    """Eq. 1 (Euler) or eq. 8 (Heun), layer by layer: the list x_0..x_N."""
    depth = len(Vs) - (1 if scheme == "heun" else 0)
    xs = [x0]
    for n in range(depth):
        x = xs[-1]
        u = np_f(x, Vs[n], Ws[n] if Ws is not None else None, model, act)
        if scheme == "euler":
            xs.append(x + s * u)
        else:
            y = x + s * u
            v = np_f(y, Vs[n + 1], Ws[n + 1] if Ws is not None else None, model, act)
            xs.append(x + s / 2 * (u + v))
    return xs


def np_reverse(xN, Vs, Ws, model, act, scheme, s):
    """Eq. 6 (reverse Euler) or eq. 9 (reverse Heun): the list x̃_0..x̃_N."""
    depth = len(Vs) - (1 if scheme == "heun" else 0)
    out = [xN]
    for n in reversed(range(depth)):
        x = out[0]
        if scheme == "euler":
            out.insert(0, x - s * np_f(x, Vs[n], Ws[n] if Ws is not None else None, model, act))
        else:
            g = np_f(x, Vs[n + 1], Ws[n + 1] if Ws is not None else None, model, act)
            y = x - s * g
            out.insert(0, x - s / 2 * (g + np_f(y, Vs[n], Ws[n] if Ws is not None else None, model, act)))
    return out


def _draw(net, i):
    Vs = net.layers_V[:, i].cpu().numpy()
    Ws = net.layers_W[:, i].cpu().numpy() if net.layers_W is not None else None
    return Vs, Ws


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("scheme", A.SCHEMES)
@pytest.mark.parametrize("model", ["full", "simple", "linear"])
def test_forward_matches_a_plain_float64_implementation(scheme, model, device):
    net = random_net(scheme, model, device=device)
    x0, _ = inputs(device=device)
    s = 1 / 6
    _, states = SCHEMES[scheme].forward(net, x0, s, store=True)
    for i in range(3):
        Vs, Ws = _draw(net, i)
        for r in range(2):
            ref = np_forward(x0[i, r].cpu().numpy(), Vs, Ws, model, "tanh", scheme, s)
            np.testing.assert_allclose(states[:, i, r].cpu().numpy(), np.array(ref), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("scheme", A.SCHEMES)
@pytest.mark.parametrize("model", ["full", "simple", "linear"])
def test_reverse_recovery_matches_a_plain_float64_implementation(scheme, model, device):
    net = random_net(scheme, model, depth=5, device=device)
    x0, y = inputs(device=device)
    s = 1 / 5
    recovered = {}
    grads = A.memory_free_gradients(net, scheme, x0, y, s, on_recovered=lambda n, x: recovered.__setitem__(n, x.clone()))
    for i in range(3):
        Vs, Ws = _draw(net, i)
        for r in range(2):
            xs = np_forward(x0[i, r].cpu().numpy(), Vs, Ws, model, "tanh", scheme, s)
            back = np_reverse(xs[-1], Vs, Ws, model, "tanh", scheme, s)
            np.testing.assert_allclose(grads.output[i, r].cpu().numpy(), xs[-1], rtol=1e-13)
            for n in range(5):
                np.testing.assert_allclose(recovered[n][i, r].cpu().numpy(), back[n], rtol=1e-12, atol=1e-14)


def _autograd(net, scheme, x0, y, s):
    """Gradients of ½‖x_N − y‖² by torch.autograd through the plain recursion (eqs. 1 and 8)."""
    V = net.layers_V.detach().clone().requires_grad_(True)
    W = net.layers_W.detach().clone().requires_grad_(True) if net.layers_W is not None else None
    x = x0.clone().requires_grad_(True)
    sigma = net.activation.fn

    def f(h, k):
        if net.model == "linear":
            return h @ V[k].mT
        pre = h @ W[k].mT if net.model == "full" else h
        return sigma(pre) @ V[k].mT

    h = x
    depth = net.depth - (1 if scheme == "heun" else 0)
    for n in range(depth):
        u = f(h, n)
        h = h + s * u if scheme == "euler" else h + s / 2 * (u + f(h + s * u, n + 1))
    loss = 0.5 * ((h - y) ** 2).sum()
    wanted = [x, V] + ([W] if W is not None else [])
    return torch.autograd.grad(loss, wanted)


@pytest.mark.parametrize("scheme", A.SCHEMES)
@pytest.mark.parametrize("model,act", [("full", "tanh"), ("full", "relu"), ("simple", "tanh"), ("linear", "tanh")])
def test_exact_gradients_agree_with_autograd(scheme, model, act, device):
    net = random_net(scheme, model, act, depth=7, device=device)
    x0, y = inputs(device=device)
    s = 1 / 7
    exact = A.exact_gradients(net, scheme, x0, y, s)
    ref = _autograd(net, scheme, x0, y, s)
    torch.testing.assert_close(exact.grad_input, ref[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(exact.grad_V, ref[1], rtol=1e-12, atol=1e-14)
    if model == "full":
        torch.testing.assert_close(exact.grad_W, ref[2], rtol=1e-12, atol=1e-14)
    assert exact.states.shape == (8, 3, 2, 5)


def test_exact_input_gradient_is_the_engines_reverse_pass(device):
    """For the ResNet, ∂ℓ/∂x_0 = (∂x_N/∂x_0)ᵀ (x_N − y): the engine's exact reverse pass gives it."""
    net = random_net("euler", "full", "relu", depth=9, device=device)
    x0, y = inputs(device=device)
    s = 1 / 9
    exact = A.exact_gradients(net, "euler", x0, y, s)
    scales = torch.full((2,), s, dtype=F64, device=device)
    net_rows = Network(net.layers_V, net.layers_W, "full", net.activation, layer_major=True)
    fwd = forward(net_rows, x0, scales, 2, carry_log_norms=False, record_masks=True)
    torch.testing.assert_close(fwd.x, exact.output, rtol=1e-13, atol=1e-14)
    p0, exps = backward(net_rows, fwd, exact.output - y, scales, carry_log_norms=False)
    assert int(exps.abs().max()) == 0
    torch.testing.assert_close(p0, exact.grad_input, rtol=1e-12, atol=1e-14)


def test_gradient_buffers_are_zeroed_and_reused(device):
    net = random_net("heun", "full", device=device)
    x0, y = inputs(device=device)
    out = A.gradient_buffers(net)
    out[0].fill_(7.0)
    first = A.exact_gradients(net, "heun", x0, y, 0.2, out=out)
    again = A.exact_gradients(net, "heun", x0, y, 0.2)
    assert first.grad_V is out[0]
    torch.testing.assert_close(first.grad_V, again.grad_V, rtol=0, atol=0)


# ----------------------------------------------------------------------------- closed forms: tied weights, linear f
def _tied_linear(depth: int, width: int, scheme: str, seed: int = 3, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn((width, width), generator=g, dtype=F64) / math.sqrt(width)
    V = M.expand(1, SCHEMES[scheme].weight_layers(depth), width, width).clone()
    return M.numpy(), Network(V.to(device), None, "linear", ACTIVATIONS["identity"])


@pytest.mark.parametrize("scheme", A.SCHEMES)
def test_tied_linear_recovery_has_its_closed_form(scheme, device):
    """x_{n+1} = P x_n and x̃_n = Q x̃_{n+1} with P = I + sV (+ s²V²/2 for Heun) and Q = I − sV
    (+ s²V²/2): x̃_n − x_n = ((QP)^{N−n} − I) x_n, i.e. (I − s²V²)^{N−n} − I for Euler and
    (I + s⁴V⁴/4)^{N−n} − I for Heun. The θ-gradient error is Σ_n s a_{n+1} (x̃_n − x_n)ᵀ
    (Euler) and ∂ℓ/∂x_0 is exact (a linear f's backward reads no activation)."""
    depth, width = 12, 4
    M, net = _tied_linear(depth, width, scheme, device=device)
    s = 1 / depth
    eye = np.eye(width)
    x0, y = inputs(draws=1, rows=1, width=width, seed=5, device=device)
    recovered = {}
    free = A.memory_free_gradients(net, scheme, x0, y, s,
                                   on_recovered=lambda n, x: recovered.__setitem__(n, x[0, 0].cpu().numpy().copy()))
    exact = A.exact_gradients(net, scheme, x0, y, s)
    P = eye + s * M + (s * s / 2 * M @ M if scheme == "heun" else 0)
    QP = eye - s * s * M @ M if scheme == "euler" else eye + s**4 / 4 * np.linalg.matrix_power(M, 4)
    xs = [x0[0, 0].cpu().numpy()]
    for _ in range(depth):
        xs.append(P @ xs[-1])
    for n in range(depth):
        expected = (np.linalg.matrix_power(QP, depth - n) - eye) @ xs[n]
        np.testing.assert_allclose(recovered[n] - xs[n], expected, rtol=1e-8, atol=1e-15)
    torch.testing.assert_close(free.grad_input, exact.grad_input, rtol=1e-13, atol=1e-15)
    if scheme == "euler":
        a = [None] * (depth + 1)
        a[depth] = xs[depth] - y[0, 0].cpu().numpy()
        for n in reversed(range(depth)):
            a[n] = P.T @ a[n + 1]
        for n in range(depth):
            diff = s * np.outer(a[n + 1], recovered[n] - xs[n])
            np.testing.assert_allclose((free.grad_V[n, 0] - exact.grad_V[n, 0]).cpu().numpy(), diff, rtol=1e-7, atol=1e-17)


@pytest.mark.parametrize("v", [0.5, 1.5])
def test_scalar_tied_linear_errors_in_closed_form(v, device):
    """d = 1, V = v: the relative recovery error is exactly 1 − (1 − v²/N²)^N ≈ v²/N (Euler) and
    (1 + v⁴/(4N⁴))^N − 1 ≈ v⁴/(4N³) (Heun): orders 1 and 3."""
    for depth in (8, 64):
        for scheme, closed in (("euler", 1 - (1 - v * v / depth**2) ** depth), ("heun", (1 + v**4 / (4 * depth**4)) ** depth - 1)):
            net = Network(torch.full((1, SCHEMES[scheme].weight_layers(depth), 1, 1), v, dtype=F64, device=device), None,
                          "linear", ACTIVATIONS["identity"])
            x0 = torch.ones((1, 1, 1), dtype=F64, device=device)
            _, states = SCHEMES[scheme].forward(net, x0, 1 / depth, store=True)
            worst = []
            A.memory_free_gradients(net, scheme, x0, torch.zeros_like(x0), 1 / depth,
                                    on_recovered=lambda n, x: worst.append(abs(float(x - states[n]) / float(states[n]))))
            assert max(worst) == pytest.approx(closed, rel=1e-6)


# ----------------------------------------------------------------------------- order of the recovery with smooth weights
def _smooth_path(depth: int, layers: int, width: int, draws: int, seed: int, device="cpu") -> torch.Tensor:
    """θ_n = θ(n/N), θ(t) = A + t B + sin(2πt) C with fixed Gaussian A, B, C (variance 1/d): the
    same smooth function of depth at every N, so only the step changes with N. (K, D, d, d)."""
    g = torch.Generator().manual_seed(seed)
    A_, B_, C_ = (torch.randn((draws, width, width), generator=g, dtype=F64) / math.sqrt(width) for _ in range(3))
    t = (torch.arange(layers, dtype=F64) / depth).view(-1, 1, 1, 1)
    return (A_ + t * B_ + torch.sin(2 * math.pi * t) * C_).to(device)


def _recovery(scheme: str, depth: int, draws: int = 3, width: int = 8, device="cpu") -> np.ndarray:
    layers = SCHEMES[scheme].weight_layers(depth)
    net = Network(_smooth_path(depth, layers, width, draws, 1, device), _smooth_path(depth, layers, width, draws, 2, device),
                  "full", ACTIVATIONS["tanh"], layer_major=True)
    x0, y = inputs(draws=draws, rows=1, width=width, seed=3, device=device)
    _, states = SCHEMES[scheme].forward(net, x0, 1 / depth, store=True)
    worst = torch.zeros(draws, dtype=F64, device=device)
    A.memory_free_gradients(net, scheme, x0, y, 1 / depth, on_recovered=lambda n, x: torch.maximum(
        worst, (x - states[n]).norm(dim=(-2, -1)) / states[n].norm(dim=(-2, -1)), out=worst))
    return worst.cpu().numpy()


@pytest.mark.parametrize("scheme,low,high", [("euler", 0.95, 1.05), ("heun", 2.9, 3.1)])
def test_recovery_converges_at_the_expected_order_with_smooth_weights(scheme, low, high, device):
    """The same smooth weight function at N = 64 and 256 (per draw). Reverse Euler: the step and
    its reversal compose to x − s² J f + O(s³), which does not cancel: order 1 (the bound).
    Reverse Heun: a second-order step composed with its reversal leaves x + O(s³ Δ-terms + s⁴)
    (their s³ error terms have opposite signs), so with Δ = O(1/N) the order is 3, faster than
    the paper's bound 2 (measured 3.00 at N = 16..1024)."""
    errors = [_recovery(scheme, n, device=device) for n in (64, 256)]
    order = np.log(errors[0] / errors[1]) / math.log(4)
    assert np.all((low < order) & (order < high)), order


def test_smoothness_is_the_largest_increment_across_depth(device):
    net = random_net("heun", "full", draws=2, depth=4, device=device)
    V, W = net.layers_V.cpu().numpy(), net.layers_W.cpu().numpy()
    for i in range(2):
        expected = max(math.sqrt(np.sum((V[k + 1, i] - V[k, i]) ** 2) + np.sum((W[k + 1, i] - W[k, i]) ** 2)) for k in range(4))
        assert float(A.smoothness(net)[i]) == pytest.approx(expected, rel=1e-12)
    _, tied = _tied_linear(5, 3, "euler", device=device)
    assert float(A.smoothness(tied)[0]) == 0.0
