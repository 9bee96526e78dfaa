"""The validated experiment spec: law, model, grid, samples, seed, device, dtype.

Every bad value is refused here with a `SpecError` that names the flag, so the command line,
config files and Python callers share one set of rules.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from typing import TYPE_CHECKING

from resnet_scale_cli.errors import SpecError, did_you_mean
from resnet_scale_cli.grids import parse_float_grid

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class RunSpec:
    """One experiment cell: a weight law at depth L and width d, run for every β in `betas`.

    `samples` (weight draw, input) pairs are measured per β; they share `draws` independent
    weight draws (default: one draw per sample), `samples / draws` inputs each.
    `probes=None` means exact gradients; an integer asks for that many random tangent probes.
    """

    law: str = "iid"
    dist: str = "gaussian"
    lengthscale: float = 0.1
    hurst: float = 0.5
    fbm_backend: str = "torch"
    model: str = "full"
    activation: str = "relu"
    depth: int = 1000
    width: int = 40
    betas: tuple[float, ...] = (0.25, 0.5, 1.0)
    samples: int = 50
    draws: int | None = None
    probes: int | None = None
    grad_method: str = "auto"
    gradients: bool = True
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    memory_gb: float = 2.0

    def __post_init__(self) -> None:
        validate(self)

    # ----------------------------------------------------------------- derived values
    @property
    def n_draws(self) -> int:
        return self.samples if self.draws is None else self.draws

    @property
    def inputs_per_draw(self) -> int:
        return self.samples // self.n_draws

    def law_params(self) -> dict[str, Any]:
        """The law's own parameters, as reported in JSON (`hurst` or `lengthscale` or `dist`)."""
        from resnet_scale_cli.laws import LAWS

        return {name: getattr(self, name) for name in LAWS[self.law].params}

    def law_settings(self) -> dict[str, Any]:
        """Every setting a law's sampler may read (dist, lengthscale, hurst, fbm_backend)."""
        return {"dist": self.dist, "lengthscale": self.lengthscale, "hurst": self.hurst, "fbm_backend": self.fbm_backend}

    def torch_dtype(self) -> "torch.dtype":
        return torch_dtype(self.dtype)

    def torch_device(self) -> "torch.device":
        return resolve_device(self.device)

    def replace(self, **changes: Any) -> "RunSpec":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out


def torch_dtype(name: str) -> "torch.dtype":
    """The torch dtype of a `--dtype` name."""
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[name]


def resolve_device(name: str) -> "torch.device":
    """`auto` picks CUDA when present; asking for CUDA without it is a usage error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError("--device cuda: CUDA is not available on this machine (use --device cpu or auto)")
    return torch.device(name)


def _choice(value: str, choices, flag: str) -> None:
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise SpecError(f"{flag}: unknown value {value!r}{hint} (choose from {', '.join(choices)})")


def _whole(value: Any, flag: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{flag}: expected a whole number, got {value!r}")
    if value < minimum:
        raise SpecError(f"{flag} must be at least {minimum}, got {value}")


def _real(value: Any, flag: str) -> float:
    """A finite real number (inf and nan are refused: no setting means anything at infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{flag}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise SpecError(f"{flag}: expected a finite number, got {value!r}")
    return float(value)


def _distinct(values: tuple, flag: str) -> None:
    """Grid values appear once: a repeated value is refused (it would be measured twice)."""
    seen = set()
    for value in values:
        if value in seen:
            raise SpecError(f"{flag}: {value!r} is given twice; give each value once")
        seen.add(value)


def validate(spec: RunSpec) -> None:
    """Raise `SpecError` naming the flag of the first invalid setting."""
    from resnet_scale_cli.dynamics import ACTIVATIONS, GRAD_METHODS, MODELS
    from resnet_scale_cli.laws import DISTS, FBM_BACKENDS, LAWS

    _choice(spec.law, LAWS, "--law")
    _choice(spec.dist, DISTS, "--dist")
    _choice(spec.fbm_backend, FBM_BACKENDS, "--fbm-backend")
    _choice(spec.model, MODELS, "--model")
    _choice(spec.activation, ACTIVATIONS, "--activation")
    _choice(spec.grad_method, GRAD_METHODS, "--grad-method")
    _choice(spec.device, DEVICES, "--device")
    _choice(spec.dtype, DTYPES, "--dtype")
    if not isinstance(spec.gradients, bool):
        raise SpecError(f"--gradients: expected true or false, got {spec.gradients!r}")
    hurst = _real(spec.hurst, "--hurst")
    if not 0.0 < hurst < 1.0:
        raise SpecError(f"--hurst must be in the open interval (0, 1), got {spec.hurst}")
    if not _real(spec.lengthscale, "--lengthscale") > 0.0:
        raise SpecError(f"--lengthscale must be positive, got {spec.lengthscale}")
    _whole(spec.depth, "--depth", 1)
    _whole(spec.width, "--width", 1)
    _whole(spec.samples, "--samples", 1)
    _whole(spec.seed, "--seed", 0)
    if spec.draws is not None:
        _whole(spec.draws, "--draws", 1)
        if spec.draws > spec.samples or spec.samples % spec.draws:
            raise SpecError(f"--draws ({spec.draws}) must divide --samples ({spec.samples})")
    if spec.probes is not None:
        _whole(spec.probes, "--probes", 1)
        if spec.grad_method in ("reverse", "autograd"):
            raise SpecError(f"--probes applies to --grad-method tangent (or auto), not {spec.grad_method}")
    if not spec.betas:
        raise SpecError("--beta: no values given")
    for beta in spec.betas:
        if _real(beta, "--beta") < 0.0:
            raise SpecError(f"--beta values must be >= 0, got {beta}")
    _distinct(spec.betas, "--beta")
    if _real(spec.memory_gb, "--memory-gb") <= 0:
        raise SpecError(f"--memory-gb must be positive, got {spec.memory_gb}")
    if spec.device == "cuda":  # torch is imported only to ask for CUDA
        resolve_device(spec.device)


_ALIASES = {"beta": "betas", "fbm-backend": "fbm_backend", "grad-method": "grad_method", "memory-gb": "memory_gb"}


def spec_from_mapping(values: dict[str, Any], *, source: str = "config", base: RunSpec | None = None) -> RunSpec:
    """Build a spec from a mapping (a TOML table or CLI overrides); unknown keys are refused."""
    names = {f.name for f in dataclasses.fields(RunSpec)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = _ALIASES.get(key, key.replace("-", "_"))
        if name not in names:
            known = ["beta", *(n for n in names if n != "betas")]
            raise SpecError(f"{source}: unknown key {key!r}{did_you_mean(key, known)}")
        if name == "betas":
            value = parse_float_grid(value, "--beta")
        changes[name] = value
    return dataclasses.replace(base or RunSpec(), **changes)
