"""Weight-tied: one Gaussian matrix shared by every layer, V_k = V (constant across depth)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from resnet_scale_cli.laws.base import Law, into
from resnet_scale_cli.laws.references import ODE_REFERENCE_RATE, Limit, lipschitz_references

if TYPE_CHECKING:
    import numpy as np


def sampler(depth: int, settings: dict[str, Any], dtype, device):
    import torch

    def draw(n_paths: int, gen, out=None) -> "torch.Tensor":
        return into(out, torch.randn((1, n_paths), generator=gen, dtype=dtype, device=device).expand(depth, n_paths))

    return draw


def autocorrelation(lags: np.ndarray, depth: int, settings: dict[str, Any]) -> np.ndarray:
    """1 at every lag: the same value at every layer."""
    import numpy as np

    return np.ones_like(lags, dtype=np.float64)


LIMIT = Limit("ode", 1.0, "β = 1 (the neural ODE)", "dH/dt = f(H, θ), θ constant (autonomous)", "Euler",
              "Euler on a grid r·L finer", *ODE_REFERENCE_RATE)

LAW = Law("tied", "weight-tied: one Gaussian matrix shared by every layer (constant across depth)", (), sampler,
          autocorrelation, references=lipschitz_references, limit=LIMIT, smoothness=math.inf)
