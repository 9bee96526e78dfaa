"""A smooth Gaussian process across depth: values G(k/L), k = 1..L, of a GP with covariance
exp(−(s − t)²/(2ℓ²)). One Cholesky factor of the L × L kernel (with the smallest jitter that
works) is shared by every entry path, so one matrix product samples a chunk of paths."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.values import LAW as LAW_PANEL, POSITIVE, Setting
from resnet_scale_cli.laws.base import Law, into
from resnet_scale_cli.laws.references import ODE_REFERENCE_RATE, Limit, lipschitz_references

if TYPE_CHECKING:
    import numpy as np


def rbf_kernel_matrix(depth: int, lengthscale: float) -> np.ndarray:
    """K_{kl} = exp(−(k/L − l/L)² / (2ℓ²)) on the grid k = 1..L (scikit-learn's RBF kernel)."""
    import numpy as np
    from sklearn.gaussian_process.kernels import RBF

    grid = (np.arange(1, depth + 1, dtype=np.float64) / depth)[:, None]
    return RBF(length_scale=float(lengthscale))(grid)


@functools.lru_cache(maxsize=16)
def _rbf_cholesky(depth: int, lengthscale: float) -> np.ndarray:
    """Lower Cholesky factor of the RBF kernel matrix, with the smallest jitter that works; on one
    BLAS thread, so that the factor (and every draw) is the same bit for bit on every machine."""
    import numpy as np

    from resnet_scale_cli.threads import one_blas_thread

    kernel = rbf_kernel_matrix(depth, lengthscale)
    jitter = 1e-10
    while jitter <= 1e-3:
        try:
            with one_blas_thread():
                return np.linalg.cholesky(kernel + jitter * np.eye(depth))
        except np.linalg.LinAlgError:
            jitter *= 10.0
    raise SpecError(f"--lengthscale {lengthscale}: the RBF kernel at depth {depth} is too ill-conditioned")


def sampler(depth: int, settings: dict[str, Any], dtype, device):
    import torch

    chol = torch.as_tensor(_rbf_cholesky(int(depth), float(settings["lengthscale"])), dtype=dtype, device=device)

    def draw(n_paths: int, gen, out=None) -> "torch.Tensor":
        return into(out, chol @ torch.randn((chol.shape[0], n_paths), generator=gen, dtype=dtype, device=device))

    return draw


def autocorrelation(lags: np.ndarray, depth: int, settings: dict[str, Any]) -> np.ndarray:
    """exp(−(k/L)²/(2ℓ²)) at lag k."""
    import numpy as np

    return np.exp(-((lags / depth) ** 2) / (2.0 * float(settings["lengthscale"]) ** 2))


#: the setting this law adds to a spec: ℓ > 0
LENGTHSCALE = Setting(POSITIVE, "RBF lengthscale ℓ > 0 (on depth scaled to [0,1]).", 0.1, panel=LAW_PANEL,
                      grid_help="RBF lengthscale ℓ (implies --law rbf): one value, a list or a range.",
                      name="lengthscale", symbol="ℓ")

LIMIT = Limit("ode", 1.0, "β = 1 (the neural ODE)", "dH/dt = f(H, θ(t)), θ(t) the Gaussian-process path",
              "Euler, θ_{k+1} = θ((k+1)/L) on the step from k/L to (k+1)/L",
              "Euler on a grid r·L finer, θ at the fine times drawn from the GP conditioned on the coarse values θ(k/L)",
              *ODE_REFERENCE_RATE)

#: float64 L × L matrices the sampler holds at once: the kernel, kernel + jitter, its Cholesky factor
#: (cached) and that factor in the draw's dtype
KERNEL_MATRICES = 4

LAW = Law("rbf", "smooth Gaussian process, RBF kernel with lengthscale ℓ", ("lengthscale",), sampler, autocorrelation,
          parameter="lengthscale", symbol="ℓ", parameters=(LENGTHSCALE,), references=lipschitz_references,
          limit=LIMIT, smoothness=1.0, held_bytes=lambda depth: KERNEL_MATRICES * 8 * depth * depth,
          held_what="the RBF kernel's L × L matrices")
