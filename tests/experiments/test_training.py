"""Tests of `rscale train` (resnet_scale_cli.experiments.training).

Expected values come from closed forms, torch.autograd, plain per-layer loops written here, or
the engine's own forward pass; never from the function under test.
"""

import json
import math

import numpy as np
import pytest
import torch

from resnet_scale_cli import dynamics
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments import training
from resnet_scale_cli.experiments.training import (
    TrainSpec, load_checkpoint, measure_training_cell, run_training, save_checkpoint, summarize_training,
)
from resnet_scale_cli.experiments.training_engine import (
    Optimizer, Workspace, backward_store, depth_lr_factor, forward_eval, forward_store, loss_and_grad, max_increments,
)

SMALL = dict(width=16, n_examples=16, n_test=32, samples=4, steps=100, device="cpu", track_points=8)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("changes, flag", [
    (dict(lr=0.0), "--lr"),
    (dict(lr=-1.0), "--lr"),
    (dict(data="cifar"), "--data"),
    (dict(steps=0), "--steps"),
    (dict(backprop="magic"), "--backprop"),
    (dict(depths=(1, 8)), "--depth"),
    (dict(depths="8,x"), "--depth"),
    (dict(optimizer="gd", batch_size=8), "--batch-size"),
    (dict(optimizer="sgd", batch_size=64, n_examples=32), "--batch-size"),
    (dict(data="digits", n_examples=1700, n_test=200), "--n-examples"),
    (dict(model="simple", hidden=8), "--hidden"),
    (dict(law="nope"), "--law"),
    (dict(activation="swish"), "--activation"),
    (dict(samples=0), "--samples"),
    (dict(lr=float("nan")), "--lr"),
])
def test_bad_inputs_raise_spec_error_naming_the_flag(changes, flag):
    with pytest.raises(SpecError) as info:
        TrainSpec(**changes)
    assert flag in str(info.value)
    assert "\n" not in str(info.value)


def test_depth_grid_strings_are_parsed():
    assert TrainSpec(depths="8:64:4:log").depths == (8, 16, 32, 64)
    assert TrainSpec(depths=[16, 8]).depths == (8, 16)
    assert json.loads(json.dumps(TrainSpec().to_dict()))["depths"] == [8, 16, 32, 64]


# --------------------------------------------------------------------------- passes
def _reference_loss(V, W, A_h0, B, y, task, model, act, scale):
    """Plain per-network, per-layer float64 loop, differentiated by torch.autograd.

    The independent reference: it resembles the engine's `autograd_gradients`, which is not used
    here because it computes the loss with `loss_and_grad`, one of the functions under test."""
    S = V.shape[1]
    total = 0.0
    for s in range(S):
        h = A_h0[s]
        for k in range(V.shape[0]):
            if model == "linear":
                a = h
            elif model == "simple":
                a = act.fn(h)
            else:
                a = act.fn(h @ W[k, s].T)
            h = h + scale * (a @ V[k, s].T)
        F = h @ B[s].T
        if task == "regression":
            total = total + ((F - y) ** 2).mean()
        else:
            total = total + torch.nn.functional.cross_entropy(F, y)
    return total


@pytest.mark.parametrize("model, activation, m", [
    ("full", "gelu", 5), ("full", "tanh", 3), ("full", "relu", 4), ("full", "leaky_relu", 4), ("full", "identity", 4),
    ("simple", "gelu", 4), ("simple", "tanh", 4), ("linear", "gelu", 4),
])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_gradients_agree_with_autograd(model, activation, m, task):
    torch.manual_seed(0)
    f64 = torch.float64
    L, S, n, d, q = 6, 2, 7, 4, 3
    m = m if model == "full" else d
    act = dynamics.ACTIVATIONS[activation]
    scale = L ** -1.0
    V = torch.randn(L, S, d, m, dtype=f64) / math.sqrt(m)
    W = torch.randn(L, S, m, d, dtype=f64) / math.sqrt(d) if model == "full" else None
    h0 = torch.randn(S, n, d, dtype=f64)
    B = torch.randn(S, q, d, dtype=f64)
    y = torch.randn(n, q, dtype=f64) if task == "regression" else torch.randint(0, q, (n,))

    ws = Workspace(L, S, n, d, m, model, f64, "cpu")
    hL = forward_store(ws, V * scale, W, act, h0)
    loss, g_F = loss_and_grad(task, torch.bmm(hL, B.mT), y)
    gV, gW = backward_store(ws, V * scale, W, act, torch.bmm(g_F, B), scale)

    Vr = V.clone().requires_grad_(True)
    Wr = W.clone().requires_grad_(True) if W is not None else None
    ref = _reference_loss(Vr, Wr, h0, B, y, task, model, act, scale)
    refs = torch.autograd.grad(ref, [Vr] + ([Wr] if Wr is not None else []))
    assert torch.allclose(loss.sum(), ref.detach(), rtol=1e-12, atol=1e-12)
    assert torch.allclose(gV, refs[0], rtol=1e-10, atol=1e-12)
    if model == "full":
        assert torch.allclose(gW, refs[1], rtol=1e-10, atol=1e-12)
    assert torch.allclose(forward_eval(V * scale, W, model, act, h0), hL, rtol=1e-12, atol=1e-12)


def test_forward_is_the_engine_recursion():
    """Square weights: the training forward equals dynamics.forward_direct (the engine's model)."""
    torch.manual_seed(1)
    L, S, n, d = 9, 3, 5, 6
    V = torch.randn(L, S, d, d, dtype=torch.float64) / math.sqrt(d)
    W = torch.randn(L, S, d, d, dtype=torch.float64) / math.sqrt(d)
    h0 = torch.randn(S, n, d, dtype=torch.float64)
    act = dynamics.ACTIVATIONS["tanh"]
    net = dynamics.Network(V, W, "full", act, layer_major=True)
    expected = dynamics.forward_direct(net, h0, torch.full((n,), L ** -1.0, dtype=torch.float64))
    ws = Workspace(L, S, n, d, d, "full", torch.float64, "cpu")
    assert torch.allclose(forward_store(ws, V / L, W, act, h0), expected, rtol=1e-12, atol=1e-12)


def test_max_increments_is_a_true_maximum_over_layers():
    torch.manual_seed(2)
    V, W = torch.randn(7, 3, 4, 5), torch.randn(7, 3, 5, 4)
    joint, only_v, only_w = max_increments(V, W)
    for s in range(3):
        dv = [torch.linalg.matrix_norm(V[k + 1, s] - V[k, s]).item() for k in range(6)]
        dw = [torch.linalg.matrix_norm(W[k + 1, s] - W[k, s]).item() for k in range(6)]
        assert only_v[s].item() == pytest.approx(max(dv), rel=1e-5)
        assert only_w[s].item() == pytest.approx(max(dw), rel=1e-5)
        assert joint[s].item() == pytest.approx(max(math.hypot(a, b) for a, b in zip(dv, dw)), rel=1e-5)


def test_gd_step_is_rescaled_gradient_flow():
    """θ_k ← θ_k − η L ∂ℓ/∂θ_k at β = 1 (the factor L^{2β−1} in general); dead networks stay."""
    assert depth_lr_factor(64, 1.0, "depth") == 64.0
    assert depth_lr_factor(64, 0.5, "depth") == 1.0
    assert depth_lr_factor(64, 1.0, "none") == 1.0
    torch.manual_seed(3)
    theta = torch.randn(8, 2, 3, 3)
    grad = torch.randn(8, 2, 3, 3)
    grad[:, 1] = float("nan")
    before = theta.clone()
    Optimizer("gd", 0.05 * depth_lr_factor(8, 1.0, "depth"), [theta]).step([theta], [grad], torch.tensor([True, False]))
    assert torch.allclose(theta[:, 0], before[:, 0] - 0.05 * 8 * grad[:, 0])
    assert torch.equal(theta[:, 1], before[:, 1])


def test_recorded_lr_and_time_horizon():
    spec = TrainSpec(**{**SMALL, "steps": 3, "samples": 1})
    info = measure_training_cell(spec, 16)["info"]
    assert info["lr_effective"] == pytest.approx(0.05 * 16)
    assert info["time_horizon"] == pytest.approx(0.05 * 3)
    assert "A" in info["fixed"] and "B" in info["fixed"]


# --------------------------------------------------------------------------- training
def test_training_lowers_the_loss_synthetic():
    spec = TrainSpec(**{**SMALL, "samples": 2, "steps": 200})
    record = measure_training_cell(spec, 16)
    initial, final = record["values"]["initial_loss"], record["values"]["final_loss"]
    # fixed seed: initial losses 2.77 and 0.96; after 200 steps in the PL regime (m = 16 ≥ n = 16)
    # gradient descent has nearly interpolated
    for a, b in zip(initial, final):
        assert b < 0.02 * a
    assert record["diverged"] == 0
    assert record["history"]["steps"][0] == 0 and record["history"]["steps"][-1] == 200


def test_training_learns_digits():
    spec = TrainSpec(law="tied", data="digits", width=32, n_examples=256, n_test=256, depths=(8,), steps=60,
                     lr=0.5, samples=1, device="cpu", track_points=5)
    record = measure_training_cell(spec, 8)
    assert record["info"]["test_metric"] == "accuracy"
    assert record["values"]["final_loss"][0] < 0.1 * record["values"]["initial_loss"][0]
    # ten classes: chance is 0.1; a trained network scores far above it
    assert record["values"]["test_metric"][0] > 0.75


def test_divergence_is_reported_with_its_step_not_nan():
    spec = TrainSpec(**{**SMALL, "lr": 20.0, "steps": 20, "depths": (8, 16)})
    doc = run_training(spec)
    json.dumps(doc, allow_nan=False)  # no NaN anywhere
    for row in doc["results"]:
        assert row["diverged"] == spec.samples
        assert row["max_weight_increment"] is None and row["final_loss"] is None
        assert all(isinstance(s, int) and 1 <= s <= 20 for s in row["diverged_at"])
    assert doc["exponent"]["estimate"] is None and "no fit" in doc["exponent"]["note"]


def test_samples_do_not_depend_on_how_many_are_batched():
    spec = TrainSpec(**{**SMALL, "steps": 20, "samples": 3})
    three = measure_training_cell(spec, 8)["values"]
    one = measure_training_cell(spec.replace(samples=1), 8)["values"]
    assert one["initial_loss"][0] == pytest.approx(three["initial_loss"][0], rel=1e-6)
    assert one["max_weight_increment"][0] == pytest.approx(three["max_weight_increment"][0], rel=1e-4)


# --------------------------------------------------------------------------- the theorem's exponent
def _exponent(law, **changes):
    """Synthetic task, d = m = n = 16 (PL regime), 60 steps, 6 seeds shared across depths."""
    spec = TrainSpec(**{**SMALL, "law": law, "depths": (16, 32, 64, 128), "samples": 6, "steps": 60, **changes})
    return run_training(spec)


@pytest.mark.slow
@pytest.mark.parametrize("law, changes", [("tied", {}), ("rbf", {"lengthscale": 0.5})])
def test_smooth_and_tied_initializations_give_exponent_minus_one(law, changes):
    """Theorem (implicit-regularization paper): max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ = O(1/L) under
    gradient flow in rescaled time, smooth σ (GELU), β = 1; here in its PL regime (m = n = 16)."""
    doc = _exponent(law, **changes)
    exp = doc["exponent"]
    assert exp["theory"] == -1.0 and exp["basis"].startswith("theorem")
    lo, hi = exp["interval"]
    assert lo <= -1.0 <= hi, exp
    assert exp["theory_in_interval"] is True
    assert hi - lo < 0.3  # an informative interval, not a vacuous one
    # common seeds: every pair of consecutive depths has its slope near −1 too
    assert all(-1.1 < p["slope"] < -0.9 for p in exp["pairwise"]), exp["pairwise"]
    assert doc["regime"]["pl"] is True


@pytest.mark.slow
def test_iid_initialization_does_not_give_minus_one():
    doc = _exponent("iid")
    exp = doc["exponent"]
    assert exp["theory"] is None and exp["basis"] is None
    lo, hi = exp["interval"]
    assert not lo <= -1.0 <= hi
    assert abs(exp["estimate"]) < 0.2  # increments of order one at t = 0, whatever L


def test_theory_is_withheld_outside_its_conditions():
    relu = training.training_theory(TrainSpec(activation="relu"))
    assert relu["value"] is None and "smooth activation" in relu["note"]
    adam = training.training_theory(TrainSpec(optimizer="adam"))
    assert adam["value"] is None
    half = training.training_theory(TrainSpec(beta=0.5))
    assert half["value"] is None
    sgd = training.training_theory(TrainSpec(optimizer="sgd", batch_size=8))
    assert sgd["value"] == -1.0 and sgd["basis"].startswith("first-order argument")
    assert training.training_theory(TrainSpec(law="fbm", hurst=0.7))["value"] is None
    linear = training.training_theory(TrainSpec(model="linear"))
    assert linear["basis"].startswith("theorem (Sander")


def test_pl_regime_reports_width_against_examples():
    assert training.pl_regime(TrainSpec(width=64, n_examples=32))["pl"] is True
    assert training.pl_regime(TrainSpec(width=16, n_examples=512))["pl"] is False
    assert training.pl_regime(TrainSpec(width=16, hidden=600, n_examples=512))["pl"] is True
    assert training.pl_regime(TrainSpec(model="simple"))["pl"] is None


def test_summary_uses_only_the_records():
    spec = TrainSpec(**{**SMALL, "steps": 10, "depths": (8, 16)})
    doc = run_training(spec)
    records = [{"cell": {"depth": r["depth"]}, **r} for r in json.loads(json.dumps(doc["results"]))]
    again = summarize_training(spec, records)
    assert again["exponent"] == doc["exponent"] and again["results"] == doc["results"]
    assert set(doc) >= {"spec", "results", "exponent", "regime", "diverged"}
    assert set(doc["results"][0]) >= {"depth", "max_weight_increment", "final_loss", "test_metric", "diverged"}
    assert set(doc["exponent"]) >= {"estimate", "interval", "theory", "basis"}


# --------------------------------------------------------------------------- checkpoints and resume
def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path):
    state = {"V": torch.randn(3, 2, dtype=torch.float64), "rng": torch.Generator().manual_seed(5).get_state(),
             "step": 7, "finished": False, "spec": {"law": "tied", "depths": [8, 16]}}
    path = tmp_path / "sub" / "c.pt"
    save_checkpoint(path, state)
    assert sorted(p.name for p in path.parent.iterdir()) == ["c.pt"]  # no temporary left behind
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["V"], state["V"]) and torch.equal(loaded["rng"], state["rng"])
    assert {k: loaded[k] for k in ("step", "finished", "spec")} == {"step": 7, "finished": False, "spec": state["spec"]}
    raw = torch.load(path, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in raw.values())


class Killed(Exception):
    pass


def _killer(at):
    done = [0]

    def progress(n):
        done[0] += n
        if done[0] >= at:
            raise Killed

    return progress


@pytest.mark.slow
@pytest.mark.parametrize("optimizer, batch_size", [("gd", None), ("sgd", 8), ("adam", 8)])
def test_resume_after_kill_is_bit_identical(tmp_path, optimizer, batch_size):
    spec = TrainSpec(**{**SMALL, "steps": 30, "samples": 2, "optimizer": optimizer, "batch_size": batch_size,
                        "lr": 0.05 if optimizer != "adam" else 0.01})
    whole = measure_training_cell(spec, 8, checkpoint_dir=tmp_path / "a", checkpoint_every=5)
    with pytest.raises(Killed):
        measure_training_cell(spec, 8, checkpoint_dir=tmp_path / "b", checkpoint_every=5, progress=_killer(13))
    assert load_checkpoint(tmp_path / "b" / "train-L8.pt")["step"] == 10
    resumed = measure_training_cell(spec, 8, checkpoint_dir=tmp_path / "b", checkpoint_every=5)
    assert resumed["info"]["resumed_from"] == 10
    a, b = load_checkpoint(tmp_path / "a" / "train-L8.pt"), load_checkpoint(tmp_path / "b" / "train-L8.pt")
    for name in ("V", "W", "opt_steps") + (("opt_m0", "opt_v1") if optimizer == "adam" else ()):
        assert torch.equal(a[name], b[name]), name
    for key in ("values", "history", "snapshots", "max_weight_increment", "final_loss", "test_metric"):
        assert whole[key] == resumed[key], key
    # a finished checkpoint gives the record back without training again
    again = measure_training_cell(spec, 8, checkpoint_dir=tmp_path / "b", progress=_killer(10**9))
    assert again["values"] == whole["values"] and again["info"]["resumed_from"] == 30


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    spec = TrainSpec(**{**SMALL, "steps": 5, "samples": 1})
    measure_training_cell(spec, 8, checkpoint_dir=tmp_path)
    with pytest.raises(SpecError, match="lr"):
        measure_training_cell(spec.replace(lr=0.1), 8, checkpoint_dir=tmp_path)


# --------------------------------------------------------------------------- history and snapshots
def test_history_and_snapshots_shapes():
    spec = TrainSpec(**{**SMALL, "steps": 50, "samples": 2, "law": "tied"})
    record = measure_training_cell(spec, 16)
    h = record["history"]
    assert h["steps"] == training.tracked_steps(50, spec.track_points)
    assert len(h["train_loss"]) == len(h["steps"]) and len(h["train_loss"][0]) == 2
    assert set(h["max_increment"]) == {"overall", "V", "W"}
    # tied initialization: every layer starts equal, and θ(0) − θ(0) = 0
    assert h["max_increment"]["overall"][0] == [0.0, 0.0]
    assert h["distance_from_init"]["overall"][0] == [0.0, 0.0]
    # the reported maximum over t is at least every tracked max over k
    for s in range(2):
        assert record["values"]["max_weight_increment"][s] >= max(r[s] for r in h["max_increment"]["overall"])
    snaps = record["snapshots"]
    assert snaps["steps"][0] == 0 and snaps["steps"][-1] == 50
    assert len(snaps["V"][0][0]) == 16 and len(snaps["k_over_L"]) == 16
    assert np.ptp(snaps["V"][0][0]) == 0.0  # tied: constant in k before training
    assert np.ptp(snaps["V"][-1][0]) > 0.0


def test_update_increment_is_the_increment_of_what_training_changed():
    """Tied: θ_k(0) is the same for every k, so the increments of θ(t) − θ(0) are those of θ(t);
    i.i.d.: the initial increments are of order one, those of the change are much smaller."""
    tied = measure_training_cell(TrainSpec(**{**SMALL, "steps": 20, "samples": 2}), 8)["values"]
    for a, b in zip(tied["max_update_increment"], tied["max_weight_increment"]):
        assert a == pytest.approx(b, rel=1e-4)
    iid = measure_training_cell(TrainSpec(**{**SMALL, "steps": 20, "samples": 2, "law": "iid"}), 8)["values"]
    for a, b in zip(iid["max_update_increment"], iid["initial_weight_increment"]):
        assert 0.0 < a < 0.5 * b
