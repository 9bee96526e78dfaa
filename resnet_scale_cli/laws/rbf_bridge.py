"""The same RBF Gaussian-process path, refined: values at the fine times (k + j/r)/L drawn from
the GP conditioned on the coarse values θ(m/L), m = 1..L — what the Brownian bridge is for i.i.d.
increments.

The coarse values are the ones the `rbf` law draws: chol(K_cc + εI) z, so they are G(m/L) + e_m
with G the GP (covariance k(s, t) = exp(−(s − t)²/(2ℓ²)), unit variance) and e a white nugget of
variance ε (the sampler's jitter, 10⁻¹⁰ unless the kernel needs more). The fine values are the
exact conditional law of G given those values (mean K_fc (K_cc + εI)⁻¹ θ_c, covariance
K_ff − K_fc (K_cc + εI)⁻¹ K_cf), sampled pathwise (Matheron's rule): a prior path G̃ and its own
noisy coarse values ỹ = G̃(m/L) + √ε ξ, then

    θ_f = G̃_f + K_fW (K_WW + εI)⁻¹ (θ_W − ỹ_W),

and θ = θ_c exactly at the coarse times. W is a window of coarse points around each block of
fine times (w on each side); with W = every coarse point this is the exact conditional law. A
window only widens the law: coupled through the same prior path, it moves each fine value by
RMS √(2(σ²_W − σ²_all)) (σ² the conditional variances given the window and given every coarse
value; a Wasserstein-2 bound), which `BridgePlan.window_error` reports and the window is chosen
to keep at or below √ε.

The prior path is a discrete process convolution G̃(t) = Σ_j g(t − u_j) √δ Z_j with
g(τ) = (2/π)^{1/4} ℓ^{-1/2} exp(−τ²/ℓ²) (g ∗ g = k), Z_j i.i.d. N(0, 1) on the grid u_j of
spacing δ = ℓ/4 covering [−6.5ℓ, 1 + 6.5ℓ]: its covariance is k up to a relative 2e^{−π²ℓ²/(2δ²)}
(≈ 10⁻³⁴, Poisson summation) and e^{−2·6.5²} (the cut tails), i.e. exact in float64, and each
value needs the ~52 noise points nearest it, so the path is made block by block.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from resnet_scale_cli.threads import one_blas_thread

if TYPE_CHECKING:
    import torch

#: noise points per lengthscale of the prior's convolution grid (δ = ℓ/SPREAD)
SPREAD = 4
#: the convolution kernel g is used within REACH·ℓ of a time (the omitted variance is e^{−2·REACH²})
REACH = 6.5
#: windows tried, in coarse points on each side of a block; the first whose error is ≤ √ε is used
WINDOWS = (8, 16, 32, 64)
#: the window error is computed against every coarse value up to this depth, beyond it against
#: the EXACT_REFERENCE coarse values nearest the block
EXACT_REFERENCE = 1024
#: the jitter ladder of the rbf law's Cholesky (the smallest that factorizes is used)
JITTERS = tuple(10.0**e for e in range(-10, -2))


def kernel(a: np.ndarray, b: np.ndarray, lengthscale: float) -> np.ndarray:
    """k(s, t) = exp(−(s − t)²/(2ℓ²)) between the times a (n,) and b (m,): (n, m)."""
    return np.exp(-((a[:, None] - b[None, :]) ** 2) / (2.0 * lengthscale**2))


def coarse_jitter(depth: int, lengthscale: float) -> float:
    """ε of the rbf law at this depth: the coarse values are chol(K_cc + εI) z. Read off its
    cached factor C (CCᵀ = K_cc + εI, diag K_cc = 1), snapped to the law's jitter ladder."""
    from resnet_scale_cli.laws.rbf import _rbf_cholesky

    chol = _rbf_cholesky(int(depth), float(lengthscale))
    estimate = float(np.mean(np.sum(chol**2, axis=1)) - 1.0)
    nearest = min(JITTERS, key=lambda j: abs(math.log10(j) - math.log10(max(estimate, 1e-300))))
    return nearest if abs(estimate - nearest) <= 1e-3 * nearest else max(estimate, 0.0)


def fine_times(depth: int, refinement: int, k0: int, k1: int) -> np.ndarray:
    """The non-coarse fine times (k + j/r)/L of the coarse steps k0..k1−1, j = 1..r−1: (n·(r−1),),
    step-major (the times j = r are the coarse values themselves)."""
    k = np.arange(k0, k1, dtype=np.float64)[:, None]
    return ((k + np.arange(1, refinement)[None, :] / refinement) / depth).reshape(-1)


def window_of(depth: int, window: int, k0: int, k1: int) -> tuple[int, int]:
    """Coarse indices [c0, c1) (node m = index + 1 at time m/L) within `window` steps of the steps
    k0..k1−1, whose end times are (k0 + 1)/L … k1/L."""
    return max(0, k0 - window), min(depth, k1 + window)


@dataclass(frozen=True)
class BridgePlan:
    """How the fine path of one (L, r, ℓ) is made: the coarse jitter ε, the window w (coarse
    points on each side of a block; w ≥ L: every coarse point, the exact conditional law), the
    bound on the window's error (RMS per fine value, relative to the GP's s.d.), and the prior's
    noise grid u_j = u0 + j δ, j < n_noise."""

    depth: int
    refinement: int
    lengthscale: float
    jitter: float
    window: int
    window_error: float
    exact: bool
    u0: float
    delta: float
    n_noise: int

    @property
    def path_error(self) -> float:
        """What separates the reference's path from an exact conditional path of a jitter-free GP,
        relative to the GP's s.d.: the window's error, plus the nugget √ε carried by the coarse
        values (the ResNet's own weights), which drive one fine step in r."""
        return self.window_error + math.sqrt(self.jitter) / self.refinement


def _conditional_variance(chol: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """1 − diag(K_fW (K_WW + εI)⁻¹ K_Wf) from the Cholesky factor of K_WW + εI and K_Wf."""
    from scipy.linalg import solve_triangular

    y = solve_triangular(chol, cross, lower=True, check_finite=False)
    return 1.0 - np.einsum("ij,ij->j", y, y)


def _window_factor(times_c: np.ndarray, lengthscale: float, jitter: float) -> np.ndarray:
    kc = kernel(times_c, times_c, lengthscale)
    kc[np.diag_indices_from(kc)] += jitter
    return np.linalg.cholesky(kc)


def _reference_variances(depth: int, refinement: int, lengthscale: float, jitter: float,
                         blocks: list[tuple[int, int]]) -> dict[tuple[int, int], np.ndarray]:
    """σ²_all at the fine times of each block: given every coarse value (L ≤ EXACT_REFERENCE),
    else given the EXACT_REFERENCE coarse values nearest the block."""
    from resnet_scale_cli.laws.rbf import _rbf_cholesky

    times_c = np.arange(1, depth + 1, dtype=np.float64) / depth
    out = {}
    if depth <= EXACT_REFERENCE:
        chol = _rbf_cholesky(depth, lengthscale)
        for k0, k1 in blocks:
            t = fine_times(depth, refinement, k0, k1)
            out[(k0, k1)] = _conditional_variance(chol, kernel(times_c, t, lengthscale))
        return out
    factors: dict[int, np.ndarray] = {}
    for k0, k1 in blocks:
        c0 = min(max(0, (k0 + k1) // 2 - EXACT_REFERENCE // 2), depth - EXACT_REFERENCE)
        if c0 not in factors:
            factors[c0] = _window_factor(times_c[c0:c0 + EXACT_REFERENCE], lengthscale, jitter)
        t = fine_times(depth, refinement, k0, k1)
        out[(k0, k1)] = _conditional_variance(factors[c0], kernel(times_c[c0:c0 + EXACT_REFERENCE], t, lengthscale))
    return out


def _blocks(depth: int, block: int) -> list[tuple[int, int]]:
    return [(k0, min(k0 + block, depth)) for k0 in range(0, depth, block)]


def window_errors(depth: int, refinement: int, lengthscale: float, jitter: float, window: int,
                  reference: dict[tuple[int, int], np.ndarray]) -> float:
    """max over the blocks in `reference` of √(2(σ²_W − σ²_all)) at their fine times."""
    times_c = np.arange(1, depth + 1, dtype=np.float64) / depth
    worst = 0.0
    for (k0, k1), var_all in reference.items():
        c0, c1 = window_of(depth, window, k0, k1)
        if c0 == 0 and c1 == depth:
            continue  # the window is every coarse point: exact
        t = fine_times(depth, refinement, k0, k1)
        var_w = _conditional_variance(_window_factor(times_c[c0:c1], lengthscale, jitter),
                                      kernel(times_c[c0:c1], t, lengthscale))
        worst = max(worst, float(np.sqrt(2.0 * np.clip(var_w - var_all, 0.0, None)).max()))
    return worst


@functools.lru_cache(maxsize=32)
def bridge_plan(depth: int, refinement: int, lengthscale: float, block: int = 8) -> BridgePlan:
    """The plan of one (L, r, ℓ) for blocks of `block` coarse steps: the smallest window of
    WINDOWS whose error is ≤ √ε (or every coarse point), checked on every block whose window
    reaches an end of [0, 1] and on the middle block (the others are translates of it)."""
    depth, refinement, lengthscale = int(depth), int(refinement), float(lengthscale)
    jitter = coarse_jitter(depth, lengthscale)
    blocks = _blocks(depth, block)
    edge = -(-WINDOWS[-1] // block) + 1
    chosen = sorted(set(blocks[:edge] + blocks[-edge:] + [blocks[len(blocks) // 2]]))
    window, error, exact = WINDOWS[-1], 0.0, False
    reference = None
    with one_blas_thread():
        for w in WINDOWS:
            if all(window_of(depth, w, k0, k1) == (0, depth) for k0, k1 in blocks):
                window, error, exact = w, 0.0, True
                break
            if reference is None:
                reference = _reference_variances(depth, refinement, lengthscale, jitter, chosen)
            error = window_errors(depth, refinement, lengthscale, jitter, w, reference)
            window = w
            if error <= math.sqrt(jitter):
                break
    delta = lengthscale / SPREAD
    u0 = -REACH * lengthscale
    n_noise = int(math.ceil((1.0 + 2 * REACH * lengthscale) / delta)) + 1
    return BridgePlan(depth, refinement, lengthscale, jitter, window, error, exact, u0, delta, n_noise)


def _convolution(plan: BridgePlan, times: np.ndarray, j0: int, j1: int) -> np.ndarray:
    """Φ_{pj} = g(t_p − u_j) √δ for the noise points j0..j1−1: (n, j1 − j0)."""
    ell = plan.lengthscale
    u = plan.u0 + np.arange(j0, j1) * plan.delta
    amplitude = (2.0 / math.pi) ** 0.25 / math.sqrt(ell) * math.sqrt(plan.delta)
    return amplitude * np.exp(-((times[:, None] - u[None, :]) ** 2) / ell**2)


@dataclass(frozen=True)
class BlockOperator:
    """θ at the non-coarse fine times of coarse steps k0..k1−1, step-major (n·(r−1),) =
    noise_op @ Z[j0:j1] + coarse_op @ (θ_c − √ε ξ)[c0:c1] (Matheron's rule, windowed)."""

    j0: int
    j1: int
    c0: int
    c1: int
    noise_op: np.ndarray
    coarse_op: np.ndarray


def block_operator(plan: BridgePlan, k0: int, k1: int) -> BlockOperator:
    """The two matrices of one block: K_fW (K_WW + εI)⁻¹ (coarse_op) and Φ_f − coarse_op Φ_W
    (noise_op), in float64 (Cholesky of the window's kernel plus the law's jitter)."""
    from scipy.linalg import cho_solve

    L, ell = plan.depth, plan.lengthscale
    c0, c1 = window_of(L, plan.window, k0, k1)
    times_c = np.arange(c0 + 1, c1 + 1, dtype=np.float64) / L
    times_f = fine_times(L, plan.refinement, k0, k1)
    lo, hi = min(times_c[0], times_f[0]), max(times_c[-1], times_f[-1])
    j0 = max(0, int(math.floor((lo - REACH * ell - plan.u0) / plan.delta)))
    j1 = min(plan.n_noise, int(math.ceil((hi + REACH * ell - plan.u0) / plan.delta)) + 1)
    with one_blas_thread():
        chol = _window_factor(times_c, ell, plan.jitter)
        coarse_op = cho_solve((chol, True), kernel(times_c, times_f, ell), check_finite=False).T  # (nf, nW)
        noise_op = _convolution(plan, times_f, j0, j1) - coarse_op @ _convolution(plan, times_c, j0, j1)
    return BlockOperator(j0, j1, c0, c1, noise_op, coarse_op)


def draw_noise(plan: BridgePlan, n_paths: int, generator: "torch.Generator", *, scale: float = 1.0,
               device="cpu") -> tuple["torch.Tensor", "torch.Tensor"]:
    """One draw's refinement noise for `n_paths` entry paths, float64: the prior's Z (n_noise,
    n_paths) then the nugget's √ε ξ (L, n_paths), both times `scale` (1/√d for weights)."""
    import torch

    z = torch.randn((plan.n_noise, n_paths), generator=generator, dtype=torch.float64, device=device)
    xi = torch.randn((plan.depth, n_paths), generator=generator, dtype=torch.float64, device=device)
    return z.mul_(scale), xi.mul_(scale * math.sqrt(plan.jitter))


def refine_block(op: BlockOperator, coarse: "torch.Tensor", noise: "torch.Tensor", nugget: "torch.Tensor",
                 out: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Fine values of one block for every path at once: coarse (L, P) the coarse values (any
    dtype), noise (n_noise, P) and nugget (L, P) from `draw_noise` → (n·(r−1), P) float64 (into
    `out` when given). P runs over entries and draws alike: two matrix products per block."""
    import torch

    device = noise.device
    target = coarse[op.c0:op.c1].to(torch.float64) - nugget[op.c0:op.c1]
    coarse_op = torch.as_tensor(op.coarse_op, device=device)
    noise_op = torch.as_tensor(op.noise_op, device=device)
    result = torch.matmul(coarse_op, target, out=out)
    result.addmm_(noise_op, noise[op.j0:op.j1])
    return result


def refine_path(plan: BridgePlan, coarse: "torch.Tensor", noise: "torch.Tensor", nugget: "torch.Tensor",
                block: int = 8) -> "torch.Tensor":
    """The whole fine path, (L·r, P) float64, at the times (k + j/r)/L, k < L, j = 1..r: the
    conditional draws between the coarse times and the coarse values themselves at j = r."""
    import torch

    L, r = plan.depth, plan.refinement
    out = torch.empty((L, r, coarse.shape[1]), dtype=torch.float64, device=noise.device)
    out[:, r - 1] = coarse.to(torch.float64)
    for k0, k1 in _blocks(L, block):
        values = refine_block(block_operator(plan, k0, k1), coarse, noise, nugget)
        out[k0:k1, :r - 1] = values.view(k1 - k0, r - 1, -1)
    return out.view(L * r, -1)
