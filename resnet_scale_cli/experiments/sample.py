"""The measurement of `rscale sample`: draw the weights `run` would use and compare their
autocovariance across depth with the law's theory."""

from __future__ import annotations

from typing import Any

import numpy as np

from resnet_scale_cli import seeding
from resnet_scale_cli.experiments.cell import cell_key
from resnet_scale_cli.laws import theory_autocorrelation
from resnet_scale_cli.spec import RunSpec


def weight_statistics(spec: RunSpec, max_lag: int = 10) -> dict[str, Any]:
    """Draw the V weights `rscale run` would use for `spec.samples` draws and check their law.

    Returns per-lag empirical autocovariance of the entry paths √d (V_k)_{ij} (with standard
    errors), the law's theoretical autocovariance, mean, variance × d, a Hurst estimate, and the
    paths themselves (key "paths", shape (draws·d², L)).
    """
    import torch

    from resnet_scale_cli.analysis.autocorrelation import autocovariance, hurst_estimate
    from resnet_scale_cli.laws.sampling import sample_paths

    device = spec.torch_device()
    key = cell_key(spec)
    gens = [seeding.generator(spec.seed, key + (i, seeding.WEIGHTS_V), device) for i in range(spec.samples)]
    with torch.no_grad():
        raw = sample_paths(spec.law, spec.depth, spec.width**2, gens, dtype=spec.torch_dtype(), device=device,
                           **spec.law_settings())
    paths = raw.transpose(1, 2).reshape(-1, spec.depth).to(torch.float64).cpu().numpy()
    empirical, stderr = autocovariance(paths, max_lag)
    lags = np.arange(empirical.size)
    theory = theory_autocorrelation(spec.law, lags, spec.depth, **spec.law_settings())
    return {
        "lags": lags,
        "empirical": empirical,
        "stderr": stderr,
        "theory": theory,
        "mean": float(paths.mean()),
        "variance_times_width": float(np.mean(paths**2)),
        "hurst_estimate": hurst_estimate(paths) if spec.depth >= 4 else None,
        "paths": paths,
    }
