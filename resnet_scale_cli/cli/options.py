"""Option definitions shared by the commands, built from the settings table (`settings.SETTINGS`)
and the registries, so every choice is a typed Enum: `--help` lists it in full, Typer refuses
other values with exit 2, and shell completion offers them.

`with_settings(...)` adds the named settings to a command's signature and hands them to the
command as one `settings` dict (only settings, never output flags)."""

from __future__ import annotations

import enum
import functools
import inspect
from typing import Annotated, Any, Callable, Optional

import typer

from resnet_scale_cli.settings import SETTINGS, choices

_ENUMS: dict[str, type[enum.Enum]] = {}


def choice_enum(kind: str, names: tuple[str, ...] | None = None) -> type[enum.Enum]:
    """A str Enum of a registry's names (one class per registry), or of `names` given here."""
    if kind not in _ENUMS:
        names = names if names is not None else choices(kind)
        _ENUMS[kind] = enum.Enum("".join(p.title() for p in kind.split("_")), {n: n for n in names}, type=str)
    return _ENUMS[kind]


def setting_option(name: str, *, grid: bool = False, default: Any = None) -> Any:
    """The Annotated type of a setting's option (a grid string when `grid`); `default` replaces
    the default shown in the help (a command whose spec has its own defaults)."""
    s = SETTINGS[name]
    shown = s.default if default is None else default
    if grid and s.grid_help:
        note = f" \\[default: {default}]" if default is not None else ""
        return Annotated[Optional[str], typer.Option(*s.flags, help=s.grid_help + note, show_default=False)]
    default = f" \\[default: {shown}]" if shown is not None else ""
    if isinstance(s.kind, str):  # a registry's names: typed, listed in full in the help (wrapped at words)
        listed = " Choices: " + " | ".join(choices(s.kind)) + "."
        return Annotated[Optional[choice_enum(s.kind)], typer.Option(*s.flags, help=s.help + listed + default,
                                                                     metavar=name.upper(), show_default=False)]
    return Annotated[Optional[s.kind], typer.Option(*s.flags, help=s.help + default, show_default=False)]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def with_settings(*names: str, grid: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
                  defaults: dict[str, Any] | None = None) -> Callable[[Callable], Callable]:
    """Decorator: the command takes the named settings as options (grid strings for the names in
    `grid`) and receives them as `settings` (None where not given). `extra` maps further names
    to a command's own `Annotated` options (default None), handed over in `settings` too;
    `defaults` are the defaults the help shows where the command's spec has its own."""
    extra, defaults = extra or {}, defaults or {}

    def wrap(fn: Callable) -> Callable:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "settings"]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None,
                                   annotation=setting_option(n, grid=n in grid, default=defaults.get(n))) for n in names]
        added += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=a) for n, a in extra.items()]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            settings = {n: _plain(kwargs.pop(n, None)) for n in (*names, *extra)}
            return fn(settings=settings, **kwargs)

        command.__annotations__ = {}  # Typer reads the evaluated annotations of the signature below
        command.__signature__ = signature.replace(parameters=added + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                                                                      for p in own])
        return command

    return wrap


# ----------------------------------------------------------------------------- output options
Config = Annotated[Optional[str], typer.Option("--config", help="TOML file of settings ('-' reads stdin); flags override it.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
Plot = Annotated[Optional[str], typer.Option("--plot", help="Write a figure (.png, .pdf or .svg).", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes on stderr.")]
NoColor = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR is honored too).")]
Out = Annotated[Optional[str], typer.Option("--out", help="Folder for results.jsonl (one line per finished cell) and summary.json.", show_default=False)]
Resume = Annotated[Optional[bool], typer.Option("--resume", help="Skip the cells already in --out; ends identical to an uninterrupted run.", show_default=False)]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Root seed; every cell and draw derives its own stream. [default: 0]", show_default=False)]
Device = Annotated[Optional[choice_enum("devices")], typer.Option("--device", help="Device (auto = CUDA when available). [default: auto]", show_default=False)]  # type: ignore[valid-type]
