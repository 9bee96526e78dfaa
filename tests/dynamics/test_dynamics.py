"""The residual recursion: gradient methods against each other and autograd, log-norm
carrying against direct computation, an analytic case, and reproducibility."""

import math

import numpy as np
import pytest
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS, Network, backward, forward, forward_direct
from resnet_scale_cli.experiments.cell import measure
from resnet_scale_cli.laws import sample_weights
from resnet_scale_cli.spec import RunSpec

# 1e-6 relative on a ratio is 1e-6 / ln 10 on its log10
REL_1E6_LOG10 = 1e-6 / math.log(10.0)


def small(**changes):
    base = dict(depth=40, width=6, samples=4, draws=2, betas=(0.0, 0.3, 1.0), dtype="float64", device="cpu")
    base.update(changes)
    return RunSpec(**base)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_reverse_tangent_autograd_agree(model, activation, device):
    results = {m: measure(small(model=model, activation=activation, grad_method=m, device=device)) for m in ("reverse", "tangent", "autograd")}
    ref = results["autograd"]
    assert not ref.overflowed.any()
    for method in ("reverse", "tangent"):
        for q in ("output_log10", "output_norm_log10", "gradient_log10", "gradient_norm_log10"):
            np.testing.assert_allclose(results[method].values[q], ref.values[q], rtol=0, atol=REL_1E6_LOG10, err_msg=f"{method} {q}")


def test_checkpointed_reverse_equals_stored_reverse(device):
    spec = small(model="full", depth=101, samples=2, device=device)
    stored = measure(spec)
    segmented = measure(spec.replace(memory_gb=1e-6))
    assert stored.info["checkpoint_every"] is None and segmented.info["checkpoint_every"] > 1
    np.testing.assert_allclose(segmented.values["gradient_log10"], stored.values["gradient_log10"], rtol=0, atol=1e-12)


def _network(model="full", activation="tanh", depth=6, width=3, draws=1, dtype=torch.float64, device="cpu"):
    """Weights drawn on the CPU (the same numbers on every device), then moved to `device`."""
    gens = [seeding.generator(7, (i,)) for i in range(draws)]
    V = sample_weights("iid", depth, width, gens, dtype=dtype).to(device)
    W = sample_weights("iid", depth, width, [seeding.generator(8, (i,)) for i in range(draws)], dtype=dtype).to(device)
    return Network(V, W if model == "full" else None, model, ACTIVATIONS[activation])


class _HandWritten(torch.autograd.Function):
    """h_L(h_0) whose backward is rscale's hand-written reverse pass."""

    @staticmethod
    def forward(ctx, h0, net, scales):
        fwd = forward(net, h0, scales, h0.shape[1], record_masks=True)
        ctx.net, ctx.fwd, ctx.scales = net, fwd, scales
        return fwd.x * torch.exp2(fwd.exps.to(h0.dtype)).unsqueeze(-1)

    @staticmethod
    def backward(ctx, grad):
        p, e = backward(ctx.net, ctx.fwd, grad, ctx.scales)
        return p * torch.exp2(e.to(p.dtype)).unsqueeze(-1), None, None


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("activation", ["tanh", "gelu", "relu"])
def test_gradcheck_hand_written_backward(model, activation, device):
    net = _network(model, activation, device=device)
    scales = torch.tensor([6.0**-0.5, 6.0**-1.0], dtype=torch.float64, device=device)
    h0 = torch.randn((1, 2, 3), dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(device).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: _HandWritten.apply(x, net, scales), (h0,))


def test_gradcheck_autograd_forward(device):
    net = _network("full", "tanh", device=device)
    scales = torch.tensor([0.5], dtype=torch.float64, device=device)
    h0 = torch.randn((1, 1, 3), dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(device).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: forward_direct(net, x, scales), (h0,))


@pytest.mark.slow
def test_random_probes_are_unbiased_at_the_one_over_sqrt_n_rate(device):
    """With N Gaussian probes the squared-norm estimate over its exact value is χ²_N / N:
    mean 1 and mean squared error 2/N. Tolerances follow from the χ² moments:
    Var((X−1)²) = 8/N² + 48/N³ for X = χ²_N/N."""
    samples = 1200
    exact = measure(small(samples=samples, draws=1, betas=(0.5,), depth=30, width=5, device=device))
    for n in (4, 64):
        est = measure(small(samples=samples, draws=1, betas=(0.5,), depth=30, width=5, probes=n, device=device))
        for q in ("gradient_log10", "gradient_norm_log10"):
            ratio = 10.0 ** (2 * (est.values[q][0] - exact.values[q][0]))
            assert abs(ratio.mean() - 1.0) < 4.5 * math.sqrt(2.0 / n / samples)
            mse = np.mean((ratio - 1.0) ** 2)
            sd_mse = math.sqrt((8.0 / n**2 + 48.0 / n**3) / samples)
            assert abs(mse - 2.0 / n) < 4.5 * sd_mse, (n, q, mse)


@pytest.mark.parametrize("model, activation", [
    pytest.param(model, activation, marks=() if (model, activation) == ("full", "relu") else pytest.mark.slow)
    for activation in ("relu", "leaky_relu", "identity") for model in MODELS])
def test_carried_log_norms_equal_direct_where_no_overflow(model, activation, device):
    """Forward states, tangents and the reverse pass, with and without rescaling, in float64."""
    from resnet_scale_cli.metrics import log10_norm, log10_norm_diff

    depth, width = 300, 20
    net = _network(model, activation, depth=depth, width=width, draws=2, device=device)
    scales = torch.tensor([1.0, depth**-0.25, depth**-1.0], dtype=torch.float64, device=device)
    gen = torch.Generator().manual_seed(3)
    h0 = torch.randn((2, 3, width), dtype=torch.float64, generator=gen).to(device)
    q0 = torch.randn((2, 3, width), dtype=torch.float64, generator=gen).to(device)
    x0 = torch.cat([h0, q0], dim=1)
    row_scales = torch.cat([scales, scales])
    p_last = torch.randn((2, 3, width), dtype=torch.float64, generator=gen).to(device)
    logs = {}
    for carry in (True, False):
        fwd = forward(net, x0, row_scales, 3, carry_log_norms=carry, record_masks=True)
        p, e = backward(net, forward(net, h0, scales, 3, carry_log_norms=carry, record_masks=True), p_last, scales,
                        carry_log_norms=carry)
        logs[carry] = (log10_norm_diff(fwd.x[:, :3], fwd.exps[:, :3], h0), log10_norm(fwd.x[:, 3:], fwd.exps[:, 3:]),
                       log10_norm_diff(p, e, p_last))
        if carry:
            assert fwd.exps.abs().max() > 30  # the rescaling did act
    for carried, direct in zip(logs[True], logs[False]):
        assert torch.isfinite(direct).all()
        assert direct.max() > 10  # deep in the explosion regime at β = 0
        torch.testing.assert_close(carried, direct, rtol=0, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_explosion_regime_stays_finite_and_large(dtype, device):
    """β = 0.2, L = 4000: the ratios grow like exp(c L^{1−2β}), yet stay finite; and at β = 0.05
    they pass float32's range (10^38) and agree between float32 and float64 runs."""
    spec = RunSpec(depth=4000, width=40, samples=4, betas=(0.05, 0.2), dtype=dtype, device=device)
    meas = measure(spec)
    assert not meas.overflowed.any()
    for q in meas.values:
        assert np.all(np.isfinite(meas.values[q]))
    assert np.all(meas.values["output_log10"][1] > 10) and np.all(meas.values["gradient_log10"][1] > 10)
    assert np.all(meas.values["output_log10"][0] > 38) and np.all(meas.values["gradient_log10"][0] > 38)


@pytest.mark.slow
def test_float32_and_float64_agree_in_the_explosion_regime(device):
    """Same weights law and seed in both dtypes draw different numbers, so compare medians:
    their spread across 8 samples is ~1 decade at β = 0.05 (a loose, distributional check)."""
    out = {dt: measure(RunSpec(depth=2000, width=40, samples=8, betas=(0.05,), dtype=dt, device=device))
           for dt in ("float32", "float64")}
    med = {dt: np.median(m.values["output_log10"]) for dt, m in out.items()}
    spread = np.std(out["float64"].values["output_log10"])
    assert abs(med["float32"] - med["float64"]) < 4 * spread


@pytest.mark.slow
def test_non_homogeneous_overflow_is_reported_not_nan(device):
    from resnet_scale_cli.experiments.cell import run

    result = run(RunSpec(activation="gelu", depth=3000, width=20, samples=4, betas=(0.0, 1.0), dtype="float32", device=device))
    exploded, calm = result.results
    assert exploded["overflowed"] == 4 and exploded["output_log10"] is None and exploded["regime"] == "explosion"
    assert calm["overflowed"] == 0 and math.isfinite(calm["output_log10"]["median"])


def test_scalar_linear_network_is_an_exact_product(device):
    """d = 1, linear model: h_L = Π_k (1 + L^{-β} v_k) h_0 and p_0 = Π_k (1 + L^{-β} v_k) p_L."""
    depth, beta = 500, 0.1
    net = _network("linear", "identity", depth=depth, width=1, device=device)
    v = net.layers_V[:, 0, 0, 0].cpu().numpy()
    factors = 1.0 + depth**-beta * v
    log10_prod = np.sum(np.log10(np.abs(factors)))
    sign = np.prod(np.sign(factors))
    h0 = torch.tensor([[[0.7]]], dtype=torch.float64, device=device)
    scales = torch.tensor([depth**-beta], dtype=torch.float64, device=device)
    fwd = forward(net, h0, scales, 1, record_masks=True)
    log10_h = math.log10(abs(fwd.x.item())) + fwd.exps.item() * math.log10(2) - math.log10(0.7)
    assert abs(log10_h - log10_prod) < 1e-10 and np.sign(fwd.x.item()) == sign
    p, e = backward(net, fwd, torch.tensor([[[1.0]]], dtype=torch.float64, device=device), scales)
    assert abs(math.log10(abs(p.item())) + e.item() * math.log10(2) - log10_prod) < 1e-10


@pytest.mark.parametrize("carry_delta", [False, True])
@pytest.mark.parametrize("model", ["full", "simple"])
def test_relu_tangents_at_a_zero_state_use_the_derivative_zero_at_zero(device, model, carry_delta):
    """ReLU's σ'(0) = 0 (autograd's convention): a zero state stays zero (σ(0) = 0), every layer
    adds L^-β V_k (σ'(0) ⊙ …) = 0 to its tangents, so q_L = q_0 exactly, while a nonzero state's
    tangents move. (σ'(0) = 1, a `pre >= 0` threshold, would add L^-β V_k W_k q at every layer.)"""
    net = _network(model, "relu", depth=24, width=5, draws=2, dtype=torch.float32, device=device)
    gen = torch.Generator(device).manual_seed(4)
    h0 = torch.randn((2, 2, 5), generator=gen, device=device)
    h0[:, 0] = 0.0  # state 0 is zero in both draws
    q0 = torch.randn((2, 2 * 3, 5), generator=gen, device=device)  # 3 probes per state
    scales = torch.full((2,), 24**-0.5, dtype=torch.float64, device=device)
    fwd = forward(net, torch.cat([h0, q0], 1), torch.cat([scales, scales.repeat_interleave(3)]), 2,
                  carry_delta=carry_delta)
    rows = fwd.x * torch.exp2(fwd.exps.to(torch.float32)).unsqueeze(-1)
    assert torch.equal(rows[:, 0], torch.zeros_like(rows[:, 0]))
    assert torch.equal(rows[:, 2:5], q0[:, :3])  # the zero state's probes, unchanged bit for bit
    assert not torch.allclose(rows[:, 5:], q0[:, 3:])  # the other state's probes moved
    # the reverse pass from recorded σ': p_0 = p_L for the zero state (σ'(0) = 0 recorded at every layer)
    states = forward(net, h0, scales, 2, record_masks=True, carry_delta=carry_delta)
    p_last = torch.randn((2, 2, 5), generator=gen, device=device)
    p0, e0 = backward(net, states, p_last, scales, delta_out=[] if carry_delta else None)
    p0 = p0 * torch.exp2(e0.to(torch.float32)).unsqueeze(-1)
    assert torch.equal(p0[:, 0], p_last[:, 0]) and not torch.allclose(p0[:, 1], p_last[:, 1])


def test_same_seed_same_numbers_and_other_seed_other_numbers(device):
    a, b = measure(small(device=device)), measure(small(device=device))
    c = measure(small(seed=1, device=device))
    for q in a.values:
        assert np.array_equal(a.values[q], b.values[q])
        assert not np.allclose(a.values[q], c.values[q])


def test_batch_split_and_beta_list_do_not_change_a_beta(device):
    spec = small(samples=6, draws=6, betas=(0.25, 0.5, 1.0), device=device)
    whole = measure(spec)
    split = measure(spec.replace(memory_gb=1e-7))  # one draw per chunk
    assert split.info["draws_per_chunk"] == 1 and whole.info["draws_per_chunk"] == 6
    alone = measure(spec.replace(betas=(0.5,)))
    other = measure(spec.replace(betas=(0.5, 2.0)))
    for q in whole.values:
        np.testing.assert_allclose(split.values[q], whole.values[q], rtol=0, atol=1e-12)
        np.testing.assert_allclose(alone.values[q][0], whole.values[q][1], rtol=0, atol=1e-12)
        np.testing.assert_allclose(other.values[q][0], whole.values[q][1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("model, activation, tangents", [("full", "relu", False), ("full", "leaky_relu", False),
                                                          ("simple", "relu", False), ("full", "relu", True)])
def test_recorded_masks_are_the_pre_activation_signs(model, activation, tangents, device):
    """σ' as recorded (ReLU in place: σ(pre) ≠ 0; the CPU's float compare then bool cast; into a
    caller's block or not) is pre > 0 of the plain recursion on every finite row; a NaN row stays
    NaN to the end (it is flagged; its σ' is never read into a record), the other rows are unchanged."""
    depth, width, draws, n = 24, 5, 2, 3
    gen = [seeding.generator(4, (i,), device) for i in range(draws)]
    V = sample_weights("iid", depth, width, gen, layer_major=True, device=device)
    W = sample_weights("iid", depth, width, gen, layer_major=True, device=device)
    net = Network(V, W if model == "full" else None, model, ACTIVATIONS[activation], layer_major=True)
    h0 = torch.randn((draws, n, width), generator=torch.Generator(device).manual_seed(1), device=device)
    scales = torch.tensor([depth ** -0.5] * n, dtype=torch.float64, device=device)
    rows = torch.cat([h0, torch.ones_like(h0)], 1) if tangents else h0  # one tangent probe per state
    row_scales = torch.cat([scales, scales]) if tangents else scales
    fwd = forward(net, rows, row_scales, n, record_masks=True, carry_log_norms=False)
    store = torch.ones((depth, draws, n, width), dtype=torch.bool, device=device)
    kept = forward(net, rows, row_scales, n, record_masks=True, carry_log_norms=False, mask_store=store)
    assert torch.equal(kept.x, fwd.x) and all(torch.equal(a, b) for a, b in zip(kept.masks, fwd.masks))
    assert kept.masks[0].data_ptr() == store.data_ptr()
    h = h0.clone()
    for k in range(depth):
        pre = torch.bmm(h, W[k].mT) if model == "full" else h
        assert torch.equal(fwd.masks[k], pre > 0), k
        fed = ACTIVATIONS[activation].fn(pre) * scales.to(h.dtype).view(1, -1, 1)
        h = h + torch.bmm(fed, V[k].mT)
    nan = h0.clone()
    nan[1, 2, 0] = float("nan")
    poisoned = forward(net, nan, scales, n, record_masks=True, carry_log_norms=False)
    assert torch.isnan(poisoned.x[1, 2]).all()
    keep = torch.ones((draws, n), dtype=torch.bool, device=device)
    keep[1, 2] = False
    assert torch.equal(poisoned.x[keep], fwd.x[:, :n][keep])
    for a, b in zip(poisoned.masks, fwd.masks):
        assert torch.equal(a[keep], b[keep])


def _identity_weights(depth, width, device):
    """V_k = I for every layer (one draw, layer-major): the linear model multiplies a row by 1 + s."""
    return torch.eye(width, device=device).expand(depth, 1, width, width).contiguous()


def test_each_row_is_rescaled_by_its_own_power_of_two(device):
    """Linear model, V_k = I, float32: a row with scale s is multiplied by 1 + s ∈ {1, 2, 4} per layer,
    exactly, so h_L = (1 + s)^L h_0 and p_0 = (1 + s)^L p_L with exponents 0, L and 2L (L = 300: far
    past float32's 2^128). Every row must be normalized by its own max: one exponent shared by
    rows that differ by 2^600 would flush the unit-factor row to zero."""
    depth, width = 300, 2
    net = Network(_identity_weights(depth, width, device), None, "linear", ACTIVATIONS["identity"], layer_major=True)
    scales = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64, device=device)
    h0 = torch.tensor([[[0.75, -0.5], [0.25, 0.5], [-1.0, 0.125]]], dtype=torch.float32, device=device)
    expected_exps = torch.tensor([[0, depth, 2 * depth]], device=device)
    fwd = forward(net, h0, scales, 3)
    p, e = backward(net, fwd, h0, scales)
    for x_hat, exps in ((fwd.x, fwd.exps), (p, e)):
        assert torch.equal(x_hat.double() * torch.exp2((exps - expected_exps).double()).unsqueeze(-1), h0.double())


def test_delta_carrying_never_rescales_the_states_of_a_non_homogeneous_activation(device):
    """tanh(2^-e h) ≠ 2^-e tanh(h): states of tanh are never rescaled (module docstring), with delta
    carrying too. States of size ~10 (binary exponent 4) make a wrong rescaling visible. Reference:
    the plain recursion written out in float64."""
    depth, width, n = 16, 3, 2
    net = _network("full", "tanh", depth=depth, width=width, device=device)
    scales = torch.tensor([depth**-0.5, depth**-1.0], dtype=torch.float64, device=device)
    h0 = 10.0 * torch.randn((1, n, width), dtype=torch.float64, generator=torch.Generator().manual_seed(5)).to(device)
    h = h0.clone()
    for k in range(depth):
        fed = torch.tanh(torch.bmm(h, net.layers_W[k].mT)) * scales.view(1, -1, 1)
        h = h + torch.bmm(fed, net.layers_V[k].mT)
    fwd = forward(net, h0, scales, n, carry_delta=True)
    frame = torch.exp2(fwd.exps.double()).unsqueeze(-1)
    torch.testing.assert_close(fwd.x * frame, h, rtol=1e-12, atol=0)
    torch.testing.assert_close(fwd.delta * frame, h - h0, rtol=1e-10, atol=0)


@pytest.mark.parametrize("depth, start", [(63, 0), (64, 0), (65, 0), (130, 0), (66, 2), (70, 2)])
def test_progress_reports_every_layer_once(depth, start, device):
    """progress(n) adds n layers done (the progress bar's unit): the calls are positive and add up
    to the layers run, forward from `start` and backward."""
    net = Network(_identity_weights(depth, 2, device), None, "linear", ACTIVATIONS["identity"], layer_major=True)
    scales = torch.tensor([0.01], dtype=torch.float64, device=device)
    h0 = torch.ones((1, 1, 2), device=device)
    calls = {"forward": [], "backward": []}
    fwd = forward(net, h0, scales, 1, start=start, progress=calls["forward"].append)
    if start == 0:
        backward(net, fwd, h0, scales, progress=calls["backward"].append)
    assert all(c > 0 for c in calls["forward"] + calls["backward"]), calls
    assert sum(calls["forward"]) == depth - start and sum(calls["backward"]) == (depth if start == 0 else 0), calls


def test_forward_direct_keeps_the_dtype_of_its_rows(device):
    """The engine passes float64 scales; on float32 rows the plain recursion (autograd's cross-check)
    must run in float32, as the plain float32 loop written out here."""
    net = _network("full", "tanh", dtype=torch.float32, device=device)
    scales = torch.tensor([6.0**-0.5, 6.0**-1.0], dtype=torch.float64, device=device)
    h0 = torch.randn((1, 2, 3), generator=torch.Generator().manual_seed(6)).to(device)
    h = h0
    for k in range(net.depth):
        fed = torch.tanh(torch.bmm(h, net.layers_W[k].mT)) * scales.float().view(1, -1, 1)
        h = h + torch.bmm(fed, net.layers_V[k].mT)
    out = forward_direct(net, h0, scales)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, h, rtol=1e-6, atol=1e-6)
