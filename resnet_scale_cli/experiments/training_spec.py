"""The settings of `rscale train` (`TrainSpec`) and their names, without torch or numpy: the
command line builds its options (and `--help`) from these without loading the engine.
See `resnet_scale_cli.experiments.training` for the experiment itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resnet_scale_cli import fields as F
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.fields import whole_number as _whole  # noqa: F401  (`experiments.training` reads it)

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
#: images in scikit-learn's bundled digits data set
DIGITS_SIZE = 1797
#: σ with a Lipschitz derivative (the theorem's condition); relu and leaky_relu are not
SMOOTH_ACTIVATIONS = ("gelu", "tanh", "identity")

__all__ = ["TrainSpec", "validate", "NETS", "DATASETS", "OPTIMIZERS", "BACKPROPS", "LR_SCALINGS", "V_INITS", "DEPTH_SEEDS",
           "DIGITS_SIZE", "SMOOTH_ACTIVATIONS", "cell_bytes", "cell_need", "preflight"]

#: the help panels of train's own settings: the data, and the optimization
DATA, TRAINING = "Data", "Training"


def _own(check: Any, help: str, default: Any, panel: str = TRAINING, **more: Any) -> Any:
    """A setting of `rscale train` alone, as its field."""
    return F.Setting(check, help, default, panel=panel, **more).field()


@dataclass(frozen=True)
@F.law_fields(exclude=("fbm_backend",))
class TrainSpec(F.Spec):
    """Settings of `rscale train` (field = flag name with `-` → `_`; `depths` is `--depth`).

    Defaults: the paper's setting in its PL regime (full model, tied initialization, GELU, β = 1,
    hidden width 64 ≥ 32 training examples, full-batch gradient descent with η = 0.05 in rescaled
    time) on the Euler ResNet (``net = "heunnet"``: the HeunNet of Sander, Ablin & Peyré, N + 1
    weight layers). The default σ is GELU: the theorem needs a σ with a Lipschitz derivative (GELU, tanh),
    and GELU is the authors' choice; with ReLU the mask flips make the gradients rough in k.
    """

    law: str = F.LAW_NAME.field("tied")
    net: str = _own(F.Choice(NETS), "resnet: Euler steps, N weight layers; heunnet: Heun steps (Sander, Ablin & Peyré, "
                    "eq. 8), N + 1 weight layers θ_0..θ_N.", "resnet", F.MODEL)
    model: str = F.MODEL_NAME.field()
    activation: str = F.ACTIVATION.field("gelu")
    beta: float = F.BETA.field(help="Residual scale L^-β (one value; the theorem is for β = 1).")
    depths: tuple[int, ...] = F.DEPTHS.field((8, 16, 32, 64), check=F.Whole(2, why=" (increments need two layers)"))
    width: int = F.WIDTH.field(64)
    hidden: int | None = _own(F.Whole(1), "Hidden width m of --model full's V σ(W h).", None, F.MODEL, none="the width d")
    v_init: str = _own(F.Choice(V_INITS), "V(0) from the law, or zero (the authors' scripts).", "law", F.MODEL)
    data: str = _own(F.Choice(DATASETS), "Task: teacher regression (MSE, R²) or scikit-learn digits (cross-entropy, "
                     "accuracy).", "synthetic", DATA)
    n_examples: int = _own(F.Whole(1), "Training examples.", 32, DATA)
    n_test: int = _own(F.Whole(1), "Test examples.", 256, DATA)
    input_dim: int = _own(F.Whole(1), "Input dimension p of --data synthetic (digits: 64).", 8, DATA)
    output_dim: int = _own(F.Whole(1), "Outputs of --data synthetic (digits: 10 classes).", 1, DATA)
    noise: float = _own(F.NON_NEGATIVE, "Label noise of --data synthetic.", 0.0, DATA)
    data_seed: int = _own(F.Whole(0), "Seed of the data and the teacher (shared by every depth and network).", 0, DATA)
    optimizer: str = _own(F.Choice(OPTIMIZERS), "gd = full-batch gradient descent (gradient flow), sgd, adam.", "gd")
    lr: float = _own(F.POSITIVE, "Learning rate η (> 0): the time step of gradient flow in rescaled time.", 0.05)
    lr_scaling: str = _own(F.Choice(LR_SCALINGS), "depth: step η·L^(2β−1)·∇ (= η L ∇ at β = 1; gd, sgd); none: η ∇.",
                           "depth")
    steps: int = _own(F.Whole(1), "Optimizer steps (≥ 1).", 300)
    batch_size: int | None = _own(F.Whole(1), "Minibatch of sgd/adam.", None, none="full batch")
    backprop: str = _own(F.Choice(BACKPROPS), "exact: stored activations; adjoint: memory-free, activations recovered "
                         "by reverse Euler (reverse Heun for --net heunnet).", "exact")
    track_points: int = _own(F.Whole(2), "Log-spaced steps at which losses and norms are recorded.", 20)
    depth_seeds: str = _own(F.Choice(DEPTH_SEEDS), "Same draws at every depth (common), or independent.", "common")
    samples: int = F.SAMPLES.field(4, help="Networks trained per depth (seeds; the exponent's interval resamples them).")
    seed: int = F.SEED.field()
    device: str = F.DEVICE.field()
    dtype: str = F.DTYPE.field()
    memory_gb: float = F.MEMORY_GB.field()
    limit_reference: int | None = _own(
        F.Whole(2), "R ≥ 2: also train a reference of depth R × the largest depth from the same path θ(s) and fit the "
        "rates of the trained nets' distance to it (weights, states); needs β = 1, gd with depth-scaled lr, law "
        "tied|rbf|iid, depths dividing R × max depth.", None, none="off")

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


def validate(spec: TrainSpec) -> None:
    """Raise `SpecError` naming the flag of the first invalid setting: each field's own check,
    then the settings that must agree."""
    F.check_fields(spec)
    if spec.hidden is not None and spec.model != "full":
        raise SpecError(f"--hidden applies to --model full (V σ(W h)), not {spec.model}")
    n, n_test = spec.n_examples, spec.n_test
    if spec.data == "digits" and n + n_test > DIGITS_SIZE:
        raise SpecError(f"--n-examples + --n-test must be at most {DIGITS_SIZE} for --data digits, got {n} + {n_test}")
    if spec.batch_size is not None:
        if spec.optimizer == "gd":
            raise SpecError("--batch-size applies to --optimizer sgd or adam (gd is full-batch)")
        if spec.batch_size > n:
            raise SpecError(f"--batch-size ({spec.batch_size}) must be at most --n-examples ({n})")
    if spec.limit_reference is not None:
        _validate_limit_reference(spec)


#: weight laws whose initialization is one function θ(s) sampled at s = k/L (fbm's fractional
#: Gaussian noise is not: its values are increments, whatever L)
LIMIT_LAWS = ("tied", "rbf", "iid")


def _validate_limit_reference(spec: TrainSpec) -> None:
    """`--limit-reference R`: the trained-limit comparison needs one path θ(s) sampled at k/L by every
    depth (so each depth divides R · max(depths)), β = 1 and gradient flow (gd, depth-scaled rate)."""
    if spec.net != "resnet":
        raise SpecError("--limit-reference applies to --net resnet (the HeunNet's layers sit at n/N, n = 0..N)")
    if spec.law not in LIMIT_LAWS:
        from resnet_scale_cli.laws import law_entry

        if isinstance(law_entry(spec.law).limit, str):  # a law that declares no limit says why
            law_entry(spec.law).limit_of(spec.law_params())
        raise SpecError(f"--limit-reference needs --law {', '.join(LIMIT_LAWS)} (one path θ(s) sampled at s = k/L), "
                        f"not {spec.law}")
    if spec.beta != 1.0:
        raise SpecError(f"--limit-reference needs --beta 1 (residual scale 1/L, the neural ODE's), got {spec.beta:g}")
    if spec.optimizer != "gd" or spec.lr_scaling != "depth":
        raise SpecError("--limit-reference needs --optimizer gd with --lr-scaling depth (gradient flow in rescaled time)")
    if spec.depth_seeds != "common":
        raise SpecError("--limit-reference needs --depth-seeds common (every depth samples one path θ(s))")
    fine = spec.limit_reference * max(spec.depths)
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
    from resnet_scale_cli.dynamics import MODELS
    from resnet_scale_cli.dynamics.schemes import net_scheme
    from resnet_scale_cli.resources import itemsize, law_bytes

    S, d, m = spec.samples, spec.width, spec.hidden_width
    n = spec.batch_size or spec.n_examples
    model = MODELS[spec.model]
    layers = net_scheme(spec.net).weight_layers(depth)
    params = layers * S * d * m * len(model.weights)
    weights = params * (5 if spec.optimizer == "adam" else 3)
    if spec.net == "heunnet":
        states = (depth + 1) * S * n * d
    else:
        per_layer = 1 + model.has_inner_weights + model.nonlinear
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
