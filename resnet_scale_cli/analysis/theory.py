"""Every reference value rscale prints or checks, in one place, with its basis.

- `critical_beta_reference`: the reference critical β of a law setting (SCIENCE.md §4):
  1/2 for i.i.d. weights (theorem, Marion et al., output and gradient ratios), 1 for smooth
  (RBF) and tied weights (theorem for Lipschitz weight processes), max(1/2, H) for fBm (a
  first-order scaling argument, not a theorem).
- `adjoint_bound_rate`: the rate of the memory-free backward's upper bounds (Sander, Ablin, Peyré,
  Props. 3–6): reverse Euler 1, reverse Heun min(1 + δ, 2) with Δ ∝ N^(−δ) by law.
- The i.i.d. theorems at β = 1/2 (Marion et al., "Scaling ResNets in the large-depth regime"):
  the output interval, with probability ≥ 1 − δ,
  exp(3/8 − √(22/(dδ))) − 1 < ‖h_L − h_0‖²/‖h_0‖² < exp(1 + √(10/(dδ))) + 1,
  and the gradient expectation e^{1/2} − 1 ≤ E ‖p_0 − p_L‖²/‖p_L‖² ≤ e^4 − 1.
"""

from __future__ import annotations

import math


def critical_beta_reference(law: str, *, hurst: float = 0.5, **_: object) -> float:
    """The reference critical β of a law setting (see the module docstring for each basis)."""
    if law == "iid":
        return 0.5
    if law == "fbm":
        return max(0.5, float(hurst))
    return 1.0  # rbf, tied: weights Lipschitz in depth


def iid_output_interval(width: int, delta: float) -> tuple[float, float]:
    """Bounds of ‖h_L − h_0‖²/‖h_0‖² that hold with probability ≥ 1 − δ at β = 1/2 (theorem)."""
    low = math.exp(3 / 8 - math.sqrt(22 / (width * delta))) - 1
    high = math.exp(1 + math.sqrt(10 / (width * delta))) + 1
    return low, high


#: bounds of E ‖p_0 − p_L‖²/‖p_L‖² at β = 1/2 for i.i.d. weights (theorem)
GRADIENT_MEAN_BOUNDS = (math.exp(0.5) - 1.0, math.exp(4.0) - 1.0)


# ----------------------------------------------------------------------------- memory-free backpropagation
#: Δ = max_n ‖θ_{n+1} − θ_n‖ ∝ N^(−δ) by law: smooth RBF weights are Lipschitz in depth (δ = 1);
#: tied weights have Δ = 0 (δ = ∞); i.i.d. and fGn weights change by O(1) between layers (δ = 0)
SMOOTHNESS_EXPONENT = {"iid": 0.0, "fbm": 0.0, "rbf": 1.0, "tied": math.inf}


def adjoint_bound_rate(net: str, law: str, beta: float = 1.0) -> float | None:
    """Rate r of the paper's upper bounds, error ≤ C · N^(−r), for the activation recovery and
    the gradients alike (Sander, Ablin, Peyré, Props. 3–6, step 1/N, i.e. β = 1; None otherwise):
    reverse Euler O(1/N) whatever the weights (r = 1); reverse Heun O(Δ/N + 1/N²) with
    Δ ∝ N^(−δ), r = min(1 + δ, 2). These are bounds: a measured rate may be larger."""
    if beta != 1.0:
        return None
    if net == "resnet":
        return 1.0
    return min(1.0 + SMOOTHNESS_EXPONENT.get(law, 0.0), 2.0)


def adjoint_bound_basis(net: str, law: str) -> str:
    """Where `adjoint_bound_rate` comes from, in one line."""
    if net == "resnet":
        return "upper bound, Props. 3-4 (reverse Euler): O(1/N) whatever the weights"
    delta = SMOOTHNESS_EXPONENT.get(law, 0.0)
    shown = "0 (tied weights)" if math.isinf(delta) else f"O(N^-{delta:g})"
    return f"upper bound, Props. 5-6 (reverse Heun): O(Δ/N + 1/N²) with Δ = {shown} for --law {law}"
