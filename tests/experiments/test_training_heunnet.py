"""`rscale train --net heunnet`: the HeunNet (N + 1 weight layers θ_0..θ_N, Heun steps) beside the
ResNet. Gradients of both nets' passes against torch.autograd through per-layer loops written
here (float64); the memory-free adjoint's error against depth (rate 1 for the ResNet, 2 or better
for the HeunNet with smooth weights); the trapezoid step of the end layers; the initial weights'
layer times; records; theory.

Expected values come from torch.autograd, closed forms or loops written here, never from the
function under test.
"""

import math

import numpy as np
import pytest
import torch

from resnet_scale_cli.dynamics import ACTIVATIONS
from resnet_scale_cli.dynamics.gradients import NETS as ADJOINT_NETS
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments import training
from resnet_scale_cli.experiments.training import (
    TrainSpec, load_checkpoint, load_dataset, measure_training_cell, run_training,
)
from resnet_scale_cli.experiments.training_engine import loss_and_grad
from resnet_scale_cli.experiments.training_passes import make_passes
from resnet_scale_cli.experiments.training_spec import NETS

F64 = torch.float64
#: σ written with torch directly (the reference does not use the package's activations)
TORCH_ACT = {"gelu": torch.nn.functional.gelu, "tanh": torch.tanh, "identity": lambda z: z}
SMALL = dict(width=8, n_examples=8, n_test=16, samples=2, device="cpu", track_points=4)


# --------------------------------------------------------------------------- settings
def test_nets_are_those_of_rscale_adjoint_and_an_unknown_net_is_refused():
    assert NETS == tuple(ADJOINT_NETS) == ("resnet", "heunnet")
    assert TrainSpec().net == "resnet" and TrainSpec().to_dict()["net"] == "resnet"
    with pytest.raises(SpecError) as info:
        TrainSpec(net="densenet")
    assert "--net" in str(info.value) and "heunnet" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- reference (autograd)
def _residual(h, V, W, model, act):
    """f(h, θ) in row form: V σ(W h), V σ(h) or V h."""
    if model == "linear":
        return h @ V.mT
    pre = h @ W.mT if model == "full" else h
    return TORCH_ACT[act](pre) @ V.mT


def _reference_output(net, V, W, h0, model, act, s):
    """h_N by a plain loop: Euler over θ_0..θ_{N−1}, or Heun over θ_0..θ_N (eq. 8)."""
    steps = V.shape[0] - (1 if net == "heunnet" else 0)
    h = h0
    for n in range(steps):
        u = _residual(h, V[n], W[n] if W is not None else None, model, act)
        if net == "resnet":
            h = h + s * u
        else:
            v = _residual(h + s * u, V[n + 1], W[n + 1] if W is not None else None, model, act)
            h = h + (s / 2) * (u + v)
    return h


def _reference_loss(net, V, W, h0, B, y, task, model, act, s):
    """Σ over networks of each one's loss (mean squared error or mean cross-entropy)."""
    F = _reference_output(net, V, W, h0, model, act, s) @ B.mT  # (S, n, q)
    if task == "regression":
        return ((F - y) ** 2).mean(dim=(1, 2)).sum()
    return sum(torch.nn.functional.cross_entropy(F[i], y) for i in range(F.shape[0]))


def _autograd(net, V, W, h0, B, y, task, model, act, s):
    Vr = V.clone().requires_grad_(True)
    Wr = W.clone().requires_grad_(True) if W is not None else None
    loss = _reference_loss(net, Vr, Wr, h0, B, y, task, model, act, s)
    grads = torch.autograd.grad(loss, [Vr] + ([Wr] if Wr is not None else []))
    return loss.detach(), grads[0], (grads[1] if W is not None else None)


def _passes_gradients(net, backprop, V, W, h0, B, y, task, model, act, s):
    """The training's passes (`training_passes`), as the training loop calls them."""
    S, n, d = h0.shape
    m = V.shape[-1]
    passes = make_passes(net, model, ACTIVATIONS[act], s, (V.shape[0], S, n, d, m), F64, torch.device("cpu"))
    h = passes.forward(V, W, h0, store=backprop == "exact")
    loss, g_F = loss_and_grad(task, torch.bmm(h, B.mT), y)
    p_last = torch.bmm(g_F, B)
    grads = passes.exact(p_last) if backprop == "exact" else passes.adjoint(h, p_last)
    return loss.sum(), grads, passes


def _random_problem(net, depth, model, m, task, seed=0, S=2, n=7, d=4, q=3):
    g = torch.Generator().manual_seed(seed)
    K = depth + (1 if net == "heunnet" else 0)
    m = m if model == "full" else d
    V = torch.randn((K, S, d, m), generator=g, dtype=F64) / math.sqrt(m)
    W = torch.randn((K, S, m, d), generator=g, dtype=F64) / math.sqrt(d) if model == "full" else None
    h0 = torch.randn((S, n, d), generator=g, dtype=F64)
    B = torch.randn((S, q, d), generator=g, dtype=F64)
    y = torch.randn((n, q), generator=g, dtype=F64) if task == "regression" else torch.randint(0, q, (n,), generator=g)
    return V, W, h0, B, y


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("model, act, m", [("full", "gelu", 5), ("full", "tanh", 3), ("simple", "gelu", 4),
                                           ("linear", "identity", 4)])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_exact_backprop_is_autograd(net, model, act, m, task):
    """Exact backprop (ResNet: the engine's fused passes; HeunNet: states stored, y_n recomputed)
    equals autograd through the loop above to rounding (float64, 6 layers: 1e-10 relative)."""
    depth, s = 6, 1 / 6
    V, W, h0, B, y = _random_problem(net, depth, model, m, task)
    loss, grads, _ = _passes_gradients(net, "exact", V, W, h0, B, y, task, model, act, s)
    ref_loss, ref_V, ref_W = _autograd(net, V, W, h0, B, y, task, model, act, s)
    assert grads[0].shape == V.shape == (depth + (net == "heunnet"), 2, 4, V.shape[-1])
    assert torch.allclose(loss, ref_loss, rtol=1e-12, atol=1e-12)
    assert torch.allclose(grads[0], ref_V, rtol=1e-10, atol=1e-12)
    if model == "full":
        assert torch.allclose(grads[1], ref_W, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("net", NETS)
def test_evaluation_is_the_reference_forward(net):
    V, W, h0, B, y = _random_problem(net, 9, "full", 5, "regression")
    _, _, passes = _passes_gradients(net, "exact", V, W, h0, B, y, "regression", "full", "tanh", 1 / 9)
    expected = _reference_output(net, V, W, h0, "full", "tanh", 1 / 9)
    assert torch.allclose(passes.evaluate(V, W, h0), expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- the adjoint's error against depth
def _smooth_weights(net, depth, law, S=2, d=4, seed=0):
    """θ at the net's layer times t (ResNet k/N, k = 1..N; HeunNet n/N, n = 0..N): tied (one θ)
    or smooth, θ(t) = θ_a cos(π t) + θ_b sin(π t)."""
    g = torch.Generator().manual_seed(seed)
    a = [torch.randn((S, d, d), generator=g, dtype=F64) / math.sqrt(d) for _ in range(4)]
    times = torch.arange(depth + 1, dtype=F64) if net == "heunnet" else torch.arange(1, depth + 1, dtype=F64)
    t = (times / depth).view(-1, 1, 1, 1)
    if law == "tied":
        K = t.shape[0]
        return a[0].expand(K, S, d, d).contiguous(), a[1].expand(K, S, d, d).contiguous()
    return a[0] * torch.cos(math.pi * t) + a[2] * torch.sin(math.pi * t), a[1] * torch.cos(math.pi * t) + a[3] * torch.sin(math.pi * t)


def _adjoint_error(net, depth, law):
    """‖g_adjoint − g_autograd‖ / ‖g_autograd‖ over (V, W) together, full model, GELU, s = 1/N."""
    V, W = _smooth_weights(net, depth, law)
    g = torch.Generator().manual_seed(1)
    h0 = torch.randn((2, 6, 4), generator=g, dtype=F64)
    B = torch.randn((2, 2, 4), generator=g, dtype=F64) / 2
    y = torch.randn((6, 2), generator=g, dtype=F64)
    _, approx, _ = _passes_gradients(net, "adjoint", V, W, h0, B, y, "regression", "full", "gelu", 1 / depth)
    _, ref_V, ref_W = _autograd(net, V, W, h0, B, y, "regression", "full", "gelu", 1 / depth)
    num = (approx[0] - ref_V).square().sum() + (approx[1] - ref_W).square().sum()
    return float((num / (ref_V.square().sum() + ref_W.square().sum())).sqrt())


DEPTHS = (8, 16, 32, 64, 128)


def _slope(net, law):
    errors = [_adjoint_error(net, N, law) for N in DEPTHS]
    return float(np.polyfit(np.log(DEPTHS), np.log(errors), 1)[0]), errors


@pytest.mark.slow
@pytest.mark.parametrize("law", ["tied", "smooth"])
def test_adjoint_error_rate_is_one_for_the_resnet_and_two_or_better_for_the_heunnet(law):
    """Paper (Sander, Ablin & Peyré): reverse Euler recovers the activations with error O(1/N)
    whatever the weights; reverse Heun with error O(Δ/N + 1/N²), Δ = max_n ‖θ_{n+1} − θ_n‖ = O(1/N)
    for tied or smooth weights, so O(1/N²) (a bound: here the round trip's s³ terms cancel and the
    measured rate is ≈ 3). The gradient error follows the activations' error.

    Slopes of log error against log N over N = 8..128: the ResNet's must be −1 within 0.15 (the
    O(1/N²) correction moves a five-point slope by well under that: measured −1.01 and −1.03),
    the HeunNet's −1.8 or steeper (the bound's rate 2 less 0.2 for finite-N curvature; measured
    about −3). And the adjoint is not exact: the ResNet's error at N = 8 is of order one per cent."""
    resnet, resnet_errors = _slope("resnet", law)
    heunnet, heun_errors = _slope("heunnet", law)
    assert -1.15 < resnet < -0.85, (resnet, resnet_errors)
    assert heunnet < -1.8, (heunnet, heun_errors)
    assert resnet_errors[0] > 1e-3 and heun_errors[0] > 1e-8  # approximate, not exact
    assert all(h < r for h, r in zip(heun_errors, resnet_errors))


# --------------------------------------------------------------------------- the trapezoid step of the end layers
def _one_step(tmp_path, **changes):
    """One training step in float64; returns (spec, checkpoint) with θ(0) and θ(1)."""
    spec = TrainSpec(**{**SMALL, "net": "heunnet", "law": "rbf", "lengthscale": 0.5, "steps": 1, "samples": 1,
                        "dtype": "float64", **changes})
    measure_training_cell(spec, 6, checkpoint_dir=tmp_path)
    return spec, load_checkpoint(tmp_path / "train-L6.pt")


@pytest.mark.parametrize("optimizer, lr_scaling, end", [("gd", "depth", 2.0), ("gd", "none", 1.0)])
def test_gd_step_doubles_the_end_layers_under_depth_scaling(tmp_path, optimizer, lr_scaling, end):
    """θ_n(1) = θ_n(0) − η c_N ∂ℓ/∂θ_n / w_n with trapezoid weights w_0 = w_N = 1/2, w_n = 1
    (c_N = N at β = 1) under depth scaling; plain gradient descent (c_N = 1, w_n = 1) without.
    The gradient comes from autograd through the loop above, at the checkpoint's θ(0), A, B."""
    spec, ck = _one_step(tmp_path, optimizer=optimizer, lr_scaling=lr_scaling)
    data = load_dataset(spec).to(torch.device("cpu"), F64)
    h0 = torch.matmul(data.x_train, ck["A"].mT)
    _, g_V, g_W = _autograd("heunnet", ck["V0"], ck["W0"], h0, ck["B"], data.y_train, "regression", "full", "gelu", 1 / 6)
    weights = torch.ones(7, dtype=F64).view(-1, 1, 1, 1)
    weights[0] = weights[-1] = 1 / end
    c = 6.0 if lr_scaling == "depth" else 1.0
    assert torch.allclose(ck["V"], ck["V0"] - 0.05 * c * g_V / weights, rtol=1e-10, atol=1e-13)
    assert torch.allclose(ck["W"], ck["W0"] - 0.05 * c * g_W / weights, rtol=1e-10, atol=1e-13)


def test_recorded_end_layer_factor_and_layers():
    spec = TrainSpec(**{**SMALL, "net": "heunnet", "steps": 2})
    info = measure_training_cell(spec, 8)["info"]
    assert info["net"] == "heunnet" and info["weight_layers"] == 9 and info["end_layer_lr_factor"] == 2.0
    assert info["lr_effective"] == pytest.approx(0.05 * 8)
    adam = measure_training_cell(spec.replace(optimizer="adam", lr=0.01), 8)["info"]
    assert adam["end_layer_lr_factor"] == 1.0
    resnet = measure_training_cell(spec.replace(net="resnet"), 8)["info"]
    assert resnet["net"] == "resnet" and resnet["weight_layers"] == 8 and resnet["end_layer_lr_factor"] == 1.0


def _end_and_interior_increments(tmp_path, monkeypatch, factor):
    """Tied θ(0), 40 gd steps at N = 16: ‖θ_1 − θ_0‖ and the largest interior ‖θ_{n+1} − θ_n‖."""
    if factor is not None:
        monkeypatch.setattr(training, "end_layer_lr_factor", lambda *args: factor)
    spec = TrainSpec(**{**SMALL, "net": "heunnet", "steps": 40, "samples": 1})
    measure_training_cell(spec, 16, checkpoint_dir=tmp_path)
    V = load_checkpoint(tmp_path / "train-L16.pt")["V"][:, 0]
    inc = (V[1:] - V[:-1]).flatten(1).norm(dim=1)
    return float(inc[0]), float(inc[1:-1].max())


@pytest.mark.slow
def test_without_the_doubled_end_step_training_opens_a_gap_at_the_ends(tmp_path, monkeypatch):
    """Tied θ(0): every layer starts equal. With the trapezoid step, θ_0 moves like θ_1 and the end
    increment is of the interior ones' order (O(1/N)); with a plain step θ_0 moves half as far, so
    ‖θ_1 − θ_0‖ ≈ ½ ‖θ_1(t) − θ_1(0)‖, of order one, many times the interior increments."""
    end, interior = _end_and_interior_increments(tmp_path / "a", monkeypatch, None)
    assert end < 2 * interior, (end, interior)
    end, interior = _end_and_interior_increments(tmp_path / "b", monkeypatch, 1.0)
    assert end > 5 * interior, (end, interior)


# --------------------------------------------------------------------------- initial weights and records
def test_rbf_weights_are_the_path_at_the_times_n_over_n(tmp_path):
    """HeunNet, N = 4, ℓ = 0.5: θ_0..θ_4 at t = n/4, so the lag-one correlation of each entry is
    exp(−(1/4)²/(2ℓ²)) = 0.8825 (not 0.9231 of the spacing 1/(N + 1)); 4 096 entries: standard
    error ≈ (1 − ρ²)/√4096 ≈ 0.004, and 4 lags averaged."""
    spec = TrainSpec(**{**SMALL, "net": "heunnet", "law": "rbf", "lengthscale": 0.5, "width": 64, "steps": 1,
                        "samples": 1, "dtype": "float64"})
    measure_training_cell(spec, 4, checkpoint_dir=tmp_path)
    V0 = load_checkpoint(tmp_path / "train-L4.pt")["V0"][:, 0].flatten(1)  # (5, 4096)
    assert V0.shape[0] == 5
    V0 = V0 / V0.std()
    rho = float((V0[1:] * V0[:-1]).mean(dim=1).mean() / V0.square().mean())
    assert rho == pytest.approx(math.exp(-(1 / 4) ** 2 / (2 * 0.5**2)), abs=0.012)


def test_heunnet_record_has_n_plus_one_layers_at_their_times():
    spec = TrainSpec(**{**SMALL, "net": "heunnet", "law": "tied", "steps": 10})
    record = measure_training_cell(spec, 4)
    snaps = record["snapshots"]
    assert snaps["k_over_L"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert len(snaps["V"][0][0]) == 5 and np.ptp(snaps["V"][0][0]) == 0.0  # tied: constant before training
    assert record["history"]["max_increment"]["overall"][0] == [0.0, 0.0]
    assert record["values"]["adjoint_gradient_error"] is None
    assert "k = 0..N" in record["info"]["trained"]


@pytest.mark.slow
def test_heunnet_with_the_adjoint_trains_and_reports_a_small_error():
    spec = TrainSpec(**{**SMALL, "width": 16, "n_examples": 16, "net": "heunnet", "backprop": "adjoint", "steps": 60})
    row = run_training(spec.replace(depths=(16,)))["results"][0]
    assert row["info"]["backprop"] == "adjoint" and row["diverged"] == 0
    for before, after in zip(row["values"]["initial_loss"], row["values"]["final_loss"]):
        assert after < 0.5 * before, (before, after)
    # tied weights, N = 16: reverse Heun's gradient error is far below reverse Euler's (0.02–0.04 for --net resnet)
    assert all(0.0 < e < 1e-3 for e in row["values"]["adjoint_gradient_error"])


def test_theory_for_the_heunnet_is_a_first_order_argument():
    theory = training.training_theory(TrainSpec(net="heunnet"))
    assert theory["value"] == -1.0 and theory["basis"].startswith("first-order argument")
    assert training.training_theory(TrainSpec(net="heunnet", law="iid"))["value"] is None
    assert training.training_theory(TrainSpec(net="heunnet", optimizer="adam"))["value"] is None
    assert training.training_theory(TrainSpec(net="resnet"))["basis"].startswith("theorem")


@pytest.mark.slow
@pytest.mark.parametrize("law, changes", [("tied", {}), ("rbf", {"lengthscale": 0.5})])
def test_heunnet_stays_smooth_with_exponent_minus_one(law, changes):
    """As for the ResNet (test_training.py): synthetic task, d = m = n = 16 (PL regime), 60 gd
    steps, 6 seeds shared across depths; the first-order argument's −1 inside the interval and
    every pairwise slope within 0.1 of it."""
    spec = TrainSpec(**{**SMALL, "width": 16, "n_examples": 16, "n_test": 32, "net": "heunnet", "law": law,
                        "depths": (16, 32, 64, 128), "samples": 6, "steps": 60, **changes})
    exp = run_training(spec)["exponent"]
    assert exp["theory"] == -1.0 and exp["basis"].startswith("first-order argument")
    lo, hi = exp["interval"]
    assert lo <= -1.0 <= hi and hi - lo < 0.3, exp
    assert all(-1.1 < p["slope"] < -0.9 for p in exp["pairwise"]), exp["pairwise"]
