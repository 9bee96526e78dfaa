"""Every reference value rscale prints or checks, in one place, with its basis.

- `critical_beta_reference`: the reference critical β of a law setting (SCIENCE.md §4):
  1/2 for i.i.d. weights (theorem, Marion et al., output and gradient ratios), 1 for smooth
  (RBF) and tied weights (theorem for Lipschitz weight processes), max(1/2, H) for fBm (a
  first-order scaling argument, not a theorem).
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
