"""The spec of `rscale inspect` (`InspectSpec`): the user's block named, the law, the grid and
the sampling, validated without importing torch, so that a bad value answers at once. Importing
the block itself (which needs torch) happens when it is measured, once the spec is valid
(`experiments.inspect_block`, which re-exports everything here).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.spec import _whole  # noqa: F401  (one definition of the whole-number check)

HOMOGENEOUS = ("auto", "yes", "no")
MAX_PROFILE_POINTS = 64
#: `--batching`: torch.func.vmap over draws, a per-draw loop, or vmap where it runs and agrees
BATCHING = ("auto", "vmap", "loop")
#: `--init`: the module's own initialization per layer, or law paths with its per-tensor moments
INITS = ("module", "moments")


def parse_block(text: Any) -> tuple[str, str]:
    """Split `target:attribute` (the last colon) and check both parts are present."""
    if text == "":
        raise SpecError("BLOCK: name the block to inspect, package.module:factory or path/to/file.py:factory "
                        "(the argument, or `block = ...` in --config)")
    if not isinstance(text, str) or ":" not in text:
        raise SpecError(f"BLOCK must be package.module:factory or path/to/file.py:factory, got {text!r}")
    target, _, attr = text.rpartition(":")
    if not target or not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise SpecError(f"BLOCK must be package.module:factory or path/to/file.py:factory, got {text!r}")
    return target, attr



def parse_shape(text: Any, flag: str = "--input-shape") -> tuple[int, ...]:
    """`64` or `3,32,32` (or a list of ints) → a tuple of positive ints, order kept."""
    if isinstance(text, bool):
        raise SpecError(f"{flag}: expected positive whole numbers like 64 or 3,32,32, got {text!r}")
    if isinstance(text, int):
        parts: list[Any] = [text]
    elif isinstance(text, (list, tuple)):
        parts = list(text)
    elif isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
    else:
        raise SpecError(f"{flag}: expected positive whole numbers like 64 or 3,32,32, got {text!r}")
    out = []
    for p in parts:
        try:
            value = int(p) if not isinstance(p, float) or p.is_integer() else None
        except (TypeError, ValueError):
            value = None
        if value is None or isinstance(p, bool) or value < 1:
            raise SpecError(f"{flag}: expected positive whole numbers like 64 or 3,32,32, got {text!r}")
        out.append(value)
    if not out:
        raise SpecError(f"{flag}: no dimensions given")
    return tuple(out)


def _real(value: Any, flag: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{flag}: expected a finite number, got {value!r}")
    return float(value)


def _choice(value: Any, choices, flag: str) -> None:
    if value not in choices:
        raise SpecError(f"{flag}: unknown value {value!r}; choose from {', '.join(choices)}")


@dataclass(frozen=True)
class InspectSpec:
    """A user's block measured over depths × β (field names = the future flags, `-` → `_`).

    `block`: package.module:factory or path/to/file.py:factory. `input_shape`: the shape S of
    one input (default (width,)); the block gets a batch (rows, *S) and must return that shape.
    `inputs`: a .npy file of inputs (N, *S) or S (loaded with allow_pickle=False); sample j of
    draw i uses row (i·m + j) mod N, m = samples/draws. `homogeneous`: auto (checked on the
    draws), yes (declared: carry log-norms), no (never rescale; flag overflow).
    """

    block: str = ""
    law: str = "iid"
    init: str = "module"
    dist: str = "gaussian"
    lengthscale: float = 0.1
    hurst: float = 0.5
    depths: tuple[int, ...] = (100, 300, 1000)
    width: int = 40
    betas: tuple[float, ...] = (0.25, 0.5, 1.0)
    samples: int = 32
    draws: int | None = None
    input_shape: tuple[int, ...] | None = None
    inputs: str | None = None
    homogeneous: str = "auto"
    gradients: bool = True
    profile_points: int = MAX_PROFILE_POINTS
    batching: str = "auto"
    threads: int | None = None
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    memory_gb: float = 2.0

    def __post_init__(self) -> None:
        from resnet_scale_cli.grids import parse_float_grid, parse_int_grid
        from resnet_scale_cli.laws import LAWS
        from resnet_scale_cli.spec import DTYPES, resolve_device

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        from resnet_scale_cli.laws import DISTS

        parse_block(self.block)
        _choice(self.law, LAWS, "--law")
        _choice(self.init, INITS, "--init")
        _choice(self.dist, DISTS, "--dist")
        if self.dist != "gaussian" and not (self.law == "iid" and self.init == "moments"):
            raise SpecError("--dist applies to law paths: --law iid --init moments (the module's own "
                            "initialization keeps its own entry law)")
        hurst = _real(self.hurst, "--hurst")
        if not 0.0 < hurst < 1.0:
            raise SpecError(f"--hurst must be in the open interval (0, 1), got {self.hurst}")
        if not _real(self.lengthscale, "--lengthscale") > 0.0:
            raise SpecError(f"--lengthscale must be positive, got {self.lengthscale}")
        put("depths", parse_int_grid(list(self.depths) if isinstance(self.depths, tuple) else self.depths, "--depth"))
        for depth in self.depths:
            _whole(depth, "--depth", 1)
        put("betas", parse_float_grid(list(self.betas) if isinstance(self.betas, tuple) else self.betas, "--beta"))
        for beta in self.betas:
            if beta < 0.0:
                raise SpecError(f"--beta values must be >= 0, got {beta}")
        _whole(self.width, "--width", 1)
        _whole(self.samples, "--samples", 1)
        if self.draws is not None:
            _whole(self.draws, "--draws", 1)
            if self.draws > self.samples or self.samples % self.draws:
                raise SpecError(f"--draws ({self.draws}) must divide --samples ({self.samples})")
        if self.input_shape is not None:
            put("input_shape", parse_shape(self.input_shape))
        if self.inputs is not None and (not isinstance(self.inputs, str) or not self.inputs):
            raise SpecError(f"--inputs: expected the path of a .npy file, got {self.inputs!r}")
        _choice(self.homogeneous, HOMOGENEOUS, "--homogeneous")
        if not isinstance(self.gradients, bool):
            raise SpecError(f"--gradients: expected true or false, got {self.gradients!r}")
        _whole(self.profile_points, "--profile-points", 1)
        if self.profile_points > MAX_PROFILE_POINTS:
            raise SpecError(f"--profile-points must be at most {MAX_PROFILE_POINTS}, got {self.profile_points}")
        _choice(self.batching, BATCHING, "--batching")
        if self.threads is not None:
            _whole(self.threads, "--threads", 1)
        _whole(self.seed, "--seed", 0)
        _choice(self.device, ("auto", "cpu", "cuda"), "--device")
        _choice(self.dtype, DTYPES, "--dtype")
        if _real(self.memory_gb, "--memory-gb") <= 0:
            raise SpecError(f"--memory-gb must be positive, got {self.memory_gb}")
        if self.device == "cuda":  # torch is imported only to ask for CUDA
            resolve_device(self.device)

    @property
    def n_draws(self) -> int:
        return self.samples if self.draws is None else self.draws

    @property
    def inputs_per_draw(self) -> int:
        return self.samples // self.n_draws

    def replace(self, **changes: Any) -> "InspectSpec":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in ("depths", "betas", "input_shape"):
            if out[name] is not None:
                out[name] = list(out[name])
        return out
