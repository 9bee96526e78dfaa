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
def limit_rate_reference(law: str, *, hurst: float = 0.5) -> dict[str, object]:
    """The rate r of the distance max_k ‖h_k − H(k/L)‖ ~ L^{-r} between a ResNet at its critical β
    and its continuous-depth limit (`rscale limit`), with the range expected at moderate depths
    and the basis:

    - iid Gaussian (and fBm with H = 1/2), β = 1/2: the neural SDE; E‖H_{k/L} − h_k‖ ≤ C/√L is a
      theorem (Marion et al., an upper bound); that 1/2 is also the order reached is the
      classical strong order of Euler–Maruyama for non-commutative noise (the Lévy areas).
    - rbf and tied, β = 1: the neural ODE; ‖H_{k/L} − h_k‖ ≤ c/L is a theorem (Marion et al. for
      Lipschitz weight processes; Sander et al., Prop. 1; Euler's first order).
    - fBm, H > 1/2, β = H: a Young equation. Euler's error has a term of order L^{-(2H−1)} (from the
      squared increments: the rate of the Euler scheme for fBm-driven equations, e.g. Mishura;
      Neuenkirch and Nourdin for its exactness) and terms of order up to 1/L; here only the d
      diagonal noise entries feed the first, with weight ~1/d (a first-order argument, not a
      theorem), so at moderate depths the measured rate sits between 2H − 1 and 1.
    """
    if law == "iid" or (law == "fbm" and abs(float(hurst) - 0.5) < 1e-12):
        return {"theory": 0.5, "theory_range": [0.5, 0.5],
                "basis": "theorem (upper bound C/√L, Marion et al.; strong order 1/2 of Euler–Maruyama)"}
    if law == "fbm":
        low = round(2.0 * float(hurst) - 1.0, 12)
        return {"theory": low, "theory_range": [low, 1.0],
                "basis": "2H − 1 as L → ∞ (Euler for fBm-driven equations, H > 1/2); between 2H − 1 and 1 at "
                         "moderate L (first-order argument: the 2H − 1 term has weight ~1/d)"}
    return {"theory": 1.0, "theory_range": [1.0, 1.0],
            "basis": "theorem (upper bound c/L for Lipschitz weights, Marion et al.; Euler's first order)"}
