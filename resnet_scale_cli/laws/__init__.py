"""Weight laws across depth: the `LAWS` registry and batched samplers.

Every entry path `k ↦ √d (V_k)_{ij}`, k = 1..L, is independent across (i, j), has unit variance,
and follows its law across depth (see each law's module). Adding a law is one module that
defines a `Law` and one line in `registry.py`; the laws `RSCALE_LAWS` names are added when this
package is imported. Importing this package does not import torch: the samplers are loaded on
first use.
"""

from __future__ import annotations

import os

from resnet_scale_cli.laws.registry import (
    DISTS,
    add_laws,
    FBM_BACKENDS,
    LAWS,
    Law,
    law_entry,
    law_parameter,
    law_parameters,
    parameter_symbol,
    setting_label,
)
from resnet_scale_cli.lazy import lazy_attributes

_LAZY = {
    "sample_paths": "resnet_scale_cli.laws.sampling",
    "sample_weights": "resnet_scale_cli.laws.sampling",
    "sample_fgn": "resnet_scale_cli.laws.sampling",
    "PATH_CHUNK": "resnet_scale_cli.laws.sampling",
    "theory_autocorrelation": "resnet_scale_cli.laws.registry",
    "fgn_autocovariance": "resnet_scale_cli.laws.fbm",
    "rbf_kernel_matrix": "resnet_scale_cli.laws.rbf",
}

__all__ = ["DISTS", "FBM_BACKENDS", "LAWS", "Law", "law_entry", "law_parameter", "law_parameters",
           "parameter_symbol", "setting_label", *_LAZY]

__getattr__ = lazy_attributes(__name__, _LAZY)


add_laws(os.environ.get("RSCALE_LAWS"))  # last: a law's module may import from this package
