"""The exact second moment E[ratio²] = (1 + c L^{-2β})^L − 1 (i.i.d. symmetric weights; full
model with ReLU c = 1/2, identity σ c = 1; linear model c = 1), for the output and the gradient
ratio: verified with independent float64 code, then as an `exact_identity` check expectation
that passes for rscale's reverse pass and fails for one without the σ' mask."""

import math

import numpy as np
import pytest

from resnet_scale_cli.checks import evaluate, load_check
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.registry import run_sweep

Z = 4.0  # Monte Carlo tolerance of the independent check, in standard errors


def independent_mean_squares(L, d, beta, n, *, dist, activation, model, seed):
    """Monte Carlo E‖h_L − h_0‖²/‖h_0‖² and E‖(∂h_L/∂h_0 − I)ᵀ p‖²/‖p‖² (p Gaussian) in float64,
    batched over n independent networks, with the Jacobian carried as a full d × d matrix."""
    rng = np.random.default_rng(seed)

    def weights():
        if dist == "gaussian":
            return rng.standard_normal((n, d, d)) / math.sqrt(d)
        return rng.choice([-1.0, 1.0], (n, d, d)) / math.sqrt(d)

    alpha = L ** (-beta)
    h0 = rng.standard_normal((n, d))
    h, M = h0.copy(), np.broadcast_to(np.eye(d), (n, d, d)).copy()
    for _ in range(L):
        V = weights()
        if model == "linear":
            J = V
            step = np.einsum("nij,nj->ni", V, h)
        else:
            W = weights()
            pre = np.einsum("nij,nj->ni", W, h)
            act, slope = (np.maximum(pre, 0), (pre > 0) * 1.0) if activation == "relu" else (pre, np.ones_like(pre))
            J = np.einsum("nij,nj,njk->nik", V, slope, W)
            step = np.einsum("nij,nj->ni", V, act)
        M = M + alpha * np.einsum("nij,njk->nik", J, M)  # ∂h_{k+1}/∂h_0 = (I + α J_k) ∂h_k/∂h_0
        h = h + alpha * step
    p = rng.standard_normal((n, d))
    out = ((h - h0) ** 2).sum(1) / (h0**2).sum(1)
    grad = (np.einsum("nji,nj->ni", M - np.eye(d), p) ** 2).sum(1) / (p**2).sum(1)
    return out, grad


# the closed form itself, checked by a simulation written here: no package code runs (slow tier)
@pytest.mark.slow
@pytest.mark.parametrize("dist,activation,model,factor", [("gaussian", "relu", "full", 0.5),
                                                          ("rademacher", "relu", "full", 0.5),
                                                          ("gaussian", "identity", "full", 1.0),
                                                          ("gaussian", "relu", "linear", 1.0)])
def test_identity_holds_in_independent_float64_code(dist, activation, model, factor):
    L, d, n = 20, 6, 6000  # at d = 3 the right tail of ratio² (identity σ) makes the mean's CLT slow
    for k, beta in enumerate((0.5, 0.75, 1.0)):
        exact = (1 + factor * L ** (-2 * beta)) ** L - 1
        for values in independent_mean_squares(L, d, beta, n, dist=dist, activation=activation, model=model, seed=k):
            se = values.std(ddof=1) / math.sqrt(n)
            assert abs(values.mean() - exact) < Z * se, (beta, values.mean(), exact, se)


CHECK = """
name = "exact"
law = "iid"
model = "full"
activation = "relu"
width = 8
depth = 50
beta = [0.5, 0.75, 1.0]
samples = 200
seed = 3
device = "cpu"
""" + "".join(f"""
[[expect]]
type = "exact_identity"
quantity = "{q}"
beta = {b}
level = 0.999
""" for b in (0.5, 0.75, 1.0) for q in ("output", "gradient"))


def _outcomes(text: str):
    check = load_check("exact.toml", text)
    records = run_sweep(check.sweep)
    return evaluate(check, records, [])


@pytest.mark.slow
def test_check_passes_for_the_reverse_pass_and_fails_without_the_sigma_prime_mask(monkeypatch):
    """rscale's reverse pass meets the identity for both ratios at β = 1/2, 3/4, 1; with the
    recorded σ' mask never applied (a reverse pass that forgot σ'), E[gradient ratio²] is
    (1 + L^{-2β})^L − 1 instead (1.69 against 0.64 at β = 1/2, L = 50) and the gradient checks fail."""
    outcomes = _outcomes(CHECK)
    assert [o["passed"] for o in outcomes] == [True] * 6, [o["message"] for o in outcomes]
    for o in outcomes:
        beta = 0.5 if "β=0.5" in o["name"] else 0.75 if "β=0.75" in o["name"] else 1.0
        assert 10 ** o["exact"] == pytest.approx((1 + 50 ** (-2 * beta) / 2) ** 50 - 1, rel=1e-12)

    from resnet_scale_cli.dynamics.activations import Activation

    def forgot_sigma_prime(self, u, recorded):  # the injected bug: u returned without ⊙ σ'
        return u

    monkeypatch.setattr(Activation, "apply_recorded", forgot_sigma_prime)
    monkeypatch.setattr(Activation, "apply_recorded_", forgot_sigma_prime)
    broken = _outcomes(CHECK)
    by_quantity = {q: [o for o in broken if o["name"].startswith(f"E[{q}")] for q in ("output", "gradient")}
    assert all(o["passed"] for o in by_quantity["output"])  # the forward pass is untouched
    assert not any(o["passed"] for o in by_quantity["gradient"]), [o["message"] for o in by_quantity["gradient"]]
    half = next(o for o in by_quantity["gradient"] if "β=0.5" in o["name"])
    assert 10 ** half["measured"] > 1.2  # near (1 + 1/50)^50 − 1 = 1.69 (measured is log10 of the mean)


@pytest.mark.parametrize("change,needle", [("activation = \"tanh\"", "tanh"), ("model = \"simple\"", "simple model"),
                                           ("law = \"rbf\"", "independent across depth"),
                                           ("draws = 1", "two weight draws")])
def test_check_is_refused_where_the_identity_does_not_hold(change, needle):
    key = change.split(" =")[0]
    text = "\n".join(change if line.startswith(key + " =") else line for line in CHECK.splitlines())
    if key not in ("activation", "model", "law"):
        text = text.replace('seed = 3', f'seed = 3\n{change}')
    with pytest.raises(SpecError, match=needle):
        load_check("exact.toml", text)
