"""Every reference value rscale prints, draws or checks, in one place, each with its basis.

- `reference(law, quantity, model=…, activation=…, width=…, depths=…, **settings)`: the reference
  critical β of a (law, model, activation, ratio) and its basis, as the law declares it
  (`Law.references`: a theorem (paper, quantity, model), a first-order scaling argument, or none,
  then no line is drawn) — with, where the first-order formulas give one, a finite-(L, d)
  `Prediction` and its crossover depth L*.
- `exact_identity_factor` / `log10_exact_mean_square`: the exact second moment
  E[ratio²] = (1 + c L^{-2β})^L − 1 of the output and gradient ratios (docs/science.md), in log10;
  `mean_square` its Monte Carlo side, a log-mean-exp with its standard error where it is reliable.
- `adjoint_bound_rate`: the rate of the memory-free backward's upper bounds (Sander, Ablin, Peyré,
  Props. 3–6): reverse Euler 1, reverse Heun min(1 + δ, 2) with Δ ∝ N^(−δ) (`Law.smoothness`).
- `limit_rate_reference`: the rate at which a ResNet at its critical β approaches its
  continuous-depth limit (`rscale limit`), with its basis (`Law.limit`).
- The i.i.d. theorems at β = 1/2 (Marion et al.): the output interval, with probability ≥ 1 − δ,
  exp(3/8 − √(22/(dδ))) − 1 < ‖h_L − h_0‖²/‖h_0‖² < exp(1 + √(10/(dδ))) + 1,
  and the gradient expectation e^{1/2} − 1 ≤ E ‖p_0 − p_L‖²/‖p_L‖² ≤ e^4 − 1.

Only numpy is imported here (no torch): the command line renders these without a measurement.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from resnet_scale_cli.laws.references import BASES, PAPER, QUANTITY_TEXT, Reference  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Prediction:
    """A first-order (small-ratio) prediction of the critical β that the depth-trend estimator
    reads at the swept depths and this width, with the crossover depth L* past which V's long
    memory dominates the increments (None when it never does)."""

    critical_beta: float
    crossover_depth: float | None
    depths: tuple[int, ...]
    width: int
    statement: str

    def to_dict(self) -> dict[str, Any]:
        return {"critical_beta": round(self.critical_beta, 6),
                "crossover_depth": None if self.crossover_depth is None else float(f"{self.crossover_depth:.4g}"),
                "depths": list(self.depths), "width": self.width, "statement": self.statement}


# ----------------------------------------------------------------------------- references
def reference(law: str, quantity: str = "output", *, model: str = "full", activation: str = "relu",
              width: int | None = None, depths: Sequence[int] | None = None, **settings: Any) -> Reference:
    """The reference critical β of a law setting (`settings`: hurst, lengthscale, …) for one ratio
    (`output` or `gradient`), as the law declares it; no reference for a law not registered.

    With `width` and two depths or more, a finite-(L, d) first-order `prediction` is attached
    where the law asks for one and the formulas of `first_order_sum` apply (fGn-like memory,
    full model, σ piecewise linear).
    """
    from resnet_scale_cli.laws import LAWS

    if quantity not in QUANTITY_TEXT:
        raise ValueError(f"quantity must be output or gradient, got {quantity!r}")
    if law not in LAWS:
        return Reference(None, "none", f"no reference for law {law!r}")
    return LAWS[law].reference(quantity, model, activation, settings,
                               lambda hurst: _prediction(quantity, hurst, model, activation, width, depths))


def critical_beta_reference(law: str, *, model: str = "full", activation: str = "relu", **settings: Any) -> float | None:
    """The reference critical β of the output ratio (`reference(...).value`)."""
    return reference(law, "output", model=model, activation=activation, **settings).value


# ----------------------------------------------------------------------------- first-order sums
def _slopes(activation: str) -> tuple[float, float] | None:
    """(slope for x ≤ 0, slope for x > 0) of a piecewise-linear σ, else None."""
    from resnet_scale_cli.dynamics.activations import ACTIVATIONS

    if activation == "identity":
        return (1.0, 1.0)
    act = ACTIVATIONS.get(activation)
    return None if act is None or act.slopes is None else tuple(act.slopes)


def _kappa(g: np.ndarray) -> np.ndarray:
    """E[relu(x) relu(x')] for standard Gaussians with correlation g (arc-cosine kernel)."""
    g = np.clip(g, -1.0, 1.0)
    return (np.sqrt(1.0 - g * g) + g * (math.pi - np.arccos(g))) / (2 * math.pi)


def increment_correlation(g: np.ndarray, quantity: str, slopes: tuple[float, float], width: int) -> np.ndarray:
    """A(γ): E[u_k · u_{k+j}] / ‖q‖² for the full model's increment u = σ(W h) (output, q = h) or
    u = σ'(W h) ⊙ W q averaged over isotropic q (gradient), when the rows of W_k and W_{k+j} are
    correlated γ entry-wise. σ has slopes (a, b): σ(x) = a x (x ≤ 0), b x (x > 0).

    Output: A = ab γ + (b − a)² κ(γ). Gradient: (1 − 1/d) γ [ab + (b − a)² (1/4 + arcsin γ/(2π))]
    + A_output(γ)/d (the share of q along h is 1/d on average). A(0) is the rank-one mean's share.
    """
    a, b = slopes
    g = np.asarray(g, dtype=np.float64)
    out = a * b * g + (b - a) ** 2 * _kappa(g)
    if quantity == "output":
        return out
    both_positive = 0.25 + np.arcsin(np.clip(g, -1.0, 1.0)) / (2 * math.pi)
    return (1 - 1 / width) * g * (a * b + (b - a) ** 2 * both_positive) + out / width


_EXACT_LAGS = 1 << 16


@functools.lru_cache(maxsize=256)
def _sum_parts(hurst: float, quantity: str, slopes: tuple[float, float], width: int):
    """Cumulative sums of b(j) = γ(j) (A(γ(j)) − A(0)) and j b(j) over j < 2^16, A(0), and the
    power-law tail b(j) ≈ b(J)(j/J)^{4H−4} beyond J = 2^16."""
    from resnet_scale_cli.laws.fbm import fgn_autocovariance

    j = np.arange(_EXACT_LAGS, dtype=np.float64)
    gamma = fgn_autocovariance(hurst, j)
    a0 = float(increment_correlation(np.zeros(1), quantity, slopes, width)[0])
    b = gamma * (increment_correlation(gamma, quantity, slopes, width) - a0)
    return np.cumsum(b), np.cumsum(j * b), a0, float(b[-1])


def first_order_sum(depth: float, hurst: float, quantity: str, slopes: tuple[float, float], width: int) -> tuple[float, float]:
    """(long, short) parts of S(L) = Σ_{|j|<L} (L − |j|) γ(j) A(γ(j)), so that to first order
    E[ratio²] ≈ L^{-2β} S(L) for fBm weights (V and W with the same H), full model.

    long = A(0) L^{2H} exactly (Σ (L − |j|) γ(j) = L^{2H} for fGn): the share carrying V's long
    memory; short = the rest, Σ (L − |j|) γ(j)(A(γ(j)) − A(0)), exact up to lag 2^16, a power-law
    integral beyond (relative error of order γ(2^16)).
    """
    cb, cjb, a0, b_last = _sum_parts(float(hurst), quantity, slopes, int(width))
    L = float(depth)
    n = int(min(math.ceil(L), _EXACT_LAGS))
    b0 = cb[0]
    short = L * (2 * cb[n - 1] - b0) - 2 * cjb[n - 1]
    if L > _EXACT_LAGS:
        p, J = 4 * hurst - 4, float(_EXACT_LAGS)
        x = np.geomspace(J, L, 4001)
        y = (L - x) * (x / J) ** p
        short += 2 * b_last * float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)
    return a0 * L ** (2 * hurst), float(short)


def crossover_depth(hurst: float, quantity: str, slopes: tuple[float, float], width: int) -> float | None:
    """L* where the long-memory part A(0) L^{2H} of S(L) equals the rest (bisection in log L);
    None when A(0) = 0 or H ≤ 1/2 (it never takes over) or L* > 10^150."""
    if hurst <= 0.5:
        return None

    def excess(log_l: float) -> float:
        long, short = first_order_sum(10.0**log_l, hurst, quantity, slopes, width)
        return math.log(long) - math.log(short) if long > 0 and short > 0 else (-math.inf if long <= 0 else math.inf)

    lo, hi = 0.0, 150.0
    if excess(hi) < 0:
        return None
    if excess(lo) >= 0:
        return 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) < 0 else (lo, mid)
    return 10.0 ** ((lo + hi) / 2)


def predicted_critical_beta(depths: Sequence[int], hurst: float, quantity: str, slopes: tuple[float, float],
                            width: int) -> float:
    """max(1/2, s/2), s the least-squares slope of log10 S(L) on log10 L over the depths: the β at
    which the first-order E[ratio²] ≈ L^{-2β} S(L) has no trend over the swept depths (the
    floor 1/2 is the quadratic variation, a second-order effect this sum leaves out)."""
    x = np.log10(np.asarray(depths, dtype=np.float64))
    y = np.log10([sum(first_order_sum(L, hurst, quantity, slopes, width)) for L in depths])
    xc = x - x.mean()
    slope = float((xc * (y - y.mean())).sum() / (xc**2).sum())
    return max(0.5, slope / 2)


def _prediction(quantity: str, hurst: float, model: str, activation: str, width: int | None,
                depths: Sequence[int] | None) -> Prediction | None:
    """The finite-(L, d) prediction where its formula applies: fBm, full model, σ piecewise linear."""
    slopes = _slopes(activation)
    if model != "full" or slopes is None or width is None or depths is None or len(set(depths)) < 2:
        return None
    depths = tuple(sorted({int(d) for d in depths}))
    beta = predicted_critical_beta(depths, hurst, quantity, slopes, int(width))
    star = crossover_depth(hurst, quantity, slopes, int(width))
    text = ("first-order prediction (not a theorem): β where L^{-2β} S(L) has no trend over the swept depths, "
            "S(L) = Σ_{|j|<L} (L−|j|) γ(j) A(γ(j)), A the increments' correlation; crossover depth L* where "
            "V's long-memory share A(0) L^{2H} overtakes the rest")
    return Prediction(beta, star, depths, int(width), text)


# ----------------------------------------------------------------------------- exact identity
def exact_identity_factor(law: str, model: str, activation: str, *, dist: str = "gaussian", **_: object) -> float | None:
    """c in E[ratio²] = (1 + c L^{-2β})^L − 1, or None where the identity does not hold.

    Holds for weights independent across depth (`Law.independent`: symmetric entries of variance
    1/d, gaussian, rademacher or uniform), for the output ratio given any h_0 ≠ 0 and for the gradient ratio with an isotropic readout
    p_L, at every d and L: full model with ReLU (c = 1/2), leaky ReLU of slope a
    (c = (1 + a²)/2) or identity σ (c = 1); linear model (c = 1). Derivation: docs/science.md.
    """
    from resnet_scale_cli.laws import DISTS, LAWS

    if law not in LAWS or not LAWS[law].independent or dist not in DISTS:
        return None
    if model == "linear":
        return 1.0
    if model != "full":
        return None
    slopes = _slopes(activation)
    if slopes is None:
        return None
    a, b = slopes
    return (a * a + b * b) / 2


def exact_identity_refusal(law: str, model: str, activation: str, *, dist: str = "gaussian") -> str | None:
    """Why the exact identity does not hold for these settings (None when it does)."""
    if exact_identity_factor(law, model, activation, dist=dist) is not None:
        return None
    from resnet_scale_cli.laws import LAWS

    if law not in LAWS or not LAWS[law].independent:
        return f"it needs weights independent across depth (law = \"iid\"), not law = {law!r}"
    if model == "simple":
        return "the simple model's increment V σ(h) has E‖σ(h)‖² depending on h's direction: no closed form"
    return f"σ = {activation} has no closed-form E σ(x)² ∝ E x² (it holds for relu, leaky_relu and identity)"


LN10 = math.log(10.0)


def _log_expm1(x: float) -> float:
    """ln(e^x − 1) for x > 0 without forming e^x (finite for every finite x > 0)."""
    if x > 1.0:
        return x + math.log1p(-math.exp(-x))
    return math.log(math.expm1(x))


def log10_exact_mean_square(factor: float, depth: int, beta: float, *, minus_one: bool = True) -> float:
    """log10 E[ratio²] = log10((1 + c L^{-2β})^L − 1), exact in log space for every L ≥ 1, β ≥ 0
    (no power of e is formed: it stays finite far past 10^±308); with `minus_one=False`,
    log10 (1 + c L^{-2β})^L = L log1p(c L^{-2β}) / ln 10 (the gain E‖J_L v‖² of `spectrum`)."""
    u = math.log(factor) - 2.0 * float(beta) * math.log(depth)  # ln(c L^{-2β})
    # ln x, x = L ln(1 + e^u): ln(1 + e^u) ≈ e^u (1 − e^u/2) when e^u is tiny, where exp(u) may underflow
    ln_log1p = u + math.log1p(-0.5 * math.exp(u)) if u < -30.0 else math.log(math.log1p(math.exp(u)))
    ln_x = math.log(depth) + ln_log1p
    if not minus_one:
        return math.exp(ln_x) / LN10
    if ln_x < -30.0:  # e^x − 1 = x (1 + x/2 + …)
        return (ln_x + 0.5 * math.exp(ln_x)) / LN10
    return _log_expm1(math.exp(ln_x)) / LN10


@dataclass(frozen=True)
class MeanSquare:
    """The Monte Carlo mean of ratio² = 10^{2v} over the units, in log space.

    `log10_mean` is log10 of the mean (a log-mean-exp of 2v ln 10, finite for any finite v);
    `log10_stderr` and `relative_stderr` (s.e./mean) are None where the standard error is not
    available, with the reason in `stderr_note`: a single unit, a sample that overflowed, or
    heavy tails — the natural logs of the units spread by s, and the mean of n lognormal values
    has skewness (e^{s²} + 2) √(e^{s²} − 1)/√n: above `MAX_MEAN_SKEWNESS` the mean is far from
    normal, usually below its expectation, and its s.e. understates the error."""

    log10_mean: float | None
    log10_stderr: float | None
    relative_stderr: float | None
    units: int
    stderr_note: str | None = None

    def z(self, log10_exact: float) -> float | None:
        """(mean − exact)/s.e., computed relative to the larger of the two (no overflow, no
        underflow of the s.e.); |z| capped at 10^300."""
        if self.log10_mean is None or self.log10_stderr is None:
            return None
        top = max(self.log10_mean, log10_exact)
        difference = 10.0 ** (self.log10_mean - top) - 10.0 ** (log10_exact - top)  # (mean − exact)/10^top
        if difference == 0.0:
            return 0.0
        log10_z = math.log10(abs(difference)) + top - self.log10_stderr
        return math.copysign(10.0 ** min(log10_z, Z_CAP_LOG10), difference)


#: |z| is written at most 10^300 (a s.e. 10^300 times smaller than the gap: the JSON stays finite)
Z_CAP_LOG10 = 300.0

#: the largest skewness of a sample mean at which its s.e. and a normal z are reported
MAX_MEAN_SKEWNESS = 1.0


def mean_skewness(spread: float, n: int) -> float:
    """Skewness γ/√n of the mean of n lognormal values whose logs have standard deviation s:
    γ = (e^{s²} + 2) √(e^{s²} − 1) (inf past e^700)."""
    s2 = spread * spread
    if s2 > 700.0:
        return math.inf
    e = math.exp(s2)
    return (e + 2.0) * math.sqrt(math.expm1(s2)) / math.sqrt(n)


def mean_square(log10_values: Sequence[float | None], inputs_per_draw: int = 1) -> MeanSquare:
    """Monte Carlo mean of ratio² = 10^{2 v} over the samples, in log space, and its standard
    error. The units are weight draws (the per-draw means of their `inputs_per_draw` inputs) when
    there are two or more, else samples."""
    v = np.array([np.nan if x is None else x for x in log10_values], dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return MeanSquare(None, None, None, 0, "no samples")
    bad = int(np.count_nonzero(np.isnan(v) | (v == np.inf)))  # −∞: a ratio of exactly 0, a square of 0
    if bad:
        return MeanSquare(None, None, None, n, f"{bad} of {n} samples overflowed the float range: no mean")
    ln_sq = 2.0 * LN10 * v  # ln ratio²
    m = max(1, int(inputs_per_draw))
    n_draws = n // m
    if n_draws >= 2 and n_draws * m == n:
        block = ln_sq.reshape(n_draws, m)
        top = block.max(axis=1, keepdims=True)
        safe = np.where(np.isfinite(top), top, 0.0)  # a draw whose ratios are all exactly 0 stays −∞
        with np.errstate(divide="ignore"):
            ln_units = (safe + np.log(np.exp(block - safe).mean(axis=1, keepdims=True)))[:, 0]
    else:
        ln_units = ln_sq
    k = int(ln_units.size)
    top = float(ln_units.max())
    if top == -math.inf:
        return MeanSquare(None, None, None, k, "every sample's ratio is exactly 0 (h_L = h_0): log10 of 0 is not a number")
    scaled = np.exp(ln_units - top)  # in (0, 1]: the units divided by the largest
    mean = float(scaled.mean())
    log10_mean = (top + math.log(mean)) / LN10
    if k < 2:
        return MeanSquare(log10_mean, None, None, k, "a single sample: no spread to estimate a standard error from")
    if not np.all(np.isfinite(ln_units)):  # some ratios exactly 0: the spread of the logs is infinite
        return MeanSquare(log10_mean, None, None, k, "some ratios are exactly 0 (h_L = h_0): the lognormal "
                          "reading of the spread does not apply")
    spread = float(np.std(ln_units, ddof=1))
    skew = mean_skewness(spread, k)
    if skew > MAX_MEAN_SKEWNESS:
        return MeanSquare(log10_mean, None, None, k,
                          f"heavy tails: the natural logs of ratio² spread by s = {spread:.3g} over {k} units; under a "
                          f"lognormal fit the mean's skewness is {skew:.3g} (> {MAX_MEAN_SKEWNESS:g}): a normal s.e. and "
                          "z would mislead")
    sd = float(scaled.std(ddof=1))
    relative = sd / (mean * math.sqrt(k))
    log10_se = (top + math.log(sd / math.sqrt(k))) / LN10 if sd > 0 else None
    if log10_se is None:
        return MeanSquare(log10_mean, None, None, k, "every unit is equal: zero spread")
    return MeanSquare(log10_mean, log10_se, relative, k)


def exact_comparison(law: str, model: str, activation: str, dist: str, depth: int, beta: float,
                     values: dict[str, Sequence[float | None]], inputs_per_draw: int) -> dict[str, Any] | None:
    """The exact log10 E[ratio²] beside the Monte Carlo log10 mean ± s.e. for each ratio measured,
    or None where the identity does not hold: {"factor", "output": {…}, "gradient": {…} or None}
    (`moment_entry`)."""
    factor = exact_identity_factor(law, model, activation, dist=dist)
    if factor is None:
        return None
    log10_exact = log10_exact_mean_square(factor, depth, beta)
    out: dict[str, Any] = {"factor": factor}
    for q in ("output", "gradient"):
        key = q + "_log10"
        if key not in values or values[key] is None:
            out[q] = None
            continue
        out[q] = moment_entry(log10_exact, mean_square(values[key], inputs_per_draw))
    return out


def moment_entry(log10_exact: float, ms: MeanSquare) -> dict[str, Any]:
    """One exact-moment block of the JSON: the exact value and the Monte Carlo mean in log10, the
    s.e. (log10 and relative to the mean) or why it is not available, z where both exist."""
    return {"log10_exact": log10_exact, "log10_mean": ms.log10_mean, "log10_stderr": ms.log10_stderr,
            "relative_stderr": ms.relative_stderr, "stderr_note": ms.stderr_note, "units": ms.units,
            "z": ms.z(log10_exact)}


# ----------------------------------------------------------------------------- i.i.d. theorems
def iid_output_interval(width: int, delta: float) -> tuple[float, float]:
    """Bounds of ‖h_L − h_0‖²/‖h_0‖² that hold with probability ≥ 1 − δ at β = 1/2 (theorem)."""
    low = math.exp(3 / 8 - math.sqrt(22 / (width * delta))) - 1
    high = math.exp(1 + math.sqrt(10 / (width * delta))) + 1
    return low, high


#: bounds of E ‖p_0 − p_L‖²/‖p_L‖² at β = 1/2 for i.i.d. weights (theorem)
GRADIENT_MEAN_BOUNDS = (math.exp(0.5) - 1.0, math.exp(4.0) - 1.0)


# ----------------------------------------------------------------------------- memory-free backpropagation
def smoothness_exponent(law: str) -> float | None:
    """δ in Δ = max_n ‖θ_{n+1} − θ_n‖ ∝ N^(−δ), as the law declares it (`Law.smoothness`): smooth
    RBF weights are Lipschitz in depth (δ = 1); tied weights have Δ = 0 (δ = ∞); i.i.d. and fGn
    weights change by O(1) between layers (δ = 0); None where the law does not say."""
    from resnet_scale_cli.laws import LAWS

    return LAWS[law].smoothness if law in LAWS else None


def __getattr__(name: str) -> Any:
    """`SMOOTHNESS_EXPONENT`: {law: δ} over the registered laws that declare it (read live)."""
    if name != "SMOOTHNESS_EXPONENT":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from resnet_scale_cli.laws import LAWS

    return {law: entry.smoothness for law, entry in LAWS.items() if entry.smoothness is not None}


def _delta(law: str) -> float:
    delta = smoothness_exponent(law)
    return 0.0 if delta is None else delta


def adjoint_bound_rate(net: str, law: str, beta: float = 1.0) -> float | None:
    """Rate r of the paper's upper bounds, error ≤ C · N^(−r), for the activation recovery and
    the gradients alike (Sander, Ablin, Peyré, Props. 3–6, step 1/N, i.e. β = 1; None otherwise):
    reverse Euler O(1/N) whatever the weights (r = 1); reverse Heun O(Δ/N + 1/N²) with
    Δ ∝ N^(−δ), r = min(1 + δ, 2) (δ = 0 where the law does not declare it). These are bounds:
    a measured rate may be larger."""
    if beta != 1.0:
        return None
    if net == "resnet":
        return 1.0
    return min(1.0 + _delta(law), 2.0)


def adjoint_bound_basis(net: str, law: str) -> str:
    """Where `adjoint_bound_rate` comes from, in one line."""
    if net == "resnet":
        return "upper bound, Props. 3-4 (reverse Euler): O(1/N) whatever the weights"
    delta = _delta(law)
    shown = "0 (tied weights)" if math.isinf(delta) else f"O(N^-{delta:g})"
    return f"upper bound, Props. 5-6 (reverse Heun): O(Δ/N + 1/N²) with Δ = {shown} for --law {law}"


def limit_rate_reference(law: str, **settings: Any) -> dict[str, object]:
    """The rate r of the distance max_k ‖h_k − H(k/L)‖ ~ L^{-r} between a ResNet at its critical β
    and its continuous-depth limit (`rscale limit`), with the range expected at moderate depths
    and the basis, as the law's `Limit` declares them (iid: the neural SDE, 1/2; rbf and tied: the
    neural ODE, 1; fbm with H > 1/2: a Young equation, 2H − 1 as L → ∞, between 2H − 1 and 1 at
    moderate L). A `SpecError` where the law has no limit."""
    from resnet_scale_cli.laws import law_entry

    return law_entry(law).limit_of(settings).rate_reference()
