"""`rscale train --backprop adjoint`: memory-free gradients (activations recovered by reverse
Euler) against autograd written here, the error's 1/L decay for tied and smooth weights,
training with them, and the command line."""

import json
import math

import pytest
import torch

from resnet_scale_cli.dynamics import ACTIVATIONS
from resnet_scale_cli.experiments.training import TrainSpec, run_training
from resnet_scale_cli.experiments.training_engine import backward_adjoint, forward_eval

F64 = torch.float64


def _autograd(V, W, h0, p, s):
    """∂(Σ h_L ⊙ p)/∂(V, W) for h_{k+1} = h_k + s V_k gelu(W_k h_k), by torch.autograd (rows)."""
    V = V.clone().requires_grad_(True)
    W = W.clone().requires_grad_(True)
    h = h0
    for k in range(V.shape[0]):
        h = h + s * torch.nn.functional.gelu(h @ W[k].mT) @ V[k].mT
    return torch.autograd.grad((h * p).sum(), [V, W])


def _weights(depth, law, S=2, d=4, seed=0):
    """Tied (one θ for every layer) or smooth (θ_k = θ_a cos(πk/L) + θ_b sin(πk/L)) weights."""
    g = torch.Generator().manual_seed(seed)
    a = [torch.randn((S, d, d), generator=g, dtype=F64) / math.sqrt(d) for _ in range(4)]
    t = torch.arange(depth, dtype=F64).div(depth).mul(math.pi).view(-1, 1, 1, 1)
    if law == "tied":
        return a[0].expand(depth, S, d, d).contiguous(), a[1].expand(depth, S, d, d).contiguous()
    return a[0] * torch.cos(t) + a[2] * torch.sin(t), a[1] * torch.cos(t) + a[3] * torch.sin(t)


def _relative_error(depth, law):
    V, W = _weights(depth, law)
    g = torch.Generator().manual_seed(1)
    h0 = torch.randn((2, 6, 4), generator=g, dtype=F64)
    p = torch.randn((2, 6, 4), generator=g, dtype=F64)
    s = 1.0 / depth
    act = ACTIVATIONS["gelu"]
    h_last = forward_eval(V * s, W, "full", act, h0)
    approx = backward_adjoint(V * s, W, "full", act, h_last, p, s)
    exact = _autograd(V, W, h0, p, s)
    num = sum((a - e).square().sum() for a, e in zip(approx, exact))
    return float((num / sum(e.square().sum() for e in exact)).sqrt())


@pytest.mark.parametrize("law", ["tied", "smooth"])
def test_adjoint_error_is_small_and_shrinks_like_one_over_depth(law):
    small, large = _relative_error(16, law), _relative_error(128, law)
    assert large < 0.01, large
    # reverse Euler's error is O(1/L): eight times the depth, about eight times smaller (4x..16x)
    assert 4.0 < small / large < 16.0, (small, large)


def test_training_with_the_adjoint_lowers_the_loss():
    spec = TrainSpec(law="tied", width=16, n_examples=16, n_test=32, samples=2, steps=60, depths=(16,),
                     device="cpu", track_points=4, backprop="adjoint", seed=0)
    row = run_training(spec)["results"][0]
    assert row["info"]["backprop"] == "adjoint"
    assert row["diverged"] == 0
    for before, after in zip(row["values"]["initial_loss"], row["values"]["final_loss"]):
        assert after < 0.5 * before, (before, after)
    errors = row["values"]["adjoint_gradient_error"]
    assert len(errors) == 2 and all(0.0 < e < 0.1 for e in errors)


def test_cli_adjoint_json(cli):
    code, out, err = cli("train", "--depth", "4,8", "--width", "8", "--n-examples", "8", "--n-test", "16",
                         "--steps", "6", "--samples", "2", "--track-points", "4", "--device", "cpu",
                         "--backprop", "adjoint", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["spec"]["backprop"] == "adjoint"
    for row in doc["results"]:
        assert row["info"]["backprop"] == "adjoint"
        assert set(row["adjoint_gradient_error"]) >= {"median", "q05", "q95", "mean"}


class _Killed(Exception):
    pass


def test_adjoint_run_resumes_with_its_step0_error(tmp_path):
    from resnet_scale_cli import api

    spec = TrainSpec(depths=(8,), width=8, n_examples=8, n_test=16, steps=12, samples=2, track_points=5,
                     device="cpu", backprop="adjoint")
    whole = api.train(spec, out=tmp_path / "whole", checkpoint_every=3)
    done = [0]

    def progress(n):
        done[0] += n
        if done[0] >= 8:
            raise _Killed

    with pytest.raises(_Killed):
        api.train(spec, out=tmp_path / "cut", checkpoint_every=3, progress=progress)
    resumed = api.train(spec, out=tmp_path / "cut", resume=True, checkpoint_every=3)
    assert resumed.records[0]["info"]["resumed_from"] == 6
    a, b = whole.document["results"][0]["values"], resumed.document["results"][0]["values"]
    assert a["adjoint_gradient_error"] == b["adjoint_gradient_error"] and None not in b["adjoint_gradient_error"]
    assert a["final_loss"] == b["final_loss"]
