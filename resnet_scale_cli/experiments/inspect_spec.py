"""The spec of `rscale inspect` (`InspectSpec`): the user's block named, the law, the grid and
the sampling, validated without importing torch, so that a bad value answers at once. Importing
the block itself (which needs torch) happens when it is measured, once the spec is valid
(`experiments.inspect_block`, which re-exports everything here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_scale_cli import fields as F
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.fields import whole_number as _whole  # noqa: F401  (`experiments.inspect_block` reads it)

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


@dataclass(frozen=True)
@F.law_fields(exclude=("fbm_backend",), after="init")
class InspectSpec(F.Spec, F.Draws):
    """A user's block measured over depths × β (field names = the future flags, `-` → `_`).

    `block`: package.module:factory or path/to/file.py:factory. `input_shape`: the shape S of
    one input (default (width,)); the block gets a batch (rows, *S) and must return that shape.
    `inputs`: a .npy file of inputs (N, *S) or S (loaded with allow_pickle=False); sample j of
    draw i uses row (i·m + j) mod N, m = samples/draws. `homogeneous`: auto (checked on the
    draws), yes (declared: carry log-norms), no (never rescale; flag overflow).
    """

    block: str = ""
    law: str = F.LAW_NAME.field()
    init: str = F.Setting(F.Choice(INITS), "iid weights: module = the module's own init, a fresh seed per layer; moments = "
                          "law paths with its per-tensor mean and std (fast).", "module", panel=F.MODEL).field()
    depths: tuple[int, ...] = F.DEPTHS.field()
    width: int = F.WIDTH.field()
    betas: tuple[float, ...] = F.BETAS.field()
    samples: int = F.SAMPLES.field(32)
    draws: int | None = F.DRAWS.field()
    input_shape: tuple[int, ...] | None = None
    inputs: str | None = F.Setting(F.Text("the path of a .npy file"), "A .npy file of inputs (N, *shape), loaded with "
                                   "allow_pickle=False.", none="Gaussian").field()
    homogeneous: str = F.Setting(F.Choice(HOMOGENEOUS), "Carry log-norms (f positively homogeneous): auto = checked on "
                                 "the draws.", "auto", panel=F.MODEL).field()
    gradients: bool = F.GRADIENTS.field()
    profile_points: int = F.Setting(F.Whole(1, MAX_PROFILE_POINTS), f"Layer positions k/L of the profiles (at most "
                                    f"{MAX_PROFILE_POINTS}).", MAX_PROFILE_POINTS, panel=F.OUTPUT).field()
    batching: str = F.Setting(F.Choice(BATCHING), "torch.func.vmap over draws, or a per-draw loop; auto = vmap where it "
                              "runs and agrees.", "auto", panel=F.EXECUTION).field()
    threads: int | None = F.Setting(F.Whole(1)).field()
    seed: int = F.SEED.field()
    device: str = F.DEVICE.field()
    dtype: str = F.DTYPE.field()
    memory_gb: float = F.MEMORY_GB.field()

    def __post_init__(self) -> None:
        from resnet_scale_cli.grids import parse_float_grid, parse_int_grid

        parse_block(self.block)
        F.check_fields(self)
        if self.dist != "gaussian" and not (self.law == "iid" and self.init == "moments"):
            raise SpecError("--dist applies to law paths: --law iid --init moments (the module's own "
                            "initialization keeps its own entry law)")
        self.check_draws()
        # sorted as a grid (and β rounded as one), whatever order the caller gave
        object.__setattr__(self, "depths", parse_int_grid(list(self.depths), "--depth"))
        object.__setattr__(self, "betas", parse_float_grid(list(self.betas), "--beta"))
        if self.input_shape is not None:
            object.__setattr__(self, "input_shape", parse_shape(self.input_shape))
