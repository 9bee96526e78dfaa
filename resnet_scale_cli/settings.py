"""Settings: a TOML file and/or command-line flags → validated specs.

`SETTINGS` is the one table from a spec field to its flag, help line and kind; the command line
builds its options from it, and config files use the same names. Precedence: the command's
defaults < the config file < the flags that were given. `--hurst` alone implies `--law fbm` and
`--lengthscale` alone `--law rbf`.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.spec import DEVICES, DTYPES, RunSpec, spec_from_mapping

DEFAULT = RunSpec()


@dataclass(frozen=True)
class Setting:
    """A spec field as a flag: `kind` is int, float, str, bool, or the name of a registry of
    choices (`laws`, `dists`, …); `grid` settings take lists and ranges in grid commands."""

    name: str
    flags: tuple[str, ...]
    help: str
    kind: Any
    default: str | None = None
    grid_help: str | None = None


def choices(kind: str) -> tuple[str, ...]:
    """The names a choice setting accepts, from its registry."""
    if kind == "laws":
        from resnet_scale_cli.laws import LAWS as names
    elif kind == "dists":
        from resnet_scale_cli.laws import DISTS as names
    elif kind == "fbm_backends":
        from resnet_scale_cli.laws import FBM_BACKENDS as names
    elif kind == "models":
        from resnet_scale_cli.dynamics import MODELS as names
    elif kind == "activations":
        from resnet_scale_cli.dynamics import ACTIVATIONS as names
    elif kind == "grad_methods":
        from resnet_scale_cli.dynamics import GRAD_METHODS as names
    elif kind == "devices":
        names = DEVICES
    elif kind == "dtypes":
        names = DTYPES
    else:
        raise KeyError(kind)
    return tuple(names)


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("law", ("--law",), "Weight law across depth.", "laws", DEFAULT.law),
    Setting("dist", ("--dist",), "iid entry law.", "dists", DEFAULT.dist),
    Setting("lengthscale", ("--lengthscale",), "RBF lengthscale ℓ > 0 (on depth scaled to [0,1]).", float,
            f"{DEFAULT.lengthscale:g}", "RBF lengthscale ℓ (implies --law rbf): one value, a list or a range."),
    Setting("hurst", ("--hurst",), "fBm Hurst index H in (0,1).", float, f"{DEFAULT.hurst:g}",
            "fBm Hurst index H (implies --law fbm): one value, a list 0.2,0.5 or a range 0.05:0.97:24."),
    Setting("fbm_backend", ("--fbm-backend",), "fGn sampler (fbm = the PyPI package, one path at a time, reference).",
            "fbm_backends", DEFAULT.fbm_backend),
    Setting("model", ("--model",), "Residual f: full V σ(W h), simple V σ(h), linear V h.", "models", DEFAULT.model),
    Setting("activation", ("--activation",), "σ.", "activations", DEFAULT.activation),
    Setting("depth", ("--depth", "-L"), "Depth L.", int, str(DEFAULT.depth),
            "Depths: list 100,1000 or range 10:1000:10 (integers, deduplicated)."),
    Setting("width", ("--width", "-d"), "Width d.", int, str(DEFAULT.width),
            "Widths d: one value or a list 8,40,200 (critical β per width)."),
    Setting("beta", ("--beta",), "Scaling exponents β: comma list 0.25,0.5,1 or range start:stop:count.", str,
            "0.25,0.5,1"),
    Setting("samples", ("--samples", "-n"), "(weights, input) samples per β.", int, str(DEFAULT.samples)),
    Setting("draws", ("--draws",), "Independent weight draws the samples share (must divide --samples).", int,
            "one per sample"),
    Setting("probes", ("--probes",), "Random tangent probes for an unbiased gradient estimate.", int, "exact"),
    Setting("grad_method", ("--grad-method",), "auto = exact reverse pass (tangent when --probes is given).",
            "grad_methods", DEFAULT.grad_method),
    Setting("gradients", ("--gradients/--no-gradients",), "Measure gradient ratios too.", bool, "--gradients"),
    Setting("seed", ("--seed",), "Root seed; every cell and draw derives its own stream.", int, str(DEFAULT.seed)),
    Setting("device", ("--device",), "Device (auto = CUDA when available).", "devices", DEFAULT.device),
    Setting("dtype", ("--dtype",), "Floating-point precision.", "dtypes", DEFAULT.dtype),
    Setting("memory_gb", ("--memory-gb",), "Memory budget for weights and stored activations.", float,
            f"{DEFAULT.memory_gb:g}"),
)}

#: settings of one cell (`run`) and of a grid (`sweep`, `phase`); `depth`, `hurst`,
#: `lengthscale` and `width` take grids in the latter
RUN_SETTINGS = tuple(SETTINGS)
GRID_SETTINGS = RUN_SETTINGS
GRID_VALUED = ("depth", "hurst", "lengthscale", "width")


#: the text of each config source read, to name the line of a key in error messages
_CONFIG_TEXTS: dict[str, str] = {}


def read_config(source: str | None) -> dict[str, Any]:
    """Settings from a TOML file or stdin ('-'); errors name the file."""
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise SpecError(f"--config: cannot read {source!r}: {exc.strerror or exc}") from None
    _CONFIG_TEXTS[source] = text
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"--config {source}: invalid TOML: {exc}") from None


def _key_line(source: str, key: str) -> int | None:
    """The line of `key = …` in a config source read before (flag spelling `-` or `_`)."""
    spellings = {key, key.replace("_", "-"), key.replace("-", "_")}
    pattern = re.compile(r"""^\s*["']?(%s)["']?\s*=""" % "|".join(map(re.escape, spellings)))
    for number, line in enumerate(_CONFIG_TEXTS.get(source, "").splitlines(), 1):
        if pattern.match(line):
            return number
    return None


_Built = TypeVar("_Built")


def _located(build: Callable[..., _Built]) -> Callable[..., _Built]:
    """Errors about a setting that came from the config file (not from a flag) name the file and
    the key's line: `--config FILE:LINE: <message>`."""
    signature = inspect.signature(build)

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> _Built:
        try:
            return build(*args, **kwargs)
        except SpecError as exc:
            bound = signature.bind(*args, **kwargs).arguments
            config, flags = bound.get("config"), bound.get("flags") or {}
            message = str(exc)
            named = re.search(r"unknown key '([^']+)'", message) or re.match(r"--([a-z][a-z0-9-]*)", message)
            key = named.group(1).replace("-", "_") if named else None
            given = {k.replace("-", "_") for k, v in flags.items() if v is not None}
            line = _key_line(config, key) if config and key and key not in given else None
            if line is None:
                raise
            message = message.removeprefix(f"--config {config}: ")
            raise SpecError(f"--config {config}:{line}: {message}") from None

    return wrapper


def merge_settings(config: str | None, flags: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The command's defaults, overridden by the config file, overridden by the flags that were
    given (not None); `--hurst` alone implies `--law fbm` and `--lengthscale` alone `--law rbf`."""
    from resnet_scale_cli.laws import LAWS

    values = dict(defaults or {})
    values.update({k.replace("-", "_"): v for k, v in read_config(config).items()})
    given = {k: v for k, v in flags.items() if v is not None}
    values.update(given)
    owners = {law.parameter: name for name, law in LAWS.items() if law.parameter}
    if "law" not in values:
        present = [p for p in owners if p in values]
        if len(present) == 1:
            values["law"] = owners[present[0]]
    law = values.get("law")
    for key, owner in owners.items():
        if key in given and law is not None and law != owner:
            raise SpecError(f"--{key} applies to --law {owner}, not --law {law}")
    return values


@_located
def build_spec(config: str | None, flags: dict[str, Any]) -> RunSpec:
    """A single-cell spec from the config file and flags."""
    values = merge_settings(config, flags)
    return spec_from_mapping(values, source=f"--config {config}" if config else "settings")


#: keys of a config file that are outputs of a grid command, not settings
OUTPUT_KEYS = ("out", "resume", "plot", "plot_hist", "hist_depth", "hist_beta")


@_located
def build_sweep(config: str | None, flags: dict[str, Any], *, depths: str, betas: str,
                defaults: dict[str, Any] | None = None):
    """A sweep from the config file and flags, and the output settings (out, plot, …) a config
    file may hold."""
    from resnet_scale_cli.grids import parse_float_grid, parse_int_grid
    from resnet_scale_cli.laws import LAWS, law_parameter
    from resnet_scale_cli.sweep import SweepSpec

    values = merge_settings(config, flags, defaults)
    outputs = {k: values.pop(k) for k in OUTPUT_KEYS if k in values}
    depth_grid = parse_int_grid(values.pop("depth", depths), "--depth")
    width = values.pop("width", DEFAULT.width)
    width_grid = parse_int_grid(width, "--width") if isinstance(width, (str, list, tuple)) else (width,)
    values.setdefault("beta", betas)
    source = f"--config {config}" if config else "settings"
    law = values.get("law", DEFAULT.law)
    grids = {}
    for name, entry in LAWS.items():
        key = entry.parameter
        if key and key in values:
            grids[key] = parse_float_grid(values[key], f"--{key}")
            if isinstance(law, str) and law in LAWS and key != law_parameter(law) and len(grids[key]) > 1:
                raise SpecError(f"--{key} takes several values only with --law {name}")
            values[key] = grids[key][0]
    base = spec_from_mapping({**values, "depth": depth_grid[0], "width": width_grid[0]}, source=source)
    parameter = law_parameter(base.law)
    params = grids.get(parameter, (getattr(base, parameter),)) if parameter else ()
    return SweepSpec(base, depth_grid, params, width_grid if len(width_grid) > 1 else ()), outputs


@_located
def sample_sweep(config: str | None, flags: dict[str, Any]):
    """The law settings of `rscale sample` (one depth; `samples` counts weight draws, default 1;
    in a config file `draws` names them)."""
    values = merge_settings(config, flags)
    if "draws" in values:
        values["samples"] = values.pop("draws")
    values.setdefault("samples", 1)
    sweep, _ = build_sweep(None, values, depths=str(values.pop("depth", DEFAULT.depth)), betas="0.5")
    return sweep


@_located
def build_experiment_spec(cls: type, config: str | None, flags: dict[str, Any], *,
                          aliases: dict[str, str] | None = None, outputs: tuple[str, ...] = ("out", "resume", "plot")):
    """A spec dataclass of an experiment (LimitSpec, …) from the config file and flags.

    Keys use the flag names (`-` or `_`); `aliases` maps a flag name to a field (e.g. depth →
    depths). A field whose default is a tuple takes a grid string (`100,300` or a range);
    unknown keys are refused naming the file. Returns (spec, the output settings found).
    """
    import dataclasses

    from resnet_scale_cli.grids import parse_float_grid, parse_int_grid

    aliases = aliases or {}
    values = merge_settings(config, flags)
    found = {k: values.pop(k) for k in outputs if k in values}
    source = f"--config {config}" if config else "settings"
    fields = {f.name: f for f in dataclasses.fields(cls)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = aliases.get(key, key)
        if name not in fields:
            raise SpecError(f"{source}: unknown key {key!r}")
        default = fields[name].default
        if isinstance(default, tuple) and default and not isinstance(value, tuple):
            flag = "--" + key.replace("_", "-")
            value = (parse_int_grid(value, flag) if isinstance(default[0], int) else parse_float_grid(value, flag))
        changes[name] = value
    try:
        return cls(**changes), found
    except TypeError as exc:  # a value of the wrong type that the spec could not compare
        raise SpecError(f"{source}: {exc}") from None
