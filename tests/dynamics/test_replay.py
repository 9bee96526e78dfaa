"""The layer loop replayed from captured blocks (`dynamics.replay`, issue 10 item 2).

On CPU the replay's "capture" is the block function itself (`replay.ON_CPU`): the same static
buffers, copy-in, block runs and copy-out as the CUDA graphs, checked bit for bit against the
eager loop of `dynamics.recursion`. The CUDA tests (skipped without a GPU) check the graphs
themselves, and CPU against CUDA within sampling error.
"""

import math

import numpy as np
import pytest
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS, replay
from resnet_scale_cli.dynamics.recursion import Network, backward, forward
from resnet_scale_cli.experiments.cell import measure
from resnet_scale_cli.laws import sample_weights
from resnet_scale_cli.spec import RunSpec

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(autouse=True)
def fresh_replay(monkeypatch):
    """Each test starts with an empty cache, no recorded failure, graphs enabled, CPU not replayed."""
    monkeypatch.setattr(replay, "_cache", type(replay._cache)())
    monkeypatch.setattr(replay, "_failed", None)
    monkeypatch.setattr(replay, "ENABLED", True)
    monkeypatch.setattr(replay, "ON_CPU", False)
    monkeypatch.delenv(replay.ENV, raising=False)


def _net(model, activation, depth, width, draws, dtype=torch.float32, seed=0, device="cpu"):
    def weights(s):
        return sample_weights("iid", depth, width, [seeding.generator(s, (i,), device) for i in range(draws)],
                              dtype=dtype, device=device, layer_major=True)

    return Network(weights(seed), weights(seed + 1) if model == "full" else None, model, ACTIVATIONS[activation],
                   layer_major=True)


def _passes(net, seed, carry_delta, dtype=torch.float32, device="cpu"):
    """Every pass the cell runs: states with σ' recorded, then the reverse pass from them; states
    with tangent rows. Returns all outputs (rows, exponents, deltas)."""
    draws, depth = net.layers_V.shape[1], net.depth
    gen = torch.Generator(device).manual_seed(seed)
    h0 = torch.randn((draws, 4, net.layers_V.shape[-1]), generator=gen, dtype=dtype, device=device)
    q0 = torch.randn((draws, 8, h0.shape[-1]), generator=gen, dtype=dtype, device=device)
    scales = torch.tensor([depth ** -0.25, depth ** -1.0] * 2, dtype=torch.float64, device=device)
    p_last = torch.randn((draws, 1, h0.shape[-1]), generator=gen, dtype=dtype, device=device).expand(-1, 4, -1)
    steps = []
    fwd = forward(net, h0, scales, 4, record_masks=True, carry_delta=carry_delta, progress=steps.append)
    deltas = [] if carry_delta else None
    p, e = backward(net, fwd, p_last, scales, delta_out=deltas, progress=steps.append)
    tan = forward(net, torch.cat([h0, q0], 1), torch.cat([scales, scales.repeat_interleave(2)]), 4,
                  carry_delta=carry_delta, progress=steps.append)
    out = [fwd.x, fwd.exps, p, e, tan.x, tan.exps]
    if carry_delta:
        out += [fwd.delta, deltas[0], tan.delta]
    return out, sum(steps)


def _eager_and_replayed(monkeypatch, make, device="cpu"):
    monkeypatch.setattr(replay, "ON_CPU", False)
    monkeypatch.setattr(replay, "ENABLED", False)
    eager = make()
    monkeypatch.setattr(replay, "ON_CPU", device == "cpu")
    monkeypatch.setattr(replay, "ENABLED", True)
    replayed = make()
    assert replay._failed is None and replay._cache, "the replay did not run"
    return eager, replayed


def _assert_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert torch.equal(x, y)


@pytest.mark.parametrize("carry_delta", [False, True])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("model", MODELS)
def test_replay_is_bit_identical_to_the_eager_loop(monkeypatch, model, activation, carry_delta):
    """Blocks of 16 layers at L = 45: two full blocks and a remainder, both directions."""
    monkeypatch.setattr(replay, "BLOCK", 16)
    net = _net(model, activation, 45, 6, 3)
    (eager, eager_steps), (replayed, steps) = _eager_and_replayed(monkeypatch, lambda: _passes(net, 1, carry_delta))
    _assert_identical(eager, replayed)
    assert eager_steps == steps == 3 * 45


@pytest.mark.parametrize("model,activation", [("full", "relu"), ("simple", "relu"), ("full", "leaky_relu")])
def test_replayed_masks_land_in_the_callers_store(monkeypatch, model, activation):
    """With `mask_store` the replay copies σ' into the caller's tensor block by block (the eager
    loop records straight into it): `Forward.masks` are its layers and equal the eager masks."""
    monkeypatch.setattr(replay, "BLOCK", 16)
    net = _net(model, activation, 45, 6, 3)
    h0 = torch.randn((3, 4, 6), generator=torch.Generator().manual_seed(3))
    scales = torch.tensor([0.7, 0.2, 0.1, 0.05], dtype=torch.float64)

    def make():
        store = torch.zeros((45, 3, 4, 6), dtype=torch.bool)
        fwd = forward(net, h0, scales, 4, record_masks=True, mask_store=store)
        assert all(m.data_ptr() == store[k].data_ptr() for k, m in enumerate(fwd.masks))
        return [store, fwd.x, fwd.exps]

    eager, replayed = _eager_and_replayed(monkeypatch, make)
    _assert_identical(eager, replayed)
    assert 0 < eager[0].float().mean() < 1  # both signs of the pre-activations occur


def test_default_block_in_float64_with_the_full_model(monkeypatch):
    net = _net("full", "relu", 150, 5, 2, dtype=torch.float64)
    (eager, _), (replayed, _) = _eager_and_replayed(monkeypatch, lambda: _passes(net, 2, False, torch.float64))
    _assert_identical(eager, replayed)


def test_consecutive_calls_with_other_weights_reuse_the_buffers_and_stay_exact(monkeypatch):
    """A value left over in a static buffer from the previous call would show here."""
    monkeypatch.setattr(replay, "BLOCK", 16)
    nets = [_net("full", "tanh", 40, 5, 2, seed=s) for s in (0, 10, 20)]
    monkeypatch.setattr(replay, "ENABLED", False)
    eager = [_passes(n, s, True)[0] for s, n in enumerate(nets)]
    monkeypatch.setattr(replay, "ENABLED", True)
    monkeypatch.setattr(replay, "ON_CPU", True)
    replayed = [_passes(n, s, True)[0] for s, n in enumerate(nets)]
    assert len(replay._cache) == 3  # forward with masks, reverse, tangent forward: reused by every call
    for e, r in zip(eager, replayed):
        _assert_identical(e, r)
    assert not torch.equal(replayed[0][0], replayed[1][0])


def test_the_cache_key_distinguishes_shapes_and_flags(monkeypatch):
    monkeypatch.setattr(replay, "ON_CPU", True)
    scales = torch.tensor([0.3, 0.1], dtype=torch.float64)
    shapes = [(2, 2, 4), (3, 2, 4), (2, 2, 5)]
    for d0, rows, width in shapes:
        net = _net("simple", "relu", 20, width, d0)
        h0 = torch.randn((d0, rows, width))
        monkeypatch.setattr(replay, "ENABLED", False)
        eager = forward(net, h0, scales, rows)
        monkeypatch.setattr(replay, "ENABLED", True)
        replayed = forward(net, h0, scales, rows)
        assert torch.equal(eager.x, replayed.x) and torch.equal(eager.exps, replayed.exps)
    forward(_net("simple", "relu", 20, 4, 2), torch.randn((2, 2, 4)), scales, 2, carry_delta=True)
    keys = list(replay._cache)
    assert len(set(keys)) == len(shapes) + 1


def test_measure_through_the_replay_is_bit_identical(monkeypatch):
    """The whole cell (weights chunked two draws at a time, all three gradient passes)."""
    base = RunSpec(depth=70, width=6, samples=6, draws=3, betas=(0.3, 1.0), dtype="float32", device="cpu",
                   memory_gb=2.5 * 70 * 36 * 4 * 2 / 2**29)  # two draws of full-model weights per chunk
    assert base.n_draws == 3
    for method in ("reverse", "tangent", "none"):
        spec = base.replace(grad_method=method) if method != "none" else base.replace(gradients=False)
        eager, replayed = _eager_and_replayed(monkeypatch, lambda spec=spec: measure(spec))
        assert eager.info["draws_per_chunk"] == 2
        for q in eager.values:
            assert np.array_equal(eager.values[q], replayed.values[q], equal_nan=True), (method, q)


def test_switches(monkeypatch):
    x = torch.zeros(1)
    assert not replay.wanted(x)  # CPU tensors use the eager loop
    monkeypatch.setattr(replay, "ON_CPU", True)
    assert replay.wanted(x)
    monkeypatch.setenv(replay.ENV, "1")
    assert not replay.wanted(x)
    monkeypatch.setenv(replay.ENV, "0")
    assert replay.wanted(x)
    monkeypatch.setattr(replay, "ENABLED", False)
    assert not replay.wanted(x)


def test_a_capture_failure_falls_back_to_the_eager_loop_with_one_note(monkeypatch, capsys):
    net = _net("full", "relu", 40, 5, 2)
    monkeypatch.setattr(replay, "ENABLED", False)
    eager = _passes(net, 3, True)[0]
    capsys.readouterr()

    def broken(fn, graphs):
        raise RuntimeError("operation not permitted when stream is capturing\nsecond line")

    monkeypatch.setattr(replay, "capture", broken)
    monkeypatch.setattr(replay, "ENABLED", True)
    monkeypatch.setattr(replay, "ON_CPU", True)
    first = _passes(net, 3, True)[0]
    second = _passes(net, 3, True)[0]
    _assert_identical(eager, first)
    _assert_identical(eager, second)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rscale: CUDA graph capture failed (RuntimeError: operation not permitted")
    assert replay.ENV in err and not replay._cache and not replay.wanted(torch.zeros(1))


def test_only_whole_passes_replay_and_carry_log_norms_reaches_the_replay(monkeypatch):
    """The replay runs a whole pass from layer 0 and makes no checkpoints: a checkpointed forward
    and the segments the reverse pass recomputes from its checkpoints (start, stop, starting
    exponents) run eagerly, so the checkpointed reverse pass gives the numbers of the stored one. And
    carry_log_norms=False reaches the replay: no rescaling, exponents 0 (rows of size ~8 would get
    exponents ≥ 3 from a rescaling)."""
    monkeypatch.setattr(replay, "BLOCK", 16)
    monkeypatch.setattr(replay, "ON_CPU", True)
    net = _net("full", "relu", 45, 5, 2, dtype=torch.float64)
    gen = torch.Generator().manual_seed(7)
    h0 = 8 * torch.randn((2, 2, 5), generator=gen, dtype=torch.float64)
    p_last = 8 * torch.randn((2, 2, 5), generator=gen, dtype=torch.float64)
    scales = torch.tensor([45 ** -0.25, 45 ** -1.0], dtype=torch.float64)
    stored = backward(net, forward(net, h0, scales, 2, record_masks=True), p_last, scales)
    assert replay._failed is None and replay._cache, "the replay did not run"
    checkpointed = backward(net, forward(net, h0, scales, 2, checkpoint_every=10), p_last, scales)
    for p, e in (stored, checkpointed):
        assert e.abs().max() > 0
    torch.testing.assert_close(checkpointed[0] * torch.exp2(checkpointed[1].double()).unsqueeze(-1),
                               stored[0] * torch.exp2(stored[1].double()).unsqueeze(-1), rtol=1e-12, atol=0)
    plain = forward(net, h0, scales, 2, carry_log_norms=False, record_masks=True)
    p, e = backward(net, plain, p_last, scales, carry_log_norms=False)
    assert not plain.exps.any() and not e.any()


# ----------------------------------------------------------------------------- CUDA only
@cuda
@pytest.mark.parametrize("model,activation", [("full", "relu"), ("full", "tanh"), ("simple", "gelu"), ("linear", "identity")])
@pytest.mark.parametrize("carry_delta", [False, True])
def test_cuda_graph_replay_is_bit_identical_to_the_eager_loop(monkeypatch, model, activation, carry_delta):
    net = _net(model, activation, 150, 8, 3, device="cuda")
    (eager, eager_steps), (replayed, steps) = _eager_and_replayed(
        monkeypatch, lambda: _passes(net, 4, carry_delta, device="cuda"), device="cuda")
    assert all(r.is_cuda for r in replayed)
    _assert_identical(eager, replayed)
    assert eager_steps == steps


@cuda
def test_cuda_same_seed_is_bit_identical_and_the_graphs_ran():
    spec = RunSpec(law="fbm", hurst=0.7, depth=200, width=8, samples=10, draws=5, betas=(0.5, 1.0), device="cuda")
    a, b = measure(spec), measure(spec)
    assert replay._failed is None and replay._cache
    for q in a.values:
        assert np.array_equal(a.values[q], b.values[q], equal_nan=True)


@cuda
@pytest.mark.parametrize("method", ["reverse", "tangent"])
def test_cpu_and_cuda_agree_within_sampling_error(method):
    """CUDA draws other random numbers: compare the means over weight draws of each log10 ratio
    (inputs of a draw are averaged first: they share the weights), within 4.5 combined standard errors."""
    spec = RunSpec(law="iid", depth=100, width=8, samples=200, draws=40, betas=(0.5,), dtype="float32",
                   grad_method=method)
    runs = {dev: measure(spec.replace(device=dev)) for dev in ("cpu", "cuda")}
    for q in ("output_log10", "gradient_log10"):
        means, ses = [], []
        for meas in runs.values():
            per_draw = meas.values[q][0].reshape(spec.n_draws, -1).mean(axis=1)
            means.append(per_draw.mean())
            ses.append(per_draw.std(ddof=1) / math.sqrt(per_draw.size))
        assert abs(means[0] - means[1]) < 4.5 * math.hypot(*ses), (q, means, ses)
