"""rscale: initialization and depth-scaling stability analysis of deep residual networks.

Public API (the command line is a thin layer over exactly these; see `api`):

- `RunSpec`: a validated experiment spec; `run(spec)` / `measure(spec)` measure one cell.
- `sample`, `grid_study`, `run_checks`, `load_checks`: what `sample`, `sweep`/`phase` and
  `check` call; `api` holds one keyword function per command (`api.sweep(law="iid",
  depth=[100, 300], beta=[0.25, 0.5, 1])`), each result with `.to_pandas()` and `.figure()`.
- `load(out)`: the tidy table (pandas DataFrame) of any command's `--out` folder.
- `SweepSpec`, `run_grid`, `run_sweep`: grids of cells with any measurement, resumable.
- `sample_weights`, `sample_paths`, `sample_fgn`, `LAWS`: weight laws across depth.
- `forward`, `backward`, `Network`, `ACTIVATIONS`, `MODELS`: the batched recursion.

Names are imported on first use, so `import resnet_scale_cli` (and `rscale --help`) does not
import torch.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("rscale")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

_LAZY = {
    "ACTIVATIONS": "resnet_scale_cli.dynamics",
    "MODELS": "resnet_scale_cli.dynamics",
    "Network": "resnet_scale_cli.dynamics",
    "backward": "resnet_scale_cli.dynamics",
    "forward": "resnet_scale_cli.dynamics",
    "SpecError": "resnet_scale_cli.errors",
    "Measurements": "resnet_scale_cli.experiments.cell",
    "RunResult": "resnet_scale_cli.experiments.cell",
    "measure": "resnet_scale_cli.experiments.cell",
    "run": "resnet_scale_cli.api",
    "sample": "resnet_scale_cli.api",
    "grid_study": "resnet_scale_cli.api",
    "run_checks": "resnet_scale_cli.api",
    "load_checks": "resnet_scale_cli.api",
    "LAWS": "resnet_scale_cli.laws",
    "sample_fgn": "resnet_scale_cli.laws",
    "sample_paths": "resnet_scale_cli.laws",
    "sample_weights": "resnet_scale_cli.laws",
    "RunSpec": "resnet_scale_cli.spec",
    "SweepSpec": "resnet_scale_cli.sweep",
    "run_grid": "resnet_scale_cli.sweep",
    "run_sweep": "resnet_scale_cli.experiments.registry",
    "load": "resnet_scale_cli.report.frames",
}
#: submodules reachable as attributes without importing them first (`resnet_scale_cli.api.sweep(…)`)
_SUBMODULES = ("api",)

__all__ = ["__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
