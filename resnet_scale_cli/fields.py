"""Spec fields declared once: a setting's flag, help, default, grid syntax and check.

A `Setting` (declared in `values`, with the checks, so that laws can declare their parameters
without importing this module) is the declaration; `Setting.field()` makes it a dataclass field (its metadata), so a
spec dataclass lists its settings and `check_fields` validates any of them the same way: the
fields in order, each converted or refused with one wording per error (`Choice`, `Whole`,
`Real`). A grid field holds a tuple: it takes a list, a range string, or one value, each value
checked and given once. The settings several specs share (the law's, the model's, the
execution's) are declared below once; a law declares its own parameters (`Law.parameters`) and
`law_fields` makes them fields of every spec (those of the laws `RSCALE_LAWS` names too). The command line builds its options, help and
defaults from these declarations, and config files and the JSON `spec` use their keys.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Iterator

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.values import (EXECUTION, GRID, GRID_METAVAR, LAW, MODEL, NON_NEGATIVE, OUTPUT,  # noqa: F401
                                     PANELS, POSITIVE, SAMPLING, DEVICES, DTYPES, Choice, Flag, Real, Setting, Text,
                                     Whole, whole_number)

if TYPE_CHECKING:
    import torch

def registry(name: str) -> tuple[str, ...]:
    """The names of a registry of choices (`laws`, `models`, …), imported when first asked."""
    if name == "laws":
        from resnet_scale_cli.laws import LAWS as names
    elif name == "dists":
        from resnet_scale_cli.laws import DISTS as names
    elif name == "fbm_backends":
        from resnet_scale_cli.laws import FBM_BACKENDS as names
    elif name == "models":
        from resnet_scale_cli.dynamics import MODELS as names
    elif name == "activations":
        from resnet_scale_cli.dynamics import ACTIVATIONS as names
    elif name == "grad_methods":
        from resnet_scale_cli.dynamics import GRAD_METHODS as names
    elif name == "nets":
        from resnet_scale_cli.dynamics.gradients import NETS as names
    elif name == "devices":
        names = DEVICES
    elif name == "dtypes":
        names = DTYPES
    else:
        raise KeyError(name)
    return tuple(names)


def registry_choice(name: str) -> Choice:
    """A choice among a registry's names (`laws`, `models`, …), read when first asked."""
    return Choice(functools.partial(registry, name))


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




class Spec:
    """What every spec dataclass shares beyond its fields: a copy with changes, its values as a
    dict (tuples as lists), its law's parameters, and its torch dtype and device."""

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]

    def law_params(self) -> dict[str, Any]:
        """The law's own parameters, as reported in JSON (`hurst` or `lengthscale` or `dist`)."""
        from resnet_scale_cli.laws import LAWS

        return {name: getattr(self, name) for name in LAWS[self.law].params}  # type: ignore[attr-defined]

    def law_settings(self) -> dict[str, Any]:
        """Every setting a law's sampler or theory may read: each registered law's parameters, the
        spec's value where it has the field, else the law's default."""
        from resnet_scale_cli.laws import LAWS

        return {s.name: getattr(self, s.name, s.default) for law in LAWS.values() for s in law.parameters}

    def torch_dtype(self) -> Any:
        return torch_dtype(self.dtype)  # type: ignore[attr-defined]

    def torch_device(self) -> Any:
        return resolve_device(self.device)  # type: ignore[attr-defined]


class Draws:
    """What a spec with `samples` and `draws` holds beyond them: `samples` (weight draw, input)
    pairs share `n_draws` independent weight draws (default one per sample), `samples / draws`
    inputs each; `check_draws` refuses draws that do not divide the samples."""

    @property
    def n_draws(self) -> int:
        return self.samples if self.draws is None else self.draws  # type: ignore[attr-defined]

    @property
    def inputs_per_draw(self) -> int:
        return self.samples // self.n_draws  # type: ignore[attr-defined]

    def check_draws(self) -> None:
        draws, samples = self.draws, self.samples  # type: ignore[attr-defined]
        if draws is not None and (draws > samples or samples % draws):
            raise SpecError(f"--draws ({draws}) must divide --samples ({samples})")


def settings_of(spec: Any) -> Iterator[tuple[dataclasses.Field, Setting]]:
    """Each field of a spec (class or instance) with its setting; its flags filled in from the
    field's name where not declared."""
    for f in dataclasses.fields(spec):
        setting = f.metadata.get("setting")
        if setting is None:
            continue
        if not setting.flags:
            name = f.name[:-1] if setting.grid and f.name in ("depths", "betas") else f.name
            setting = dataclasses.replace(setting, flags=("--" + name.replace("_", "-"),))
        yield f, setting


def keys_of(spec: Any) -> dict[str, str]:
    """Config/flag key → field name (`depth` → `depths`, `memory_gb` → `memory_gb`)."""
    return {setting.key: f.name for f, setting in settings_of(spec)}


def parse_grid(value: Any, setting: Setting) -> tuple:
    """A grid's text, list or one value → its sorted values (`grids`: lists and ranges)."""
    from resnet_scale_cli.grids import parse_float_grid, parse_int_grid

    return (parse_int_grid if setting.check.kind is int else parse_float_grid)(value, setting.flag)


def grid_values(value: Any, setting: Setting) -> tuple:
    """A grid field's value as a tuple: a string is parsed, a list or one value taken as given."""
    if isinstance(value, str):
        return parse_grid(value, setting)
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def check_fields(spec: Any) -> None:
    """Check every field of a spec in order: a None is accepted where it is the default; a grid
    is made a tuple, not empty, each value checked and given once; `--device cuda` needs CUDA.
    Raises `SpecError` naming the flag of the first invalid value."""
    for f, setting in settings_of(spec):
        value = getattr(spec, f.name)
        if value is None and f.default is None:
            continue
        flag = setting.flag
        if not setting.grid:
            setting.check(value, flag)
            continue
        values = grid_values(value, setting)
        if values != value:
            object.__setattr__(spec, f.name, values)
        if not values:
            raise SpecError(f"{flag}: no values given")
        seen = set()
        for v in values:
            setting.check(v, flag, f"{flag} values")
            if v in seen:
                raise SpecError(f"{flag}: repeated {setting.key} {v!r} is given twice; give each value once")
            seen.add(v)
    if getattr(spec, "device", None) == "cuda":  # torch is imported only to ask for CUDA
        resolve_device("cuda")


def flag_values(spec: Any) -> dict[str, Any]:
    """A spec's values under their keys (`depths` → `depth`), tuples as lists: its JSON `spec`."""
    names = {f.name: setting.key for f, setting in settings_of(spec)}
    return {names.get(k, k): v for k, v in Spec.to_dict(spec).items()}


def law_fields(*, order: tuple[str, ...] = (), exclude: tuple[str, ...] = (), grid: bool = False,
               after: str = "law") -> Any:
    """Class decorator, under `@dataclass`: after the field `after`, a field for each parameter
    every registered law declares (its `Setting`: default, check, help, flag), those in `order`
    first, then in the registry's order; with `grid`, a law's sweep parameter (H, ℓ, …) takes a
    grid. The names in `exclude` are left out; a parameter named like one of the class's own
    fields is refused (`SpecError`)."""
    def add(cls: type) -> type:
        from resnet_scale_cli.laws import LAWS

        own = dict(cls.__dict__.get("__annotations__", {}))
        found: dict[str, Setting] = {}
        for law in LAWS.values():
            for s in law.parameters:
                if s.name in own:  # a law's parameter may not take the name of a command's setting
                    raise SpecError(f"law {law.name!r}: its parameter {s.name!r} is the name of a setting of "
                                    f"{cls.__name__}; give the parameter another name")
                if s.name not in exclude and s.name not in found:
                    found[s.name] = dataclasses.replace(s, grid=True) if grid and s.name == law.parameter else s
        names = sorted(found, key=lambda n: order.index(n) if n in order else len(order))
        annotations: dict[str, Any] = {}
        for key, kind in own.items():
            annotations[key] = kind
            if key == after:
                for n in names:
                    annotations[n] = tuple if found[n].grid else found[n].check.kind
                    setattr(cls, n, found[n].field())
        cls.__annotations__ = annotations
        return cls

    return add


# ----------------------------------------------------------------------------- shared settings
#: the law, the model and the execution: every spec takes these (`LAW_NAME.field()`)
LAW_NAME = Setting(registry_choice("laws"), "Weight law across depth.", "iid", panel=LAW)
MODEL_NAME = Setting(registry_choice("models"), "Residual f: full V σ(W h), simple V σ(h), linear V h.", "full", panel=MODEL)
ACTIVATION = Setting(registry_choice("activations"), "σ.", "relu", panel=MODEL)
DEPTH = Setting(Whole(1), "Depth L.", 1000, ("--depth", "-L"), GRID,
                grid_help="Depths: list 100,1000 or range 10:1000:10 (whole numbers, each given once).")
DEPTHS = dataclasses.replace(DEPTH, default=(100, 300, 1000), grid=True, help=DEPTH.grid_help, grid_help=None)
WIDTH = Setting(Whole(1), "Width d.", 40, ("--width", "-d"), GRID,
                grid_help="Widths d: one value or a list 8,40,200 (critical β per width).")
BETAS = Setting(Real(0.0), "Scaling exponents β: comma list 0.25,0.5,1 or range start:stop:count.", (0.25, 0.5, 1.0),
                panel=GRID, grid=True)
BETA = Setting(Real(0.0), "β.", 1.0, panel=GRID)
SAMPLES = Setting(Whole(1), "(weights, input) samples per β.", 50, ("--samples", "-n"))
DRAWS = Setting(Whole(1), "Independent weight draws the samples share (must divide --samples).", none="one per sample")
GRADIENTS = Setting(Flag(), "Measure gradient ratios too.", True, ("--gradients/--no-gradients",))
SEED = Setting(Whole(0), "Root seed; every cell and draw derives its own stream.", 0)
DEVICE = Setting(registry_choice("devices"), "Device (auto = CUDA when available).", "auto", panel=EXECUTION)
DTYPE = Setting(registry_choice("dtypes"), "Floating-point precision.", "float32", panel=EXECUTION)
MEMORY_GB = Setting(POSITIVE, "Memory budget for weights and stored activations.", 2.0, panel=EXECUTION)
