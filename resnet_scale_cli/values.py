"""What a setting's value may be, and a setting's declaration: the checks (`Choice`, `Whole`,
`Real`, `Flag`, `Text`, one wording per error) and `Setting` (flag, help, default, panel, grid
syntax, check). The bottom of the package: laws declare their parameters with these, and
`fields` builds specs on them. Imports nothing of the package but its errors."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from resnet_scale_cli.errors import SpecError, did_you_mean

#: the help panels every command's options sit in, in this order
GRID, LAW, MODEL, SAMPLING, EXECUTION, OUTPUT = "Grid", "Law", "Model", "Sampling", "Execution", "Output"
PANELS = (GRID, LAW, MODEL, SAMPLING, EXECUTION, OUTPUT)
#: the metavar of a grid value (a comma list or an inclusive range, `:log` for geometric)
GRID_METAVAR = "LIST|START:STOP:N"

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")


# ----------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Choice:
    """One of `names`: a tuple, or a function giving them (a registry read when first asked)."""

    names: tuple[str, ...] | Callable[[], tuple[str, ...]]
    kind = str

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(self.names()) if callable(self.names) else self.names

    def __call__(self, value: Any, flag: str, subject: str = "") -> Any:
        names = self.options
        if not isinstance(value, str) or value not in names:
            hint = did_you_mean(value, names) if isinstance(value, str) else ""
            raise SpecError(f"{flag}: unknown value {value!r}{hint} (choose from {', '.join(names)})")
        return value


@dataclass(frozen=True)
class Whole:
    """A whole number in [minimum, maximum] (`why` says why the minimum)."""

    minimum: int = 1
    maximum: int | None = None
    why: str = ""
    kind = int

    def __call__(self, value: Any, flag: str, subject: str = "") -> Any:
        subject = subject or flag
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise SpecError(f"{flag}: expected a whole number, got {value!r}")
        if value < self.minimum:
            raise SpecError(f"{subject} must be at least {self.minimum}{self.why}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise SpecError(f"{subject} must be at most {self.maximum}, got {value}")
        return value


def whole_number(value: Any, flag: str, minimum: int) -> Any:
    """`Whole(minimum)` as a function: the value, or a `SpecError` naming `flag`."""
    return Whole(minimum)(value, flag)


@dataclass(frozen=True)
class Real:
    """A finite real x with low ≤ x (low < x when `strict`; low < x < high when `high` is given).
    inf and nan are refused: no setting means anything at infinity."""

    low: float | None = None
    high: float | None = None
    strict: bool = False
    kind = float

    def __call__(self, value: Any, flag: str, subject: str = "") -> Any:
        subject = subject or flag
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SpecError(f"{flag}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise SpecError(f"{flag}: expected a finite number, got {value!r}")
        if self.high is not None and not self.low < value < self.high:
            raise SpecError(f"{subject} must be in the open interval ({self.low:g}, {self.high:g}), got {value}")
        if self.high is None and self.strict and not value > self.low:
            raise SpecError(f"{subject} must be {'positive' if self.low == 0 else f'> {self.low:g}'}, got {value}")
        if self.high is None and self.low is not None and value < self.low:
            raise SpecError(f"{subject} must be >= {self.low:g}, got {value}")
        return value


@dataclass(frozen=True)
class Flag:
    """true or false."""

    kind = bool

    def __call__(self, value: Any, flag: str, subject: str = "") -> Any:
        if not isinstance(value, bool):
            raise SpecError(f"{flag}: expected true or false, got {value!r}")
        return value


@dataclass(frozen=True)
class Text:
    """A non-empty string (`what` names what it should be)."""

    what: str = "a text"
    kind = str

    def __call__(self, value: Any, flag: str, subject: str = "") -> Any:
        if not isinstance(value, str) or not value:
            raise SpecError(f"{flag}: expected {self.what}, got {value!r}")
        return value


POSITIVE = Real(0.0, strict=True)
NON_NEGATIVE = Real(0.0)


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Setting:
    """A setting: its check, help line, default, flags (default `--name`; a grid field `depths`
    is `--depth`), help panel, `grid` (the field holds a tuple of values, each checked and
    given once), `grid_help` (its help where a command takes it as a grid), `none` (what a
    default None means) and, for a law's parameter, its `name` and `symbol`."""

    check: Any
    help: str = ""
    default: Any = None
    flags: tuple[str, ...] = ()
    panel: str = SAMPLING
    grid: bool = False
    grid_help: str | None = None
    none: str | None = None
    name: str = ""
    symbol: str | None = None

    def field(self, default: Any = dataclasses.MISSING, **changes: Any) -> Any:
        """This setting as a dataclass field (a grid's default is a tuple)."""
        setting = dataclasses.replace(self, **changes) if changes else self
        if default is dataclasses.MISSING:
            default = setting.default
            if setting.grid and default is not None and not isinstance(default, tuple):
                default = (default,)
        return dataclasses.field(default=default, metadata={"setting": setting})

    @property
    def flag(self) -> str:
        return self.flags[0].split("/")[0]

    @property
    def key(self) -> str:
        """Its name in config files, the JSON `spec` and `--dry-run`: the flag's (`memory_gb`)."""
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def metavar(self) -> str:
        """INT, FLOAT, a grid, a choice's name in capitals, FILE for a text (a path), or nothing
        for a flag."""
        kind = self.check.kind
        if kind is bool:
            return ""
        if self.grid:
            return GRID_METAVAR
        if isinstance(self.check, Choice):
            return self.key.upper()
        return {int: "INT", float: "FLOAT"}.get(kind, "FILE")
