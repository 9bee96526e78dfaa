"""The validated experiment spec: law, model, grid, samples, seed, device, dtype.

Every bad value is refused here with a `SpecError` that names the flag, so the command line,
config files and Python callers share one set of rules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from resnet_scale_cli import fields as F
from resnet_scale_cli.errors import SpecError, did_you_mean
from resnet_scale_cli.fields import DEVICES, DTYPES, resolve_device, torch_dtype  # noqa: F401  (re-exported)
from resnet_scale_cli.grids import parse_float_grid



@dataclass(frozen=True)
@F.law_fields()
class RunSpec(F.Spec, F.Draws):
    """One experiment cell: a weight law at depth L and width d, run for every β in `betas`.

    `samples` (weight draw, input) pairs are measured per β; they share `draws` independent
    weight draws (default: one draw per sample), `samples / draws` inputs each.
    `probes=None` means exact gradients; an integer asks for that many random tangent probes.
    """

    law: str = F.LAW_NAME.field()
    model: str = F.MODEL_NAME.field()
    activation: str = F.ACTIVATION.field()
    depth: int = F.DEPTH.field()
    width: int = F.WIDTH.field()
    betas: tuple[float, ...] = F.BETAS.field()
    samples: int = F.SAMPLES.field()
    draws: int | None = F.DRAWS.field()
    probes: int | None = F.Setting(F.Whole(1), "Random tangent probes for an unbiased gradient estimate.",
                                   none="exact").field()
    grad_method: str = F.Setting(F.registry_choice("grad_methods"), "auto = exact reverse pass (tangent when --probes is given).",
                                 "auto").field()
    gradients: bool = F.GRADIENTS.field()
    seed: int = F.SEED.field()
    device: str = F.DEVICE.field()
    dtype: str = F.DTYPE.field()
    memory_gb: float = F.MEMORY_GB.field()

    def __post_init__(self) -> None:
        validate(self)


def validate(spec: RunSpec) -> None:
    """Raise `SpecError` naming the flag of the first invalid setting: each field's own check
    (`fields.check_fields`), then draws dividing samples and probes needing tangents."""
    F.check_fields(spec)
    spec.check_draws()
    if spec.probes is not None and spec.grad_method in ("reverse", "autograd"):
        raise SpecError(f"--probes applies to --grad-method tangent (or auto), not {spec.grad_method}")


#: config keys spelled with dashes or differing from their field (`beta` → `betas`)
_ALIASES = {key.replace("_", "-"): name for key, name in F.keys_of(RunSpec).items() if key.replace("_", "-") != name}


def spec_from_mapping(values: dict[str, Any], *, source: str = "config", base: RunSpec | None = None) -> RunSpec:
    """Build a spec from a mapping (a TOML table or CLI overrides); unknown keys are refused."""
    keys = F.keys_of(RunSpec)
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = keys.get(key.replace("-", "_"), key if key in keys.values() else None)
        if name is None:
            raise SpecError(f"{source}: unknown key {key!r}{did_you_mean(key, list(keys))}")
        if name == "betas":
            value = parse_float_grid(value, "--beta")
        changes[name] = value
    return dataclasses.replace(base or RunSpec(), **changes)
