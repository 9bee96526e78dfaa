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

    from resnet_scale_cli.resources import Need

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
           "DIGITS_SIZE", "SMOOTH_ACTIVATIONS", "cell_bytes", "cell_need", "preflight"]


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
    memory_gb: float = 2.0
    limit_reference: int | None = None

    def __post_init__(self) -> None:
        from resnet_scale_cli.grids import parse_int_grid

        if not isinstance(self.depths, tuple) or any(isinstance(v, bool) or not isinstance(v, int) for v in self.depths):
            object.__setattr__(self, "depths", parse_int_grid(self.depths, "--depth"))
        validate(self)

    @property
    def reference_depth(self) -> int | None:
        """R · max(depths): the depth of the `limit_reference` network (None without one)."""
        return None if self.limit_reference is None else self.limit_reference * max(self.depths)

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
    if _real(spec.memory_gb, "--memory-gb") <= 0:
        raise SpecError(f"--memory-gb must be positive, got {spec.memory_gb}")
    if spec.device != "auto":
        resolve_device(spec.device)
    if spec.limit_reference is not None:
        _validate_limit_reference(spec)


#: weight laws whose initialization is one function θ(s) sampled at s = k/L (fbm's fractional
#: Gaussian noise is not: its values are increments, whatever L)
LIMIT_LAWS = ("tied", "rbf", "iid")


def _validate_limit_reference(spec: TrainSpec) -> None:
    """`--limit-reference R`: the trained-limit comparison needs one path θ(s) sampled at k/L by every
    depth (so each depth divides R · max(depths)), β = 1 and gradient flow (gd, depth-scaled rate)."""
    R = _whole(spec.limit_reference, "--limit-reference", 2)
    if spec.net != "resnet":
        raise SpecError("--limit-reference applies to --net resnet (the HeunNet's layers sit at n/N, n = 0..N)")
    if spec.law not in LIMIT_LAWS:
        raise SpecError(f"--limit-reference needs --law {', '.join(LIMIT_LAWS)} (one path θ(s) sampled at s = k/L), "
                        f"not {spec.law}")
    if spec.beta != 1.0:
        raise SpecError(f"--limit-reference needs --beta 1 (residual scale 1/L, the neural ODE's), got {spec.beta:g}")
    if spec.optimizer != "gd" or spec.lr_scaling != "depth":
        raise SpecError("--limit-reference needs --optimizer gd with --lr-scaling depth (gradient flow in rescaled time)")
    if spec.depth_seeds != "common":
        raise SpecError("--limit-reference needs --depth-seeds common (every depth samples one path θ(s))")
    fine = R * max(spec.depths)
    bad = [L for L in spec.depths if fine % L]
    if bad:
        raise SpecError(f"--limit-reference: every depth must divide R × max depth = {fine} (so that s = k/L lies on "
                        f"the reference's grid), not {', '.join(map(str, bad))}")


# --------------------------------------------------------------------------- memory
def cell_bytes(spec: TrainSpec, depth: int) -> int:
    """The least memory of the cell at depth L (bytes; the S = samples networks train at once).

    Parameters P = K·S·(d·m + m·d for the full model's W) (K weight layers, m the hidden width),
    held as θ, θ(0) and ∇θ (3P), plus Adam's two moments (2P); the states of the storing forward
    pass (exact backprop, and the adjoint's step-0 check) for n rows per step (the batch size or
    every example): the ResNet's workspace, h_k and p_k (2·(L + 1)·S·n·d), e_k (L·S·n·m), z_k (full
    model) and σ(z_k) (not linear), L·S·n·m each; the HeunNet's states h_0..h_N, (L + 1)·S·n·d;
    and the law's sampler (`resources.law_bytes`: the RBF kernel's L × L matrices)."""
    from resnet_scale_cli.resources import itemsize, law_bytes

    S, d, m = spec.samples, spec.width, spec.hidden_width
    n = spec.batch_size or spec.n_examples
    layers = depth + (1 if spec.net == "heunnet" else 0)
    params = layers * S * d * m * (2 if spec.model == "full" else 1)
    weights = params * (5 if spec.optimizer == "adam" else 3)
    if spec.net == "heunnet":
        states = (depth + 1) * S * n * d
    else:
        per_layer = 1 + (spec.model == "full") + (spec.model != "linear")
        states = 2 * (depth + 1) * S * n * d + per_layer * depth * S * n * m
    return (weights + states) * itemsize(spec.dtype) + law_bytes(spec.law, layers)


def cell_need(spec: TrainSpec, depth: int) -> "Need":
    """`cell_bytes` with its description (`resources.check_need`)."""
    from resnet_scale_cli.resources import Need, itemsize

    hidden = f" --hidden {spec.hidden}" if spec.hidden is not None and spec.model == "full" else ""
    copies = "θ, θ(0), ∇θ and Adam's two moments" if spec.optimizer == "adam" else "θ, θ(0) and ∇θ"
    return Need(cell_bytes(spec, depth), f"--depth {depth} --width {spec.width}{hidden} --samples {spec.samples}: the cell",
                f"{copies}: K·samples·d·m numbers of {itemsize(spec.dtype)} bytes per tensor, plus the stored states of "
                f"{spec.batch_size or spec.n_examples} rows per layer",
                "--depth, --width, --hidden, --samples or the rows per step (--n-examples, --batch-size)")


def preflight(spec: TrainSpec) -> None:
    """Refuse (`SpecError`) the first depth whose cell exceeds `--memory-gb` or the free memory."""
    from resnet_scale_cli.resources import available_bytes, check_need
    from resnet_scale_cli.spec import resolve_device

    device = str(resolve_device(spec.device))
    free = available_bytes(device)
    for depth in spec.depths + ((spec.reference_depth,) if spec.reference_depth else ()):
        check_need(cell_need(spec, depth), memory_gb=spec.memory_gb, device=device, available=free)
