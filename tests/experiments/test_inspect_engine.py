"""`inspect` against the built-in engine, draw for draw.

The MLP example block (V first, W second, declaring its N(0, 1/d) moments) under a law draws the
very weights the engine draws for `--model full` (same cell key, V and W streams, scale), and
shares its inputs and readouts: at one seed the numbers of `inspect` are those of `phase`, to
floating-point rounding. The expected values come from the engine (`api.grid_study`, an
independent implementation: exact reverse pass, bmm), never from `inspect` itself.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from helpers import MLP
from resnet_scale_cli import api
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments import inspect_block_stack as stk
from resnet_scale_cli.experiments.inspect_block import InspectSpec, cell_key, measure_inspect_cell
from resnet_scale_cli.spec import RunSpec
from resnet_scale_cli.sweep import SweepSpec

QUANTITIES = ("output_log10", "output_norm_log10", "gradient_log10", "gradient_norm_log10")


def _as_array(rows) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)


@pytest.mark.parametrize("law, options", [("iid", {}), ("tied", {}), ("rbf", {"lengthscale": 0.3}),
                                          ("fbm", {"hurst": 0.7})])
@pytest.mark.slow
def test_mlp_block_gives_the_numbers_of_phase(law, options):
    """--init moments (iid) or a law: every per-sample value equals the engine's to 1e-10 in
    float64, and the analysis (regimes, critical β, bootstrap intervals) is the same."""
    betas, depths = (0.0, 0.5, 1.0), (8, 24)
    common = dict(law=law, width=6, betas=betas, samples=6, draws=3, seed=3, device="cpu", dtype="float64", **options)
    spec = InspectSpec(block=MLP, init="moments", depths=depths, profile_points=4, **common)
    mine = api.run_experiment(api.INSPECT, spec)
    parameter = {"fbm": "hurst", "rbf": "lengthscale"}.get(law)
    base = RunSpec(model="full", activation="relu", depth=depths[0], **common)
    engine = api.grid_study("phase", SweepSpec(base, depths, (options[parameter],) if parameter else ()))
    assert [r["cell"] for r in mine.records] == [r["cell"] for r in engine.records]
    for a, b in zip(mine.records, engine.records):
        for q in QUANTITIES:
            np.testing.assert_allclose(_as_array(a["values"][q]), _as_array(b["values"][q]), rtol=0, atol=1e-10)
    (ours,), (theirs,) = mine.document["critical"], engine.document["critical"]
    for key in ("critical_beta", "interval", "bound", "theory_reference"):
        assert ours[key] == (theirs[key] if theirs[key] is None or isinstance(theirs[key], str)
                             else pytest.approx(theirs[key], abs=1e-9)), key
    assert [r["regime"] for r in ours["regimes"]] == [r["regime"] for r in theirs["regimes"]]
    assert mine.document["spec"]["moments"]["declared"] == ["V", "W"]


def test_float32_past_the_float_range_matches_the_engine():
    """β = 0, L = 600, d = 8: ratios beyond float32's 10^38.5; both carry log-norms (exact
    power-of-two rescaling), so they agree to float32 rounding accumulated over L layers."""
    spec = InspectSpec(block=MLP, init="moments", depths=(600,), width=8, betas=(0.0,), samples=3, device="cpu",
                       profile_points=2)
    record = measure_inspect_cell(spec, 600)
    engine = api.run(RunSpec(depth=600, width=8, betas=(0.0,), samples=3, device="cpu"))
    for q in ("output_log10", "gradient_log10"):
        ours, theirs = _as_array(record["values"][q]), engine.measurements.values[q]
        assert np.all(np.isfinite(ours)) and theirs.max() > 39, theirs  # past float32 (10^38.5)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


def test_module_init_shares_inputs_but_not_weights_with_the_engine(tmp_path):
    """The default (the module's own init, a seed per draw and layer) draws other weights than
    the engine's path sampler, so the ratios differ; the inputs h_0 are the engine's. With a
    block f(h) = c·h (no weights), h_L = (1 + c L^-β)^L h_0 whatever the weights, and
    log10 ‖h_L‖/‖h_0‖ is exact: the same as the engine's linear model with V = c·I would give."""
    path = tmp_path / "scaled.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        class Scale(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.c = nn.Parameter(torch.tensor(0.3))
            def forward(self, h):
                return self.c * h
        def scale(width):
            return Scale(width)
    """))
    depth, beta = 50, 0.5
    spec = InspectSpec(block=f"{path}:scale", width=5, depths=(depth,), betas=(beta,), samples=4, device="cpu",
                       dtype="float64", profile_points=2)
    record = measure_inspect_cell(spec, depth)
    c = float(np.float32(0.3))  # the parameter is a float32 tensor, run in float64
    exact = depth * np.log10(1 + c * depth ** -beta)
    np.testing.assert_allclose(_as_array(record["values"]["output_norm_log10"]), exact, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_as_array(record["values"]["output_log10"]), np.log10(10 ** exact - 1), rtol=0, atol=1e-12)
    mlp = measure_inspect_cell(InspectSpec(block=MLP, width=5, depths=(depth,), betas=(beta,), samples=4,
                                           device="cpu", dtype="float64", profile_points=2), depth)
    engine = api.run(RunSpec(depth=depth, width=5, betas=(beta,), samples=4, device="cpu", dtype="float64"))
    assert not np.allclose(_as_array(mlp["values"]["output_log10"]), engine.measurements.values["output_log10"])


def test_per_tensor_streams(tmp_path):
    """Tensor t of a draw follows its own stream: the engine's V and W streams for the first two,
    PARAMS + t after; a third tensor leaves the first two unchanged."""
    assert [stk.tensor_purpose(t) for t in range(4)] == [0, 1, stk.PARAMS + 2, stk.PARAMS + 3]
    path = tmp_path / "three.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        class Two(nn.Module):
            def __init__(self, width, extra=False):
                super().__init__()
                self.a = nn.Parameter(torch.randn(width, width))
                self.b = nn.Parameter(torch.randn(width))
                if extra:
                    self.c = nn.Parameter(torch.randn(3))
                self.rscale_moments = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
            def forward(self, h):
                return h @ self.a.T + self.b
        def two(width):
            return Two(width)
        def three(width):
            return Two(width, extra=True)
    """))
    flats = []
    for name in ("two", "three"):
        block = stk.load_block(f"{path}:{name}")
        layout = stk.Layout.of(block.build(4, 0, 6), block.text)
        mean, std, _ = stk.reference_moments(block, layout, 4, 6, 0, (1, 4, 6))
        flats.append(stk.sample_stack(block, layout, law="rbf", width=4, depth=6, draws=range(2), root_seed=0,
                                      key=(1, 4, 6), dtype=torch.float64, device=torch.device("cpu"), moments=(mean, std)))
    assert torch.equal(flats[0], flats[1][..., :20])
    from resnet_scale_cli import seeding
    from resnet_scale_cli.laws import sample_paths

    gen = seeding.generator(0, (1, 4, 6) + (1, seeding.WEIGHTS_W))
    expected_b = sample_paths("rbf", 6, 4, [gen], dtype=torch.float64)[0]
    assert torch.equal(flats[0][:, 1, 16:20], expected_b)


def test_declared_moments_are_checked(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        def bad_name(width):
            m = nn.Linear(width, width, bias=False)
            m.rscale_moments = {"kernel": (0.0, 1.0)}
            return m
        def bad_pair(width):
            m = nn.Linear(width, width, bias=False)
            m.rscale_moments = {"weight": (0.0, -1.0)}
            return m
    """))
    for name, cause in (("bad_name", "names 'kernel', not a parameter"), ("bad_pair", "standard deviation >= 0")):
        spec = InspectSpec(block=f"{path}:{name}", law="tied", width=3, depths=(4,), betas=(0.5,), samples=1, device="cpu")
        with pytest.raises(SpecError, match=cause):
            measure_inspect_cell(spec, 4)


def test_cell_key_is_the_engines():
    from resnet_scale_cli.experiments.cell import cell_key as engine_key

    spec = InspectSpec(block=MLP, law="fbm", hurst=0.3, width=7, depths=(11,))
    assert cell_key(spec, 11) == engine_key(RunSpec(law="fbm", hurst=0.3, width=7, depth=11))
