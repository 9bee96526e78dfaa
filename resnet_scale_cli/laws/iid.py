"""i.i.d. across depth: entries Gaussian N(0, 1), Rademacher ±1 or uniform on [−√3, √3]."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws.base import DISTS, Law, into

if TYPE_CHECKING:
    import numpy as np


def sampler(depth: int, settings: dict[str, Any], dtype, device):
    import torch

    dist = settings.get("dist", "gaussian")
    if dist not in DISTS:
        raise SpecError(f"--dist: unknown value {dist!r}; choose from {', '.join(DISTS)}")

    def draw(n_paths: int, gen, out=None) -> "torch.Tensor":
        shape = (depth, n_paths)
        if dist == "gaussian":
            return into(out, torch.randn(shape, generator=gen, dtype=dtype, device=device))
        if dist == "rademacher":
            bits = torch.randint(0, 2, shape, generator=gen, device=device)
            return into(out, (2 * bits - 1).to(dtype))
        u = torch.rand(shape, generator=gen, dtype=dtype, device=device)
        return into(out, (2.0 * u - 1.0) * math.sqrt(3.0))

    return draw


def autocorrelation(lags: np.ndarray, depth: int, settings: dict[str, Any]) -> np.ndarray:
    """δ_{k,0}: independent across depth."""
    import numpy as np

    return (lags == 0).astype(np.float64)


LAW = Law("iid", "i.i.d. across depth (gaussian | rademacher | uniform)", ("dist",), sampler, autocorrelation)
