"""The settings of `rscale train` (`TrainSpec`) and their names, without torch or numpy: the
command line builds its options (and `--help`) from these without loading the engine.
See `resnet_scale_cli.experiments.training` for the experiment itself."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resnet_scale_cli.errors import SpecError

if TYPE_CHECKING:
    import torch

#: the nets (as `rscale adjoint`'s `dynamics.gradients.NETS`): ``resnet`` = Euler steps over N weight
#: layers, ``heunnet`` = Heun steps over N + 1 weight layers θ_0..θ_N
NETS = ("resnet", "heunnet")
DATASETS = ("synthetic", "digits")
OPTIMIZERS = ("gd", "sgd", "adam")
BACKPROPS = ("exact", "adjoint")
LR_SCALINGS = ("depth", "none")
V_INITS = ("law", "zero")
DEPTH_SEEDS = ("common", "independent")
DEVICES = ("auto", "cpu", "cuda")
#: images in scikit-learn's bundled digits data set
DIGITS_SIZE = 1797
#: σ with a Lipschitz derivative (the theorem's condition); relu and leaky_relu are not
SMOOTH_ACTIVATIONS = ("gelu", "tanh", "identity")

__all__ = ["TrainSpec", "validate", "NETS", "DATASETS", "OPTIMIZERS", "BACKPROPS", "LR_SCALINGS", "V_INITS", "DEPTH_SEEDS",
           "DIGITS_SIZE", "SMOOTH_ACTIVATIONS"]


def _choice(value: Any, choices, flag: str) -> None:
    if value not in choices:
        raise SpecError(f"{flag}: unknown value {value!r}; choose from {', '.join(choices)}")


def _whole(value: Any, flag: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SpecError(f"{flag}: expected a whole number, got {value!r}")
    if value < minimum:
        raise SpecError(f"{flag} must be at least {minimum}, got {value}")
    return int(value)


def _real(value: Any, flag: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SpecError(f"{flag}: expected a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise SpecError(f"{flag}: expected a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TrainSpec:
    """Settings of `rscale train` (field = flag name with `-` → `_`; `depths` is `--depth`).

    Defaults: the paper's setting in its PL regime (full model, tied initialization, GELU, β = 1,
    hidden width 64 ≥ 32 training examples, full-batch gradient descent with η = 0.05 in rescaled
    time) on the Euler ResNet (``net = "heunnet"``: the HeunNet of Sander, Ablin & Peyré, N + 1
    weight layers). The default σ is GELU: the theorem needs a σ with a Lipschitz derivative (GELU, tanh),
    and GELU is the authors' choice; with ReLU the mask flips make the gradients rough in k.
    """

    law: str = "tied"
    dist: str = "gaussian"
    lengthscale: float = 0.1
    hurst: float = 0.5
    net: str = "resnet"
    model: str = "full"
    activation: str = "gelu"
    beta: float = 1.0
    depths: tuple[int, ...] = (8, 16, 32, 64)
    width: int = 64
    hidden: int | None = None
    v_init: str = "law"
    data: str = "synthetic"
    n_examples: int = 32
    n_test: int = 256
    input_dim: int = 8
    output_dim: int = 1
    noise: float = 0.0
    data_seed: int = 0
    optimizer: str = "gd"
    lr: float = 0.05
    lr_scaling: str = "depth"
    steps: int = 300
    batch_size: int | None = None
    backprop: str = "exact"
    track_points: int = 20
    depth_seeds: str = "common"
    samples: int = 4
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        from resnet_scale_cli.grids import parse_int_grid

        if not isinstance(self.depths, tuple) or any(isinstance(v, bool) or not isinstance(v, int) for v in self.depths):
            object.__setattr__(self, "depths", parse_int_grid(self.depths, "--depth"))
        validate(self)

    @property
    def hidden_width(self) -> int:
        """m: the hidden width of the full model's residual V σ(W h) (d for the other models)."""
        return self.width if self.hidden is None or self.model != "full" else self.hidden

    def law_params(self) -> dict[str, Any]:
        from resnet_scale_cli.laws import LAWS

        return {name: getattr(self, name) for name in LAWS[self.law].params}

    def torch_dtype(self) -> "torch.dtype":
        from resnet_scale_cli.spec import torch_dtype

        return torch_dtype(self.dtype)

    def torch_device(self) -> "torch.device":
        from resnet_scale_cli.spec import resolve_device

        return resolve_device(self.device)

    def replace(self, **changes: Any) -> "TrainSpec":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["depths"] = list(self.depths)
        return out


def validate(spec: TrainSpec) -> None:
    """Raise `SpecError` naming the flag of the first invalid setting."""
    from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS
    from resnet_scale_cli.laws import DISTS, LAWS
    from resnet_scale_cli.spec import DTYPES, resolve_device

    _choice(spec.net, NETS, "--net")
    _choice(spec.law, LAWS, "--law")
    _choice(spec.dist, DISTS, "--dist")
    _choice(spec.model, MODELS, "--model")
    _choice(spec.activation, ACTIVATIONS, "--activation")
    _choice(spec.v_init, V_INITS, "--v-init")
    _choice(spec.data, DATASETS, "--data")
    _choice(spec.optimizer, OPTIMIZERS, "--optimizer")
    _choice(spec.lr_scaling, LR_SCALINGS, "--lr-scaling")
    _choice(spec.backprop, BACKPROPS, "--backprop")
    _choice(spec.depth_seeds, DEPTH_SEEDS, "--depth-seeds")
    _choice(spec.device, DEVICES, "--device")
    _choice(spec.dtype, DTYPES, "--dtype")
    if not 0.0 < _real(spec.hurst, "--hurst") < 1.0:
        raise SpecError(f"--hurst must be in the open interval (0, 1), got {spec.hurst}")
    if _real(spec.lengthscale, "--lengthscale") <= 0.0:
        raise SpecError(f"--lengthscale must be positive, got {spec.lengthscale}")
    if _real(spec.beta, "--beta") < 0.0:
        raise SpecError(f"--beta must be >= 0, got {spec.beta}")
    if not spec.depths:
        raise SpecError("--depth: no values given")
    for depth in spec.depths:
        if depth < 2:
            raise SpecError(f"--depth values must be at least 2 (increments need two layers), got {depth}")
    _whole(spec.width, "--width", 1)
    if spec.hidden is not None:
        _whole(spec.hidden, "--hidden", 1)
        if spec.model != "full":
            raise SpecError(f"--hidden applies to --model full (V σ(W h)), not {spec.model}")
    n = _whole(spec.n_examples, "--n-examples", 1)
    n_test = _whole(spec.n_test, "--n-test", 1)
    _whole(spec.input_dim, "--input-dim", 1)
    _whole(spec.output_dim, "--output-dim", 1)
    if _real(spec.noise, "--noise") < 0.0:
        raise SpecError(f"--noise must be >= 0, got {spec.noise}")
    _whole(spec.data_seed, "--data-seed", 0)
    if spec.data == "digits" and n + n_test > DIGITS_SIZE:
        raise SpecError(f"--n-examples + --n-test must be at most {DIGITS_SIZE} for --data digits, got {n} + {n_test}")
    if _real(spec.lr, "--lr") <= 0.0:
        raise SpecError(f"--lr must be positive, got {spec.lr}")
    _whole(spec.steps, "--steps", 1)
    if spec.batch_size is not None:
        b = _whole(spec.batch_size, "--batch-size", 1)
        if spec.optimizer == "gd":
            raise SpecError("--batch-size applies to --optimizer sgd or adam (gd is full-batch)")
        if b > n:
            raise SpecError(f"--batch-size ({b}) must be at most --n-examples ({n})")
    _whole(spec.track_points, "--track-points", 2)
    _whole(spec.samples, "--samples", 1)
    _whole(spec.seed, "--seed", 0)
    if spec.device != "auto":
        resolve_device(spec.device)
