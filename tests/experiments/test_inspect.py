"""`inspect`: a user's residual block through the depth-scaling analysis.

Expected values come from closed forms (SCIENCE.md §4: E[ratio²] = (1 + L^{-2β}/2)^L − 1 for the
full ReLU model with Gaussian i.i.d. weights), from plain float64 recursions written here, and
from the existing analysis on records it did not produce itself. Monte Carlo comparisons state
their standard error and allow 4 of them.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_scale_cli import analysis, seeding
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments import inspect_block_stack as stk
from resnet_scale_cli.experiments.inspect_block import (
    InspectSpec,
    measure_inspect_cell,
    profile_positions,
    run_inspect,
    summarize_inspect,
)
from resnet_scale_cli.laws import sample_weights

ROOT = Path(__file__).resolve().parents[2]
MLP = str(ROOT / "examples" / "blocks.py") + ":mlp"
PRE_LN = str(ROOT / "examples" / "blocks.py") + ":pre_ln_mlp"
Z = 4.0  # allowed standard errors


@pytest.fixture(autouse=True)
def one_thread():
    """These cells are many small operations: one intra-op thread is faster, and immune to the
    slowdown of spinning OpenMP threads on a busy 2-core machine. Results do not depend on it."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def write_block(tmp_path: Path, body: str, name: str = "block.py") -> Path:
    path = tmp_path / name
    path.write_text("import math\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n"
                    + textwrap.dedent(body))
    return path


def values(record, quantity, j):
    v = np.array([np.nan if x is None else x for x in record["values"][quantity][j]])
    return v


# ----------------------------------------------------------------------------- the MLP example = the full model
@pytest.mark.slow  # statistical
@pytest.mark.parametrize("init", ["module", "moments"])
def test_mlp_reproduces_full_model_closed_form(init):
    """Gaussian i.i.d. weights, ReLU, isotropic input: E[ratio²] = (1 + L^{-2β}/2)^L − 1 for the
    output and the gradient ratio (exact for any d, L). Mean of 10^{2·log10 ratio} over 96 draws.
    init "moments" estimates the weights' standard deviation from 64 constructions (0.6 % s.e.,
    about 3 % on E[ratio²] at β = 1/2, below the test's standard error of 5 to 10 %)."""
    depth, n = 48, 96
    spec = InspectSpec(block=MLP, init=init, width=16, betas=(0.25, 0.5, 1.0), samples=n, depths=(depth,),
                       device="cpu", dtype="float64", profile_points=4)
    record = measure_inspect_cell(spec, depth)
    assert record["info"]["batching"] == "vmap"
    assert record["info"]["homogeneous"] is True
    for j, beta in enumerate(spec.betas):
        exact = (1 + depth ** (-2 * beta) / 2) ** depth - 1
        for quantity in ("output_log10", "gradient_log10"):
            squares = 10 ** (2 * values(record, quantity, j))
            mean, se = squares.mean(), squares.std(ddof=1) / math.sqrt(n)
            assert abs(mean - exact) < Z * se, (quantity, beta, mean, exact, se)


def _plain_full_model(law: str, depth: int, width: int, betas, n: int, seed: int, **law_options):
    """Plain float64 recursion of the built-in full model h + s V relu(W h) and its reverse pass,
    weights from the engine's law sampler (independent streams from the tool's)."""
    gens_v = [seeding.generator(seed, (99, i, 0)) for i in range(n)]
    gens_w = [seeding.generator(seed, (99, i, 1)) for i in range(n)]
    V = sample_weights(law, depth, width, gens_v, dtype=torch.float64, **law_options)
    W = sample_weights(law, depth, width, gens_w, dtype=torch.float64, **law_options)
    gen = torch.Generator().manual_seed(seed + 1)
    h0 = torch.randn(n, width, generator=gen, dtype=torch.float64)
    pL = torch.randn(n, width, generator=gen, dtype=torch.float64)
    out, grad = [], []
    for beta in betas:
        s = depth ** (-beta)
        h, masks = h0.clone(), []
        for k in range(depth):
            pre = torch.einsum("nij,nj->ni", W[:, k], h)
            masks.append((pre > 0).to(h.dtype))
            h = h + s * torch.einsum("nij,nj->ni", V[:, k], torch.relu(pre))
        p = pL.clone()
        for k in reversed(range(depth)):
            u = torch.einsum("nji,nj->ni", V[:, k], p) * masks[k]
            p = p + s * torch.einsum("nji,nj->ni", W[:, k], u)
        out.append(torch.log10((h - h0).norm(dim=-1) / h0.norm(dim=-1)).numpy())
        grad.append(torch.log10((p - pL).norm(dim=-1) / pL.norm(dim=-1)).numpy())
    return np.array(out), np.array(grad)


@pytest.mark.slow  # statistical
@pytest.mark.parametrize("law, options", [("rbf", {"lengthscale": 0.2}), ("tied", {})])
def test_mlp_reproduces_full_model_under_a_law(law, options):
    """Same law, L, β: the mean log10 ratios of the MLP block agree with a plain recursion of
    the full model within 4 standard errors of their difference (64 draws each)."""
    depth, n, betas = 32, 64, (0.5, 1.0)
    spec = InspectSpec(block=MLP, law=law, width=12, betas=betas, samples=n, depths=(depth,), device="cpu",
                       dtype="float64", profile_points=2, **options)
    record = measure_inspect_cell(spec, depth)
    out, grad = _plain_full_model(law, depth, 12, betas, n, seed=5, **options)
    for j in range(len(betas)):
        for quantity, ref in (("output_log10", out[j]), ("gradient_log10", grad[j])):
            mine = values(record, quantity, j)
            se = math.sqrt(mine.var(ddof=1) / n + ref.var(ddof=1) / n)
            assert abs(mine.mean() - ref.mean()) < Z * se, (law, quantity, betas[j], mine.mean(), ref.mean(), se)


@pytest.mark.slow  # statistical
def test_mlp_critical_beta_iid_is_one_half():
    """Theorem (Marion et al., output ratio, full model, i.i.d. weights): critical β = 1/2."""
    spec = InspectSpec(block=MLP, width=16, depths=(16, 64, 256), betas=(0.3, 0.4, 0.5, 0.6, 0.7), samples=24,
                       device="cpu", profile_points=8)
    document = run_inspect(spec)
    (entry,) = document["critical"]
    low, high = entry["interval"]
    assert low is not None and high is not None
    assert low <= 0.5 <= high, entry
    assert high - low < 0.35
    assert entry["theory_reference"] == 0.5 and entry["theory_basis"]["kind"] == "comparison" and "not a theorem" in entry["theory_basis"]["statement"]
    assert document["spec"]["parameters"] == 2 * 16 * 16
    assert document["spec"]["block"] == MLP
    assert len(document["cells"]) == 3 * 5 and len(document["profiles"]) == 3 * 5
    json.dumps(document, allow_nan=False)


@pytest.mark.slow  # statistical
def test_layernorm_block_gives_a_measured_critical_beta():
    """Pre-LN MLP: LN(h) makes f bounded and not homogeneous; the increments are
    conditionally centered, so (first-order argument) the critical β is near 1/2."""
    spec = InspectSpec(block=PRE_LN, width=16, depths=(16, 64, 256), betas=(0.2, 0.35, 0.5, 0.65, 0.8), samples=16,
                       device="cpu", profile_points=4)
    document = run_inspect(spec)
    (entry,) = document["critical"]
    assert document["spec"]["homogeneous_detected"] is False and document["spec"]["homogeneous"] == "auto"
    assert entry["critical_beta"] is not None and None not in entry["interval"]
    assert 0.3 < entry["critical_beta"] < 0.7, entry
    assert "norm" in document["profiles"][0]["modules_log10"]


# ----------------------------------------------------------------------------- records and the analysis
def test_records_have_the_grid_cell_shape_and_chunking_does_not_matter():
    spec = InspectSpec(block=MLP, width=8, betas=(0.5, 1.0), samples=6, draws=3, depths=(10,), device="cpu",
                       profile_points=4)
    record = measure_inspect_cell(spec, 10)
    assert set(record) == {"cell", "betas", "inputs_per_draw", "results", "values", "info", "profiles"}
    assert record["cell"] == {"law": "iid", "depth": 10} and record["inputs_per_draw"] == 2
    assert set(record["results"][0]) == {"beta", "depth", "output_log10", "output_norm_log10", "gradient_log10",
                                         "gradient_norm_log10", "samples", "overflowed", "regime", "median_interval"}
    assert all(len(row) == 6 for row in record["values"]["output_log10"])
    for key in ("device", "grad_method_used", "checkpoint_every"):
        assert key in record["info"]
    small = measure_inspect_cell(spec.replace(memory_gb=1e-9), 10)  # one draw per chunk
    assert small["info"]["draws_per_chunk"] == 1
    np.testing.assert_allclose(np.array(small["values"]["output_log10"], dtype=float),
                               np.array(record["values"]["output_log10"], dtype=float), rtol=0, atol=1e-6)
    fbm = InspectSpec(block=MLP, law="fbm", hurst=0.7, width=8, betas=(0.5,), samples=2, depths=(6,), device="cpu")
    assert measure_inspect_cell(fbm, 6)["cell"] == {"law": "fbm", "hurst": 0.7, "depth": 6}
    # records that went through JSON analyze like the built-in cells
    records = [json.loads(json.dumps(measure_inspect_cell(spec, L))) for L in (10, 40)]
    summary = summarize_inspect(spec, records)
    assert summary["critical"][0]["depths"] == [10, 40] and "gradient" in summary["critical"][0]
    assert analysis.analyze(records, seed=0)[0]["regimes"] == summary["critical"][0]["regimes"]


@pytest.mark.slow
def test_homogeneous_block_carries_log_norms_past_the_float_range():
    """β = 0, L = 800: the ReLU MLP's ratio is far beyond float32's 10^38.5 (E ratio² = 1.5^800
    ≈ 10^141; the median log10 ratio is lower, ≈ 53 at d = 8); log-norm carrying keeps every
    sample finite."""
    spec = InspectSpec(block=MLP, width=8, betas=(0.0,), samples=4, depths=(800,), device="cpu", profile_points=4)
    record = measure_inspect_cell(spec, 800)
    row = record["results"][0]
    assert record["info"]["log_norm_carrying"] and row["overflowed"] == 0
    assert row["output_log10"]["median"] > 39 and row["gradient_log10"]["median"] > 39
    assert record["profiles"][0]["state_log10"][-1] > 39


def test_nonhomogeneous_overflow_is_flagged(tmp_path):
    path = write_block(tmp_path, """
        class G(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.W = nn.Parameter(torch.randn(width, width) * 2 / math.sqrt(width))
            def forward(self, h):
                return F.gelu(h @ self.W.T)
        def gelu(width):
            return G(width)
    """)
    spec = InspectSpec(block=f"{path}:gelu", width=8, betas=(0.0, 1.0), samples=3, depths=(300,), device="cpu",
                       profile_points=4)
    record = measure_inspect_cell(spec, 300)
    assert record["info"]["homogeneous"] is False
    explode, calm = record["results"]
    assert explode["overflowed"] == 3 and explode["regime"] == "explosion" and explode["output_log10"] is None
    assert all(v is None for v in record["values"]["output_log10"][0])
    assert calm["overflowed"] == 0


# ----------------------------------------------------------------------------- profiles see every layer
FAST_PATH = """
    class Fused(nn.Module):
        '''outer's forward never runs: its weight is used through a functional "fast path".'''
        def __init__(self, width):
            super().__init__()
            self.inner = nn.Linear(width, width, bias=False)
            self.outer = nn.Linear(width, width, bias=False)
            grid = torch.arange(width * width, dtype=torch.float64).reshape(width, width)
            with torch.no_grad():  # deterministic weights: every draw and layer alike
                self.inner.weight.copy_(torch.sin(grid) / math.sqrt(width))
                self.outer.weight.copy_(torch.cos(1.7 * grid) / math.sqrt(width))
        def forward(self, h):
            return F.linear(F.leaky_relu(self.inner(h), 0.2), self.outer.weight)
    def fused(width):
        return Fused(width)
"""


def test_profiles_see_every_layer_and_name_skipped_submodules(tmp_path):
    d, depth, beta = 6, 20, 0.0  # β = 0: the state grows, so log-norm carrying is exercised too
    path = write_block(tmp_path, FAST_PATH)
    x = np.random.default_rng(3).standard_normal(d)
    np.save(tmp_path / "x.npy", x)
    spec = InspectSpec(block=f"{path}:fused", width=d, betas=(beta,), samples=1, depths=(depth,), device="cpu",
                       dtype="float64", inputs=str(tmp_path / "x.npy"))
    record = measure_inspect_cell(spec, depth)
    assert record["info"]["profile_modules_unrecorded"] == ["outer"] and record["info"]["log_norm_carrying"]
    prof = record["profiles"][0]
    assert prof["k"] == list(range(1, depth + 1))
    assert set(prof["modules_log10"]) == {"inner"}
    # plain float64 recursion and reverse pass
    g = torch.arange(d * d, dtype=torch.float64).reshape(d, d)
    # the block's nn.Linear weights are float32 copies; the tool runs them in float64
    Wi, Wo = ((torch.sin(g) / math.sqrt(d)).float().double(), (torch.cos(1.7 * g) / math.sqrt(d)).float().double())
    s = depth ** (-beta)
    h = [torch.as_tensor(x)]
    incs, inner = [], []
    for _ in range(depth):
        pre = Wi @ h[-1]
        inner.append(math.log10(pre.norm() / h[-1].norm()))
        incs.append(s * Wo @ torch.nn.functional.leaky_relu(pre, 0.2))
        h.append(h[-1] + incs[-1])
    n0 = h[0].norm()
    pL = torch.randn(d, generator=seeding.generator(0, spec_key(spec, depth) + (0, seeding.READOUT)), dtype=torch.float64)
    p = [pL]
    for k in reversed(range(depth)):
        mask = 0.2 + 0.8 * (Wi @ h[k] > 0).to(torch.float64)
        p.insert(0, p[0] + s * Wi.T @ (mask * (Wo.T @ p[0])))
    np.testing.assert_allclose(prof["state_log10"], [math.log10(h[k].norm() / n0) for k in range(1, depth + 1)], atol=1e-9)
    np.testing.assert_allclose(prof["increment_log10"], [math.log10(v.norm() / n0) for v in incs], atol=1e-9)
    np.testing.assert_allclose(prof["gradient_log10"], [math.log10(p[k].norm() / pL.norm()) for k in range(1, depth + 1)],
                               atol=1e-9)
    np.testing.assert_allclose(prof["modules_log10"]["inner"], inner, atol=1e-9)
    assert record["values"]["output_log10"][0][0] == pytest.approx(math.log10((h[-1] - h[0]).norm() / n0), abs=1e-9)
    assert record["values"]["gradient_log10"][0][0] == pytest.approx(math.log10((p[0] - pL).norm() / pL.norm()), abs=1e-9)


def spec_key(spec, depth):
    from resnet_scale_cli.experiments.inspect_block import cell_key

    return cell_key(spec, depth)


def test_profile_positions():
    assert profile_positions(5, 64) == [1, 2, 3, 4, 5]
    pos = profile_positions(1000, 64)
    assert len(pos) == 64 and pos[-1] == 1000 and pos == sorted(set(pos))


def test_loop_fallback_is_detected_and_recorded(tmp_path):
    path = write_block(tmp_path, """
        class Branchy(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.W = nn.Parameter(torch.randn(width, width) / math.sqrt(width))
            def forward(self, h):
                if h.sum() > 0:  # data-dependent control flow: vmap cannot run it
                    return torch.relu(h @ self.W.T)
                return -torch.relu(h @ self.W.T)
        def branchy(width):
            return Branchy(width)
    """)
    spec = InspectSpec(block=f"{path}:branchy", width=4, betas=(0.5,), samples=3, depths=(8,), device="cpu",
                       profile_points=4)
    record = measure_inspect_cell(spec, 8)
    assert record["info"]["batching"] == "loop" and "vmap failed" in record["info"]["batching_reason"]
    assert record["results"][0]["overflowed"] == 0


def test_layer_and_depth_keywords_reach_the_factory(tmp_path):
    path = write_block(tmp_path, """
        CALLS = []
        def scaled(width, layer, depth):
            CALLS.append((layer, depth))
            m = nn.Linear(width, width, bias=False)
            return nn.Sequential(m, nn.ReLU())
    """)
    spec = InspectSpec(block=f"{path}:scaled", law="rbf", width=4, betas=(0.5,), samples=2, depths=(5,), device="cpu")
    record = measure_inspect_cell(spec, 5)
    assert record["info"]["factory_keywords"] == ["width", "layer", "depth"]
    module = stk._FILE_MODULES[next(k for k in stk._FILE_MODULES if k[0] == str(path.resolve()))]
    assert {layer for layer, depth in module.CALLS} == set(range(5)) and {d for _, d in module.CALLS} == {5}
    assert record["info"]["moments"]["per_layer"] is True


def test_law_paths_keep_the_initialization_moments(tmp_path):
    """tied: one value per scalar for every layer; LayerNorm's constant weight stays 1;
    a N(0, 1/d) weight keeps standard deviation 1/√d."""
    block = stk.load_block(PRE_LN)
    layout = stk.Layout.of(block.build(16, 0, 4), PRE_LN)
    mean, std, info = stk.reference_moments(block, layout, 16, 4, 0, (1, 2, 16, 4))
    views_mean, views_std = layout.views(mean), layout.views(std)
    assert torch.all(views_mean["norm.weight"] == 1) and torch.all(views_std["norm.weight"] == 0)
    assert torch.all(views_mean["fc1.weight"] == 0)
    # U(±1/√16): standard deviation 1/√(3·16); pooled over 64 × 1024 entries (s.e. ≈ 0.2 %)
    assert float(views_std["fc1.weight"][0, 0]) == pytest.approx(1 / math.sqrt(48), rel=0.02)
    flat = stk.sample_stack(block, layout, law="tied", width=16, depth=4, draws=range(2), root_seed=0, key=(1, 2, 16, 4),
                            dtype=torch.float64, device=torch.device("cpu"), moments=(mean, std))
    assert flat.shape == (4, 2, layout.numel)
    assert torch.equal(flat[0], flat[3]) and not torch.equal(flat[0, 0], flat[0, 1])
    assert torch.all(layout.views(flat)["norm.weight"] == 1)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("body, factory, cause", [
    ("import not_a_module_anywhere_xyz\n", "f", "importing"),
    ("def f(width):\n    return nn.Linear(width, width)\n", "missing", "has no attribute 'missing'"),
    ("def f(width):\n    return 3\n", "f", "not a torch.nn.Module"),
    ("def f(width):\n    return nn.Linear(width, width + 1)\n", "f", "output shape"),
    ("class N(nn.Module):\n    def forward(self, h):\n        return h * float('nan')\n"
     "def f(width):\n    return N()\n", "f", "NaN"),
    ("def f(width):\n    raise RuntimeError('bad\\nthings')\n", "f", "the factory raised"),
    ("def f(size):\n    return nn.Identity()\n", "f", "must accept width="),
    ("def f(width):\n    return nn.Sequential(nn.Linear(width, 3), nn.Linear(4, width))\n", "f", "forward failed"),
])
def test_factory_errors_are_one_line_spec_errors(tmp_path, body, factory, cause):
    path = write_block(tmp_path, body)
    text = f"{path}:{factory}"
    spec = InspectSpec(block=text, width=4, betas=(0.5,), samples=1, depths=(3,), device="cpu")
    with pytest.raises(SpecError) as info:
        measure_inspect_cell(spec, 3)
    message = str(info.value)
    assert "\n" not in message and text in message and cause in message, message


def test_bad_block_text_inputs_and_settings(tmp_path):
    with pytest.raises(SpecError, match="BLOCK must be"):
        InspectSpec(block="no_colon_here")
    with pytest.raises(SpecError, match="no such file"):
        measure_inspect_cell(InspectSpec(block="nowhere/missing.py:f", depths=(3,), device="cpu"), 3)
    with pytest.raises(SpecError, match="importing no_such_pkg_xyz.mod failed"):
        measure_inspect_cell(InspectSpec(block="no_such_pkg_xyz.mod:f", depths=(3,), device="cpu"), 3)
    with pytest.raises(SpecError, match="--input-shape"):
        InspectSpec(block=MLP, input_shape="3,x")
    assert InspectSpec(block=MLP, input_shape="3,32,32", depths="10,100", betas="0:1:3").input_shape == (3, 32, 32)
    with pytest.raises(SpecError, match="--profile-points"):
        InspectSpec(block=MLP, profile_points=65)
    with pytest.raises(SpecError, match="--homogeneous"):
        InspectSpec(block=MLP, homogeneous="maybe")
    with pytest.raises(SpecError, match="^BLOCK: name the block"):
        InspectSpec()
    with pytest.raises(SpecError, match="--dist applies to law paths"):
        InspectSpec(block=MLP, dist="rademacher")
    objects = np.array([{"a": 1}, None], dtype=object)
    np.save(tmp_path / "obj.npy", objects, allow_pickle=True)
    spec = InspectSpec(block=MLP, width=4, samples=1, depths=(3,), device="cpu", inputs=str(tmp_path / "obj.npy"))
    with pytest.raises(SpecError, match="pickled object arrays are refused"):
        measure_inspect_cell(spec, 3)
    np.save(tmp_path / "wrong.npy", np.ones((2, 5)))
    with pytest.raises(SpecError, match="neither --input-shape"):
        measure_inspect_cell(spec.replace(inputs=str(tmp_path / "wrong.npy"), input_shape=(4,)), 3)


def test_module_path_and_conv_block(monkeypatch):
    """`package.module:factory` from the working directory; a conv block on (C, H, W) inputs."""
    monkeypatch.chdir(ROOT)
    spec = InspectSpec(block="examples.blocks:basic_block", width=3, input_shape=(3, 5, 5), betas=(0.0, 1.0),
                       samples=2, depths=(40,), device="cpu", profile_points=4)
    record = measure_inspect_cell(spec, 40)
    assert record["info"]["homogeneous"] is True and record["info"]["batching"] == "vmap"
    assert record["info"]["parameters"] == 2 * 3 * 3 * 9
    assert set(record["profiles"][0]["modules_log10"]) == {"conv1", "relu", "conv2"}
    assert record["results"][0]["output_log10"]["median"] > record["results"][1]["output_log10"]["median"]
