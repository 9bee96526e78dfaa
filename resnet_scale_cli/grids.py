"""Grid syntax shared by every grid flag: comma lists `0.25,0.5,1`, inclusive ranges
`start:stop:count`, and geometric ranges `start:stop:count:log` (start > 0)."""

from __future__ import annotations

import math

from resnet_scale_cli.errors import SpecError


def _number(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{flag}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"{flag}: {text!r} is not a finite number")
    return value


def parse_float_grid(text: str | float | int | list | tuple, flag: str) -> tuple[float, ...]:
    """Parse `a,b,c` or `start:stop:count` (inclusive, evenly spaced) into sorted floats; a value
    given twice (two entries, or an entry inside a range) is refused; a range's own repeated
    points (`1:1:3`) are one."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return (_number(repr(text), flag),)
    if isinstance(text, (list, tuple)):
        values = [_number(str(v), flag) for v in text]
    else:
        values = []
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                raise SpecError(f"{flag}: empty entry in {text!r}")
            if ":" in part:
                values.extend(sorted({round(v, 12) for v in _range(part, flag)}))  # one range: each point once
            else:
                values.append(_number(part, flag))
    if not values:
        raise SpecError(f"{flag}: no values given")
    # round away float noise of ranges so that 0.1*3 and 0.3 are one grid point
    rounded = [round(v, 12) for v in values]
    if len(set(rounded)) != len(rounded):
        twice = next(v for i, v in enumerate(rounded) if v in rounded[:i])
        raise SpecError(f"{flag}: {twice:g} is given twice in {str(text)!r}; give each value once")
    return tuple(sorted(rounded))


#: the most points one start:stop:count range may give (a grid axis, not a sample)
MAX_RANGE_COUNT = 10_000


def _range(part: str, flag: str) -> list[float]:
    pieces = part.split(":")
    geometric = len(pieces) == 4 and pieces[3].strip() == "log"
    if len(pieces) != 3 and not geometric:
        raise SpecError(f"{flag}: range {part!r} must be start:stop:count or start:stop:count:log")
    start, stop = _number(pieces[0], flag), _number(pieces[1], flag)
    try:
        count = int(pieces[2])
    except ValueError:
        raise SpecError(f"{flag}: range count {pieces[2]!r} must be a whole number") from None
    if count < 1:
        raise SpecError(f"{flag}: range count must be at least 1, got {count}")
    if count > MAX_RANGE_COUNT:
        raise SpecError(f"{flag}: range count {count} is more than {MAX_RANGE_COUNT} points")
    if count == 1:
        if start != stop:
            raise SpecError(f"{flag}: a range with count 1 needs start == stop, got {part!r}")
        return [start]
    if stop < start:
        raise SpecError(f"{flag}: range {part!r} has stop < start")
    if geometric:
        if start <= 0:
            raise SpecError(f"{flag}: a log range needs start > 0, got {part!r}")
        return [start * (stop / start) ** (i / (count - 1)) for i in range(count)]
    return [start + (stop - start) * i / (count - 1) for i in range(count)]


def parse_int_grid(text: str | int | list | tuple, flag: str) -> tuple[int, ...]:
    """Integer grid (depths, widths): ranges are rounded to integers and deduplicated."""
    if isinstance(text, bool):
        raise SpecError(f"{flag}: expected whole numbers, got {text!r}")
    values = (text,) if isinstance(text, int) else parse_float_grid(text, flag)
    out = set()
    for v in values:
        if not (isinstance(text, str) and ":" in text) and v != int(v):
            raise SpecError(f"{flag}: {v:g} is not a whole number")
        out.add(int(round(v)))
    if min(out) < 1:
        raise SpecError(f"{flag}: values must be at least 1, got {min(out)}")
    return tuple(sorted(out))
