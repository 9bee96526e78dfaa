"""rscale: initialization and depth-scaling stability analysis of deep residual networks.

Public API (the command line is a thin layer over exactly these):

- `RunSpec`: a validated experiment spec; `run(spec)` / `measure(spec)` measure it.
- `sample_weights`, `sample_paths`, `sample_fgn`: weight laws across depth.
- `forward`, `backward`, `Network`: the batched residual recursion with tangents.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rscale")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS, Network, backward, forward  # noqa: E402
from resnet_scale_cli.errors import SpecError  # noqa: E402
from resnet_scale_cli.experiment import Measurements, RunResult, measure, run  # noqa: E402
from resnet_scale_cli.laws import LAWS, sample_fgn, sample_paths, sample_weights  # noqa: E402
from resnet_scale_cli.spec import RunSpec  # noqa: E402

__all__ = [
    "ACTIVATIONS", "LAWS", "MODELS", "Measurements", "Network", "RunResult", "RunSpec", "SpecError",
    "__version__", "backward", "forward", "measure", "run", "sample_fgn", "sample_paths", "sample_weights",
]
