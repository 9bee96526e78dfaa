"""Settings: a TOML file and/or command-line flags → validated specs.

Each setting is declared once, on its spec's field (`fields.Setting`: flag, help, default,
check); the command line builds its options from those, and config files use the same keys.
Precedence: the command's defaults < the config file < the flags that were given. A law's sweep
parameter alone implies its law (`--hurst` → `--law fbm`, `--lengthscale` → `--law rbf`).
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from resnet_scale_cli import fields as F
from resnet_scale_cli.errors import DryRun, SpecError, did_you_mean
from resnet_scale_cli.fields import (EXECUTION, GRID, GRID_METAVAR, LAW, MODEL, OUTPUT, PANELS,  # noqa: F401  (re-exported)
                                     SAMPLING, Setting)
from resnet_scale_cli.laws import law_parameters
from resnet_scale_cli.spec import RunSpec, spec_from_mapping

DEFAULT = RunSpec()

#: the settings of one cell by their keys (flag names): RunSpec's fields' declarations
SETTINGS: dict[str, Setting] = {setting.key: setting for _, setting in F.settings_of(RunSpec)}

#: defaults of the grid commands where they differ from `RunSpec`'s: (depths, betas, other settings)
GRID_DEFAULTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sweep": ("100,300,1000", "0.25,0.5,1", {}),
    "phase": ("100,300,1000,3000", "0:1.3:27", {"samples": 24}),
}


def show_default(value: Any) -> str:
    """A default as the flag's text: `100,300,1000`, `0.25`, `--gradients`."""
    if isinstance(value, (tuple, list)):
        return ",".join(show_default(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def shown_defaults(spec: type = RunSpec, command: str | None = None) -> dict[str, str]:
    """The default each setting's help shows, by key: the spec's field, a grid command's own
    defaults (`GRID_DEFAULTS`), or the setting's `none` text."""
    shown: dict[str, str] = {}
    for f, setting in F.settings_of(spec):
        if f.default is None:
            if setting.none:
                shown[setting.key] = setting.none
        elif setting.check.kind is bool:
            shown[setting.key] = setting.flags[0].split("/")[0 if f.default else 1]
        else:
            shown[setting.key] = show_default(f.default)
    if command in GRID_DEFAULTS:
        depths, betas, others = GRID_DEFAULTS[command]
        shown |= {"depth": depths, "beta": betas} | {k: show_default(v) for k, v in others.items()}
    return shown


@dataclass(frozen=True)
class Invocation:
    """What the command line asks beyond the spec: `--dry-run` (print the resolved spec, measure
    nothing) and `--threads` (torch's intra-op threads; None keeps torch's own count)."""

    dry_run: bool = False
    threads: int | None = None


#: the invocation of the command being run (None for library callers: no dry run, threads untouched)
INVOCATION: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("rscale_invocation", default=None)


def default_threads() -> int:
    """The intra-op threads torch uses when not told: OMP_NUM_THREADS when set, else torch's count."""
    import os

    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    import torch

    return torch.get_num_threads()


def apply_threads(threads: int | None) -> None:
    """torch.set_num_threads(threads) before any work (nothing when None: torch's default stays)."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SpecError(f"--threads must be at least 1, got {threads!r}")
    import torch

    torch.set_num_threads(threads)


def flag_view(spec: Any) -> dict[str, Any]:
    """A spec's values under their keys (`depths` → `depth`, `betas` → `beta`; a sweep's grids
    as lists), JSON-ready."""
    from resnet_scale_cli.sweep import SweepSpec

    if isinstance(spec, SweepSpec):
        out = flag_view(spec.base)
        out["depth"] = list(spec.depths)
        out["width"] = list(spec.widths) if spec.widths else [spec.base.width]
        parameter = spec.parameter if hasattr(spec, "parameter") else None
        if parameter and spec.params:
            out[parameter] = list(spec.params)
        return out
    return F.flag_values(spec)


def _finish(spec: Any, outputs: dict[str, Any] | None = None) -> None:
    """The last step of every spec builder of a command: under `--dry-run` stop with the resolved
    spec; else apply `--threads` (the spec is valid: torch is imported only now)."""
    invocation = INVOCATION.get()
    if invocation is None:
        return
    if invocation.dry_run:
        threads = invocation.threads if invocation.threads is not None else default_threads()
        resolved = flag_view(spec) | {"threads": threads}
        raise DryRun({"dry_run": True, "spec": resolved, "outputs": dict(outputs or {})}, spec)
    apply_threads(invocation.threads)


#: settings of one cell (`run`) and of a grid (`sweep`, `phase`); `depth`, `width` and each law's
#: sweep parameter (`hurst`, `lengthscale`, …) take grids in the latter
RUN_SETTINGS = tuple(SETTINGS)
GRID_VALUED = ("depth", *law_parameters(), "width")


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
            raise SpecError(f"{SETTINGS[key].flag} applies to --law {owner}, not --law {law}")
    return values


@_located
def build_spec(config: str | None, flags: dict[str, Any]) -> RunSpec:
    """A single-cell spec from the config file and flags."""
    values = merge_settings(config, flags)
    spec = spec_from_mapping(values, source=f"--config {config}" if config else "settings")
    _finish(spec)
    return spec


#: keys of a config file that are outputs of a grid command, not settings
OUTPUT_KEYS = ("out", "resume", "plot", "plot_hist", "hist_depth", "hist_beta")
#: resolution (dots per inch) of the figures --plot writes, unless --dpi says otherwise
FIGURE_DPI = 120


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
            grids[key] = parse_float_grid(values[key], SETTINGS[key].flag)
            if isinstance(law, str) and law in LAWS and key != law_parameter(law) and len(grids[key]) > 1:
                raise SpecError(f"{SETTINGS[key].flag} takes several values only with --law {name}")
            values[key] = grids[key][0]
    base = spec_from_mapping({**values, "depth": depth_grid[0], "width": width_grid[0]}, source=source)
    parameter = law_parameter(base.law)
    params = grids.get(parameter, (getattr(base, parameter),)) if parameter else ()
    sweep = SweepSpec(base, depth_grid, params, width_grid if len(width_grid) > 1 else ())
    _finish(sweep, outputs)
    return sweep, outputs


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

    Keys are the settings' keys (`depth` for the field `depths`; `-` or `_`; `aliases` adds
    more). A grid field takes a grid string (`100,300` or a range), a list or one value; unknown
    keys are refused naming the file. Returns (spec, the output settings found).
    """
    values = merge_settings(config, flags)
    found = {k: values.pop(k) for k in outputs if k in values}
    source = f"--config {config}" if config else "settings"
    names = [f.name for f in dataclasses.fields(cls)]
    keys = {name: name for name in names} | F.keys_of(cls) | (aliases or {})
    grids = {f.name: setting for f, setting in F.settings_of(cls) if setting.grid}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in keys:
            known = [k for k, name in keys.items() if k != name or name not in grids] + list(outputs)
            raise SpecError(f"{source}: unknown key {key!r}{did_you_mean(key, known)}")
        name = keys[key]
        changes[name] = F.parse_grid(value, grids[name]) if name in grids and not isinstance(value, tuple) else value
    try:
        spec = cls(**changes)
    except TypeError as exc:  # a value of the wrong type that the spec could not compare
        raise SpecError(f"{source}: {exc}") from None
    _finish(spec, found)
    return spec, found
