"""Weight laws against theory: covariances, moments, and the `fbm` package as an oracle.

Every statistical assertion compares an estimate with theory at a tolerance of Z standard
errors, the standard error estimated from independent paths; Z = 4.5 keeps the family-wise
false-alarm rate of the whole file below 1e-3 (Bonferroni over < 200 comparisons).
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from resnet_scale_cli import seeding
from resnet_scale_cli.analysis.autocorrelation import autocovariance, hurst_estimate
from resnet_scale_cli.laws.fbm import _circulant_sqrt_eigenvalues
from resnet_scale_cli.laws import sample_fgn, sample_paths, sample_weights

Z = 4.5


def fgn_autocovariance(hurst, lags):
    """Closed form, written here and not imported: γ(0) = 1, γ(1) = 2^{2H−1} − 1 and in general
    γ(k) = ½(|k+1|^{2H} − 2|k|^{2H} + |k−1|^{2H}) for unit-variance fractional Gaussian noise."""
    k = np.abs(np.asarray(lags, dtype=np.float64))
    return 0.5 * (np.abs(k + 1) ** (2 * hurst) - 2 * k ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))


def rbf_kernel_matrix(depth, ell):
    """K_kl = exp(−((k − l)/L)²/(2ℓ²)), the RBF covariance of G(k/L) (formula, not scikit-learn)."""
    k = np.arange(depth, dtype=np.float64)
    return np.exp(-(((k[:, None] - k[None, :]) / depth) ** 2) / (2 * ell**2))


def test_closed_forms_used_as_references():
    assert fgn_autocovariance(0.7, [0, 1])[1] == pytest.approx(2 ** (2 * 0.7 - 1) - 1, rel=1e-12)
    assert fgn_autocovariance(0.5, [0, 1, 5]).tolist() == [1.0, 0.0, 0.0]  # Brownian increments
    # γ(k) ~ H(2H − 1) k^{2H−2} for large k
    assert fgn_autocovariance(0.8, [10**4])[0] == pytest.approx(0.8 * 0.6 * (10**4) ** (-0.4), rel=1e-4)


def gens(n, device="cpu", base=0):
    return [seeding.generator(1234, (base, i), device) for i in range(n)]


def paths_2d(tensor):
    """(draws, L, n_paths) -> (draws·n_paths, L) float64 numpy."""
    return tensor.transpose(1, 2).reshape(-1, tensor.shape[1]).double().cpu().numpy()


@pytest.mark.slow
@pytest.mark.parametrize("hurst", [0.2, 0.5, 0.8])
def test_fgn_autocovariance_matches_theory(hurst, device):
    paths = paths_2d(sample_fgn(hurst, 512, 2000, gens(2, device), dtype=torch.float64, device=device))
    emp, se = autocovariance(paths, 5)
    theory = fgn_autocovariance(hurst, np.arange(6))
    assert np.all(np.abs(emp - theory) < Z * se), (emp, theory, se)


def test_fgn_real_and_imaginary_paths_are_independent(device):
    from resnet_scale_cli.laws import PATH_CHUNK

    n = PATH_CHUNK  # one chunk per draw: path j and j + n/2 are the real and imaginary parts of one FFT
    raw = sample_fgn(0.7, 256, n, gens(8, device), dtype=torch.float64, device=device).cpu().numpy()  # (draws, L, n)
    real, imag = raw[:, :, : n // 2], raw[:, :, n // 2:]
    cross = (real * imag).mean(axis=1).ravel()  # per pair, lag-0 cross covariance, mean 0 if independent
    assert abs(cross.mean()) < Z * cross.std(ddof=1) / math.sqrt(cross.size)


def _davies_harte_by_chunks(hurst, depth, n_paths, gen, dtype, device, chunk):
    """The sampler's documented construction, written out one chunk at a time: ⌈n/2⌉ complex rows
    of 2L standard normals (`torch.randn` from the draw's generator), times √(λ_j / 2L) of the
    circulant c = (γ(0..L), γ(L−1..1)), FFT; the chunk's first ⌈n/2⌉ paths are the real parts of
    the first L entries, the rest the imaginary parts."""
    k = np.arange(depth + 1, dtype=np.float64)
    gamma = 0.5 * (np.abs(k + 1) ** (2 * hurst) - 2 * k ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))
    circulant = np.concatenate([gamma, gamma[-2:0:-1]])
    sqrt_eig = torch.as_tensor(np.sqrt(np.clip(np.fft.fft(circulant).real, 0, None) / circulant.size),
                               dtype=dtype, device=device)
    columns = []
    for first in range(0, n_paths, chunk):
        n = min(chunk, n_paths - first)
        half = (n + 1) // 2
        noise = torch.view_as_complex(torch.randn((half, 2 * depth, 2), generator=gen, dtype=dtype, device=device))
        spectrum = torch.fft.fft(noise * sqrt_eig, dim=-1)[:, :depth]
        columns += [spectrum.real.T, spectrum.imag[:n - half].T]
    return torch.cat(columns, dim=1)


@pytest.mark.parametrize("n_paths", [1, 255, 256, 300, 511, 512, 700, 1601])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fgn_chunks_sharing_one_fft_call_give_the_chunk_by_chunk_paths(monkeypatch, device, n_paths, dtype):
    """`FFT_GROUP_BYTES` (several chunks of 256 paths per FFT call, as on a GPU) changes how many
    FFT calls a draw takes, not a single number: one chunk per call, three, or all in one give the
    same paths bit for bit, and those are the construction written out chunk by chunk (to the
    rounding of its independently computed eigenvalues)."""
    from resnet_scale_cli.laws import PATH_CHUNK, fbm

    depth, itemsize = 100, torch.finfo(dtype).bits // 8
    calls = []
    real_fft = torch.fft.fft
    monkeypatch.setattr(torch.fft, "fft", lambda *a, **k: calls.append(1) or real_fft(*a, **k))
    kind = torch.device(device).type
    chunks = math.ceil(n_paths / PATH_CHUNK)
    runs = {}
    for per_call in (1, 3, chunks):
        monkeypatch.setitem(fbm.FFT_GROUP_BYTES, kind, per_call * (PATH_CHUNK // 2) * 2 * depth * 2 * itemsize)
        calls.clear()
        runs[per_call] = sample_paths("fbm", depth, n_paths, gens(2, device), hurst=0.7, dtype=dtype, device=device)
        assert len(calls) == 2 * math.ceil(chunks / per_call)  # 2 draws
    assert torch.equal(runs[1], runs[3]) and torch.equal(runs[1], runs[chunks])
    monkeypatch.setattr(torch.fft, "fft", real_fft)
    for i, gen in enumerate(gens(2, device)):
        expected = _davies_harte_by_chunks(0.7, depth, n_paths, gen, dtype, device, PATH_CHUNK)
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(runs[1][i], expected, rtol=tol, atol=tol)


@pytest.mark.slow
@pytest.mark.parametrize("hurst", [0.3, 0.7])
def test_fgn_two_sample_test_against_fbm_package(hurst, device):
    """Kolmogorov–Smirnov on two path statistics: the endpoint B_L / L^H ~ N(0, 1) and the
    lag-1 autocovariance estimate; Bonferroni over 4 tests at family level 1 %."""
    depth, n = 256, 400
    ours = paths_2d(sample_paths("fbm", depth, n, gens(1, device), hurst=hurst, dtype=torch.float64, device=device))
    ref = paths_2d(sample_paths("fbm", depth, n, gens(1, device, base=1), hurst=hurst, fbm_backend="fbm",
                             dtype=torch.float64, device=device))
    for stat in (lambda p: p.sum(axis=1) / depth**hurst, lambda p: (p[:, 1:] * p[:, :-1]).mean(axis=1)):
        assert stats.ks_2samp(stat(ours), stat(ref)).pvalue > 0.01 / 4


def test_fbm_package_reference_has_unit_variance_and_known_lag1(device):
    paths = paths_2d(sample_paths("fbm", 128, 300, gens(1, device), hurst=0.8, fbm_backend="fbm", dtype=torch.float64,
                                 device=device))
    emp, se = autocovariance(paths, 1)
    assert np.all(np.abs(emp - fgn_autocovariance(0.8, [0, 1])) < Z * se)


@pytest.mark.parametrize("hurst", [0.95, 0.99])
def test_fgn_high_hurst_is_exact_by_fft(hurst, device):
    """Where the `fbm` package falls back to an O(L²) method, the embedding with γ(L) stays
    non-negative definite: the FFT sampler works and matches theory."""
    for depth in (10, 100, 1000, 4096):
        assert np.all(np.isfinite(_circulant_sqrt_eigenvalues(hurst, depth)))
    paths = paths_2d(sample_fgn(hurst, 4096, 512, gens(1, device), dtype=torch.float64, device=device))
    emp, se = autocovariance(paths, 5)
    assert np.all(np.abs(emp - fgn_autocovariance(hurst, np.arange(6))) < Z * se)


def test_hurst_estimate_recovers_h(device):
    """Over 8 seeds at L = 1024 with 1600 paths, Ĥ had standard deviation ≤ 0.0022 and bias
    ≤ 0.0011 for H ∈ {0.2, 0.5, 0.8}: 0.01 is about 4 standard deviations."""
    for hurst in (0.2, 0.5, 0.8):
        paths = paths_2d(sample_fgn(hurst, 1024, 1600, gens(1, device), dtype=torch.float64, device=device))
        assert abs(hurst_estimate(paths) - hurst) < 0.01


def test_rbf_covariance_matches_kernel(device):
    depth, n, ell = 48, 20000, 0.1
    paths = paths_2d(sample_paths("rbf", depth, n, gens(1, device), lengthscale=ell, dtype=torch.float64, device=device))
    emp = paths.T @ paths / n
    kernel = rbf_kernel_matrix(depth, ell)
    # Gaussian: Var(x_i x_j) = K_ii K_jj + K_ij²; Bonferroni over depth² entries at level 1e-3
    se = np.sqrt((np.outer(np.diag(kernel), np.diag(kernel)) + kernel**2) / n)
    z = stats.norm.isf(1e-3 / (2 * depth**2))
    assert np.all(np.abs(emp - kernel) < z * se)


@pytest.mark.parametrize("dist,fourth,sixth", [("gaussian", 3.0, 15.0), ("rademacher", 1.0, 1.0), ("uniform", 9 / 5, 27 / 7)])
def test_iid_moments(dist, fourth, sixth, device):
    d = 20
    w = sample_weights("iid", 200, d, gens(4, device), dist=dist, dtype=torch.float64, device=device)
    x = (w * math.sqrt(d)).flatten().cpu().numpy()
    n = x.size
    assert abs(x.mean()) < Z / math.sqrt(n)  # mean 0, unit variance of √d V
    assert abs((x**2).mean() - 1.0) <= Z * math.sqrt((fourth - 1.0) / n) + 1e-12  # variance 1/d per entry of V
    assert abs((x**3).mean()) < Z * math.sqrt(sixth / n)  # symmetric: third moment 0
    if dist == "rademacher":
        assert np.allclose(np.abs(x), 1.0)
    if dist == "uniform":
        assert np.abs(x).max() <= math.sqrt(3.0)


@pytest.mark.parametrize("law", ["iid", "rbf", "fbm"])
def test_weights_shape_and_variance(law, device):
    d, depth = 16, 256
    w = sample_weights(law, depth, d, gens(3, device), hurst=0.7, lengthscale=0.2, dtype=torch.float64, device=device)
    assert w.shape == (3, depth, d, d)
    # entries of √d V have unit variance. Each (draw, i, j) entry path is independent of the others,
    # so the standard error of the variance estimate comes from the 768 per-path means of x²
    # (for i.i.d. weights it is √(2/196608) ≈ 0.0032; larger for correlated paths)
    per_path = (paths_2d(w.reshape(3, depth, d * d)) ** 2).mean(axis=1) * d
    se = per_path.std(ddof=1) / math.sqrt(per_path.size)
    assert abs(per_path.mean() - 1.0) < Z * se
    if law == "iid":
        assert se == pytest.approx(math.sqrt(2 / (3 * depth * d * d)), rel=0.1)


@pytest.mark.parametrize("law", ["iid", "rbf", "fbm"])
def test_a_draw_does_not_depend_on_its_batch(law, device):
    both = sample_weights(law, 64, 5, gens(2, device), hurst=0.3, dtype=torch.float64, device=device)
    alone = sample_weights(law, 64, 5, gens(2, device)[1:], hurst=0.3, dtype=torch.float64, device=device)
    assert torch.allclose(both[1], alone[0], rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- written from the mutation run's survivors
LAW_CASES = [("iid", {"dist": "gaussian"}), ("iid", {"dist": "uniform"}), ("rbf", {"lengthscale": 0.2}),
             ("fbm", {"hurst": 0.7}), ("tied", {})]


@pytest.mark.parametrize("law,settings", LAW_CASES, ids=lambda x: x if isinstance(x, str) else "-".join(map(str, x.values())))
def test_float64_draws_carry_float64_precision(law, settings, device):
    """Asked for float64, a law draws in float64: its numbers are not float32 numbers widened
    (a float32 draw copied into a float64 tensor is exactly representable in float32)."""
    tensors = [sample_paths(law, 32, 40, gens(2, device), dtype=torch.float64, device=device, **settings),
               sample_weights(law, 32, 4, gens(2, device), dtype=torch.float64, device=device, **settings)]
    if law == "fbm":
        tensors.append(sample_fgn(settings["hurst"], 32, 40, gens(2, device), dtype=torch.float64, device=device))
    for tensor in tensors:
        assert tensor.dtype == torch.float64
        widened = tensor.float().double()
        assert (tensor != widened).double().mean() > 0.99


@pytest.mark.parametrize("law,settings", [("iid", {"dist": "rademacher"}), ("fbm", {"hurst": 0.7, "fbm_backend": "fbm"})])
def test_draws_follow_their_generator_not_the_global_seeds(law, settings):
    """Reproducible from the draw's generator alone: the global torch and NumPy seeds change
    nothing, another generator seed changes every path."""
    def draw(base, global_seed):
        torch.manual_seed(global_seed)
        np.random.seed(global_seed)
        return sample_paths(law, 32, 6, gens(1, base=base), dtype=torch.float64, **settings)

    first, again, other = draw(0, 100), draw(0, 200), draw(1, 100)
    assert torch.equal(first, again)
    assert (first != other).any(dim=1).all()  # every path (draw, column) differs somewhere in depth


def test_fbm_package_reference_gives_distinct_paths_to_distinct_draws():
    """Each draw seeds NumPy from its own generator over [0, 2³¹ − 1): 40 draws give 40 different
    paths (a seed range of ~60 values would repeat one with probability > 0.999)."""
    paths = sample_paths("fbm", 8, 1, gens(40), hurst=0.7, fbm_backend="fbm", dtype=torch.float64)[:, :, 0]
    assert len({tuple(p.tolist()) for p in paths}) == 40


def test_the_reference_backend_is_the_fbm_package_not_the_fft_sampler():
    """`fbm_backend = "fbm"` really switches sampler: from the same generators the two backends
    give different paths (the FFT sampler's are a deterministic function of the generator)."""
    fft = sample_paths("fbm", 32, 4, gens(1), hurst=0.7, dtype=torch.float64)
    package = sample_paths("fbm", 32, 4, gens(1), hurst=0.7, fbm_backend="fbm", dtype=torch.float64)
    assert not torch.allclose(fft, package)


@pytest.mark.parametrize("law,settings", LAW_CASES + [("iid", {"dist": "rademacher"}), ("fbm", {"hurst": 0.7, "fbm_backend": "fbm"})],
                         ids=lambda x: x if isinstance(x, str) else "-".join(map(str, x.values())))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_sampler_returns_the_same_numbers_with_or_without_out(law, settings, dtype):
    """The `Law` contract: `draw(n, gen)` returns a new (L, n) tensor of the asked dtype,
    `draw(n, gen, out=view)` writes the same numbers into the view."""
    from resnet_scale_cli.laws import LAWS
    from resnet_scale_cli.laws.sampling import LAW_SETTINGS

    full = {**LAW_SETTINGS, **settings}
    fresh = LAWS[law].sampler(16, full, dtype, "cpu")(5, gens(1)[0])
    into = torch.full((16, 5), float("nan"), dtype=dtype)
    LAWS[law].sampler(16, full, dtype, "cpu")(5, gens(1)[0], out=into)
    assert fresh.shape == (16, 5) and fresh.dtype == dtype and torch.equal(fresh, into)


def test_the_documented_defaults_of_sample_paths():
    """Without dist, hurst or lengthscale: Gaussian entries, H = 1/2, ℓ = 0.1 (the signature's
    documented defaults) — the same numbers as when they are given."""
    for law, given in (("iid", {"dist": "gaussian"}), ("fbm", {"hurst": 0.5}), ("rbf", {"lengthscale": 0.1})):
        assert torch.equal(sample_paths(law, 16, 8, gens(1), dtype=torch.float64),
                           sample_paths(law, 16, 8, gens(1), dtype=torch.float64, **given)), law
    x = sample_paths("iid", 64, 64, gens(1), dtype=torch.float64)
    assert x.abs().max() > 3 ** 0.5 and not torch.all(x.abs() == 1)  # neither uniform nor Rademacher


def test_theory_autocorrelations_are_the_closed_forms():
    from resnet_scale_cli.laws import theory_autocorrelation

    lags = np.array([0, 1, 7, 40])
    assert theory_autocorrelation("iid", lags, 100).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert theory_autocorrelation("tied", lags, 100).tolist() == [1.0, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(theory_autocorrelation("fbm", lags, 100, hurst=0.3), fgn_autocovariance(0.3, lags), rtol=1e-13)
    # RBF in depth-time k/L: exp(−(k/L)²/(2ℓ²)) — depends on L
    for depth in (50, 100):
        np.testing.assert_allclose(theory_autocorrelation("rbf", lags, depth, lengthscale=0.25),
                                   np.exp(-((lags / depth) ** 2) / (2 * 0.25**2)), rtol=1e-13)


def test_parameter_symbols_and_labels():
    from resnet_scale_cli.laws import law_entry, parameter_symbol, setting_label

    assert (parameter_symbol("hurst"), parameter_symbol("lengthscale")) == ("H", "ℓ")
    assert setting_label({"hurst": 0.7, "beta": 1.0, "width": 8}) == "H = 0.7"
    assert setting_label({"lengthscale": 0.25}, compact=True, lead=" ") == " ℓ=0.25"
    assert setting_label({"beta": 1.0}) == "" and setting_label({"beta": 1.0}, lead=" ") == ""
    assert law_entry("iid").label({"dist": "rademacher"}) == "iid (rademacher)"
    assert law_entry("fbm").label({"hurst": 0.7}) == "fbm (H = 0.7)"
    assert law_entry("tied").label({}) == "tied"


def test_weights_into_a_wrong_buffer_are_refused_naming_both_shapes():
    with pytest.raises(ValueError, match=r"out is \(2, 3, 4, 5\) torch.float64, expected \(2, 3, 4, 4\) torch.float64"):
        sample_weights("iid", 3, 4, gens(2), dtype=torch.float64, out=torch.empty((2, 3, 4, 5), dtype=torch.float64))
