"""Weight-tied: one Gaussian matrix shared by every layer, V_k = V (constant across depth)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_scale_cli.laws.base import Law, into

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


LAW = Law("tied", "weight-tied: one Gaussian matrix shared by every layer (constant across depth)", (), sampler,
          autocorrelation)
