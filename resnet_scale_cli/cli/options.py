"""Option definitions shared by the commands, built from the spec fields' declarations
(`fields.Setting`) and the registries.

`with_settings(...)` adds the named settings to a command's signature and hands them to the
command as one `settings` dict (only settings, never output flags). It also gives every command
the same conventions (`conventions`):

- each option sits in one help panel (`settings.PANELS`: grid, law, model, sampling,
  execution, output; `train` and `check` add their own);
- metavars: INT, FLOAT, `LIST|START:STOP:N` for grids, FILE/DIR for paths, a choice's name in
  capitals, nothing for a flag;
- values are parsed here with rscale's one-line errors (`--law: unknown value 'iidd'; did you
  mean 'iid'? …`), never the wording of the parsing library;
- the help's defaults are those of the command's spec (`settings.shown_defaults`);
- `--threads` and `--dry-run` on every command that measures.
"""

from __future__ import annotations

import enum
import functools
import inspect
import math
import typing
from typing import Annotated, Any, Callable, Optional

import typer
from typer.models import ArgumentInfo, OptionInfo

try:  # typer >= 0.22 vendors its own click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from resnet_scale_cli.errors import DryRun, SpecError, did_you_mean
from resnet_scale_cli.fields import (EXECUTION, GRID, GRID_METAVAR, LAW, MODEL, OUTPUT, SAMPLING, Choice, Setting,
                                     settings_of)
try:
    from resnet_scale_cli.settings import INVOCATION, Invocation, RunSpec, shown_defaults
except SpecError as refused:  # a law named by RSCALE_LAWS is refused before any command exists
    from resnet_scale_cli.cli.app import EXIT_USAGE, _fail

    raise SystemExit(_fail(str(refused), EXIT_USAGE)) from None

_ENUMS: dict[tuple[str, tuple[str, ...]], type[enum.Enum]] = {}


def choice_enum(name: str, names: tuple[str, ...]) -> type[enum.Enum]:
    """A str Enum of a setting's choices (one class per setting and names)."""
    if (name, names) not in _ENUMS:
        _ENUMS[name, names] = enum.Enum("".join(p.title() for p in name.split("_")), {n: n for n in names}, type=str)
    return _ENUMS[name, names]


# ----------------------------------------------------------------------------- value parsers
def _refuse(message: str) -> None:
    """A bad value: one line (a usage error, raised past the parsing library's own wording)."""
    raise click_exceptions.UsageError(message)


def int_parser(flag: str, minimum: int | None = None) -> Callable[[Any], Any]:
    """Parse a whole number: `--depth: expected a whole number, got 'x'` (at least `minimum`)."""
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            number = int(value.strip())
        except ValueError:
            _refuse(f"{flag}: expected a whole number, got {value!r}")
        if minimum is not None and number < minimum:
            _refuse(f"{flag} must be at least {minimum}, got {number}")
        return number
    return parse


def float_parser(flag: str) -> Callable[[Any], Any]:
    """Parse a finite real number: `--lengthscale: expected a finite number, got 'inf'`."""
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            number = float(value)
        except ValueError:
            _refuse(f"{flag}: expected a number, got {value!r}")
        if not math.isfinite(number):
            _refuse(f"{flag}: expected a finite number, got {value!r}")
        return number
    return parse


def choice_parser(flag: str, kind: type[enum.Enum]) -> Callable[[Any], Any]:
    """Parse one of a registry's names, with a did-you-mean for a near miss."""
    names = tuple(kind.__members__)

    def parse(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if value not in names:
            _refuse(f"{flag}: unknown value {value!r}{did_you_mean(value, names)} (choose from {', '.join(names)})")
        return kind(value)
    return parse


def grid_parser(flag: str, whole: bool) -> Callable[[Any], Any]:
    """Check a grid (`100,300` or `start:stop:count`) now; the command receives the text."""
    def parse(value: Any) -> Any:
        from resnet_scale_cli.grids import parse_float_grid, parse_int_grid

        try:
            (parse_int_grid if whole else parse_float_grid)(value, flag)
        except SpecError as exc:
            _refuse(str(exc))
        return value
    return parse


# ----------------------------------------------------------------------------- conventions
#: the panel of each option that is not a setting (settings carry their own panel)
PANELS = {
    "draws": SAMPLING, "input_shape": MODEL,
    # execution
    "config": EXECUTION, "threads": EXECUTION, "dry_run": EXECUTION, "workers": EXECUTION, "scheduler": EXECUTION,
    "scheduler_file": EXECUTION,
    # output
    "out": OUTPUT, "resume": OUTPUT, "json_out": OUTPUT, "plot": OUTPUT, "plot_hist": OUTPUT, "hist_depth": OUTPUT,
    "hist_beta": OUTPUT, "plot_profiles": OUTPUT, "compare": OUTPUT, "lags": OUTPUT, "paths": OUTPUT, "junit": OUTPUT,
    "quiet": OUTPUT, "no_color": OUTPUT,
    # check
    "baseline": "Check", "update_baseline": "Check", "confidence": "Check",
}

#: the metavar of each text option that is not a setting (paths, shapes)
METAVARS = {"config": "FILE", "plot": "FILE", "plot_hist": "FILE", "plot_profiles": "FILE", "baseline": "FILE",
            "junit": "FILE", "compare": "FILE", "scheduler_file": "FILE", "out": "DIR", "input_shape": "SHAPE",
            "scheduler": "ADDRESS", "files": "FILE"}


def _base(annotation: Any) -> Any:
    """The value type of `Optional[T]` / `list[T]` / `T`."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return _base(args[0])
    return annotation


def conventional(name: str, annotation: Any) -> Any:
    """Give an `Annotated[T, typer.Option(...)]` the conventions: a panel, a metavar and
    rscale's parser (for numbers and choices). Fields already set are kept."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation
    kind, *metadata = typing.get_args(annotation)
    info = next((m for m in metadata if isinstance(m, (OptionInfo, ArgumentInfo))), None)
    if info is None:
        return annotation
    base = _base(kind)
    flag = next((d for d in info.param_decls or () if d.startswith("--")), "--" + name.replace("_", "-")).split("/")[0]
    if isinstance(info, OptionInfo) and info.rich_help_panel is None:
        info.rich_help_panel = PANELS.get(name)
    if info.metavar is None:
        if base is bool:
            info.metavar = ""
        elif isinstance(base, type) and issubclass(base, enum.Enum):
            info.metavar = name.upper()
        else:
            info.metavar = {int: "INT", float: "FLOAT"}.get(base) or METAVARS.get(name) or ("FILE" if base is str else None)
    if info.parser is None and typing.get_origin(_base(kind)) is not list:
        if base is int:
            info.parser = int_parser(flag)
        elif base is float:
            info.parser = float_parser(flag)
        elif isinstance(base, type) and issubclass(base, enum.Enum):
            info.parser = choice_parser(flag, base)
    return annotation


def setting_option(s: Setting, *, grid: bool = False, default: str | None = None) -> Any:
    """The Annotated type of a setting's option (a grid string when the field is a grid or the
    command takes it as one, `grid`); `default` is the default its help shows (the command's spec's)."""
    shown = f" \\[default: {default}]" if default is not None else ""
    common = dict(show_default=False, rich_help_panel=s.panel)
    if s.grid or grid:  # a grid: a list or a range, checked when parsed
        return Annotated[Optional[str], typer.Option(*s.flags, help=(s.grid_help or s.help) + shown, metavar=GRID_METAVAR,
                                                     parser=grid_parser(s.flag, s.check.kind is int), **common)]
    if isinstance(s.check, Choice):  # typed, listed in full in the help (wrapped at words)
        kind = choice_enum(s.key, s.check.options)
        listed = " Choices: " + " | ".join(s.check.options) + "."
        return Annotated[Optional[kind], typer.Option(*s.flags, help=s.help + listed + shown, metavar=s.metavar,
                                                      parser=choice_parser(s.flag, kind), **common)]
    parser = {int: int_parser, float: float_parser}.get(s.check.kind)
    return Annotated[Optional[s.check.kind], typer.Option(*s.flags, help=s.help + shown, metavar=s.metavar,
                                                          **({"parser": parser(s.flag)} if parser else {}), **common)]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _paragraphs(doc: str | None) -> str | None:
    """A docstring with each paragraph on one line: the help wraps it to the terminal, never
    where the source happened to break."""
    if not doc:
        return doc
    text = inspect.cleandoc(doc).replace("\nExample:", "\n\nExample:")  # an example is a paragraph of its own
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


Threads = Annotated[Optional[int], typer.Option(
    "--threads", help="torch's intra-op CPU threads. Fewer can be faster on a busy machine (docs/performance.md). "
    "\\[default: OMP_NUM_THREADS, else torch's count of the cores]", show_default=False, metavar="INT",
    parser=int_parser("--threads", minimum=1), rich_help_panel=EXECUTION)]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Print the resolved settings, the number of cells and the memory and time estimates, and exit "
    "without measuring (with --json as one JSON document).", metavar="", rich_help_panel=EXECUTION)]


#: the order of the panels in `--help` (a command's own panels after sampling)
_ORDER = {GRID: 0, LAW: 1, MODEL: 2, SAMPLING: 3, EXECUTION: 5, OUTPUT: 6}


def _panel_rank(parameter: inspect.Parameter) -> float:
    """Where a parameter's option sits: arguments first, then the panels in `_ORDER`."""
    info = next((m for m in getattr(parameter.annotation, "__metadata__", ()) if isinstance(m, (OptionInfo, ArgumentInfo))),
                None)
    if not isinstance(info, OptionInfo):
        return -1
    return _ORDER.get(info.rich_help_panel, 4)


def _run(fn: Callable, invocation: Invocation, kwargs: dict[str, Any]) -> Any:
    """Call the command with `invocation` current; a dry run prints the resolved spec with its
    cells, memory and time (`estimates.plan`): one JSON document with --json, else lines."""
    token = INVOCATION.set(invocation)
    try:
        return fn(**kwargs)
    except DryRun as stop:
        show_dry_run(fn.__name__, stop, bool(kwargs.get("json_out")))
    finally:
        INVOCATION.reset(token)


def show_dry_run(command: str, stop: DryRun, json_out: bool) -> None:
    """Print a dry run's document (`stop.document` and, given its spec, `estimates.plan`)."""
    from resnet_scale_cli.report.documents import dump_json

    document = {"command": command, **stop.document}
    if stop.spec is not None:
        from resnet_scale_cli.estimates import plan

        document |= plan(command, stop.spec)
    if json_out:
        return dump_json(document)
    typer.echo("\n".join(dry_run_lines(document)))


def show_check_dry_run(checks: list[Any], json_out: bool) -> None:
    """`rscale check --dry-run`: each check file's settings, expectations, cells, memory and time."""
    from resnet_scale_cli.estimates import check_plan
    from resnet_scale_cli.report.documents import dump_json

    document = check_plan(checks)
    if json_out:
        return dump_json(document)
    for entry in document["files"]:
        expectations = ", ".join(e["name"] or e["type"] for e in entry["expectations"])
        typer.echo("\n".join(dry_run_lines({**entry, "command": f"check {entry['file']} ({entry['command']})"})))
        typer.echo(f"expect  {len(entry['expectations'])}: {expectations}")


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(_shown, value))
    return "-" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def dry_run_lines(document: dict[str, Any]) -> list[str]:
    """A dry run's document as short lines: the settings, then cells, memory and time."""
    lines = [f"rscale {document.get('command', '')} --dry-run: nothing is measured"]
    width = max(map(len, document["spec"]), default=0)
    lines += [f"  {name:<{width}}  {_shown(value)}" for name, value in document["spec"].items()]
    lines += [f"  {name:<{width}}  {_shown(value)}" for name, value in document.get("outputs", {}).items()]
    cells = document.get("cells")
    if cells:
        per = ", ".join(f"{k} {v}" for k, v in cells.items() if k != "count")
        lines.append(f"cells   {cells['count']}" + (f" ({per} each)" if per else ""))
    mem = document.get("memory")
    if mem:
        free = f", {mem['free_gb']:g} GB free" if mem.get("free_gb") is not None else ""
        lines.append(f"memory  {mem['gb']:.3g} GB for {mem['unit']} (budget {mem['budget_gb']:g} GB{free})")
        if mem.get("refused"):
            lines.append(f"        the run would stop: {mem['refused']}")
    time = document.get("time")
    if time:
        lines.append(f"time    about {time['seconds']:g} s ({time['basis']})" if time.get("estimated")
                     else f"time    {time['basis']}")
    return lines


def with_law_parameters(names: tuple[str, ...], grid: tuple[str, ...], declared: dict[str, Setting]
                        ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A command that takes `--law` takes the parameter of every registered law its spec holds
    (after the law options it names); a sweep parameter (H, ℓ, …) is a grid where the command
    takes the others as grids."""
    from resnet_scale_cli.laws import LAWS, law_parameters

    law_keys = [s.name for law in LAWS.values() for s in law.parameters]
    extra = tuple(k for k in declared if k in law_keys and k not in names)
    if "law" not in names or not extra:
        return names, grid
    at = max(i for i, n in enumerate(names) if n == "law" or n in law_keys) + 1
    if any(g in law_parameters() for g in grid):
        grid += tuple(k for k in extra if k in law_parameters())
    return names[:at] + extra + names[at:], grid


def with_settings(*names: str, grid: tuple[str, ...] = (), spec: type = RunSpec, command: str | None = None
                  ) -> Callable[[Callable], Callable]:
    """Decorator: the command takes the settings of `spec` named by their keys as options (grid
    strings for the names in `grid` and for the spec's grid fields) and receives them as
    `settings` (None where not given). The help shows the defaults of `spec` (`command` names a
    grid command's own defaults). Adds `--threads` and `--dry-run`."""
    declared = {setting.key: setting for _, setting in settings_of(spec)}
    shown = shown_defaults(spec, command)
    names, grid = with_law_parameters(names, grid, declared)

    def wrap(fn: Callable) -> Callable:
        signature = inspect.signature(fn, eval_str=True)
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=conventional(p.name, p.annotation))
               for p in signature.parameters.values() if p.name != "settings"]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None,
                                   annotation=setting_option(declared[n], grid=n in grid, default=shown.get(n)))
                 for n in names]
        runs = [inspect.Parameter("threads", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Threads),
                inspect.Parameter("dry_run", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DryRunOpt)]

        @functools.wraps(fn)
        def command_(**kwargs: Any) -> Any:
            settings = {n: _plain(kwargs.pop(n, None)) for n in names}
            invocation = Invocation(dry_run=bool(kwargs.pop("dry_run", False)), threads=kwargs.pop("threads", None))
            return _run(fn, invocation, dict(settings=settings, **kwargs))

        command_.__doc__ = _paragraphs(fn.__doc__)
        command_.__annotations__ = {}  # Typer reads the evaluated annotations of the signature below
        command_.__signature__ = signature.replace(parameters=sorted(added + own + runs, key=_panel_rank))
        return command_

    return wrap


def conventions(fn: Callable) -> Callable:
    """Decorator for a command without settings (`check`): the conventions on its own options."""
    signature = inspect.signature(fn, eval_str=True)
    fn.__signature__ = signature.replace(parameters=sorted(
        (p.replace(annotation=conventional(p.name, p.annotation)) for p in signature.parameters.values()),
        key=lambda p: (p.default is not inspect.Parameter.empty, _panel_rank(p))))
    fn.__annotations__ = {}
    fn.__doc__ = _paragraphs(fn.__doc__)
    return fn


# ----------------------------------------------------------------------------- output options
Config = Annotated[Optional[str], typer.Option("--config", help="TOML file of settings ('-' reads stdin); flags override it.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
Plot = Annotated[Optional[str], typer.Option("--plot", help="Write a figure (.png, .pdf or .svg).", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes on stderr.")]
NoColor = Annotated[bool, typer.Option("--no-color", help="No colour (NO_COLOR is honored too).")]
Out = Annotated[Optional[str], typer.Option("--out", help="Folder for results.jsonl (one line per finished cell), results.parquet (one row per sample) and summary.json.", show_default=False)]
Resume = Annotated[Optional[bool], typer.Option("--resume", help="Skip the cells already in --out; ends identical to an uninterrupted run.", show_default=False)]
_RUN = {setting.key: setting for _, setting in settings_of(RunSpec)}
Seed = setting_option(_RUN["seed"], default=shown_defaults()["seed"])
Device = setting_option(_RUN["device"], default=shown_defaults()["device"])


# ----------------------------------------------------------------------------- figure options
def _figsize(text: str, flag: str = "--figsize") -> tuple[float, float]:
    """'W,H' (inches, positive and finite) → (W, H); anything else is one usage error."""
    parts = text.replace("x", ",").split(",") if isinstance(text, str) else []
    try:
        size = tuple(float(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) != 2 or not all(math.isfinite(v) and 0 < v <= 200 for v in size):
        _refuse(f"{flag}: expected WIDTH,HEIGHT in inches (each in (0, 200]), e.g. 8,5; got {text!r}")
    return size  # type: ignore[return-value]


def _check_figsize(value: Any) -> Any:
    if isinstance(value, str):
        _figsize(value)
    return value


def _dpi(value: Any) -> Any:
    number = int_parser("--dpi")(value)
    if number is not None and not 10 <= number <= 2400:
        _refuse(f"--dpi: expected 10 to 2400 dots per inch, got {number}")
    return number


def _figure_dpi() -> int:
    from resnet_scale_cli.settings import FIGURE_DPI

    return FIGURE_DPI


Dpi = Annotated[Optional[int], typer.Option(
    "--dpi", help=f"Resolution of the --plot figures in dots per inch (PNG; PDF and SVG are vector). "
    f"\\[default: {_figure_dpi()}]", show_default=False, metavar="INT", parser=_dpi, rich_help_panel=OUTPUT)]
FigSize = Annotated[Optional[str], typer.Option(
    "--figsize", help="Size of the --plot figures in inches, WIDTH,HEIGHT (e.g. 8,5). \\[default: each figure's own]",
    show_default=False, metavar="W,H", parser=_check_figsize, rich_help_panel=OUTPUT)]


def with_figure(fn: Callable) -> Callable:
    """Decorator (innermost, right above the command): the command takes --dpi and --figsize,
    which apply to every figure it saves (`report.figures.figure_style`)."""
    signature = inspect.signature(fn, eval_str=True)
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()]
    added = [inspect.Parameter("dpi", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Dpi),
             inspect.Parameter("figsize", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=FigSize)]

    @functools.wraps(fn)
    def command_(**kwargs: Any) -> Any:
        dpi, figsize = kwargs.pop("dpi", None), kwargs.pop("figsize", None)
        if dpi is None and figsize is None:
            return fn(**kwargs)
        from resnet_scale_cli.report.figures import figure_style

        with figure_style(dpi, _figsize(figsize) if figsize is not None else None):
            return fn(**kwargs)

    command_.__annotations__ = {}
    command_.__signature__ = signature.replace(parameters=own + added)
    return command_
