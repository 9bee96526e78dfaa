"""Tables that fit the width they are given: never an ellipsis, never a dropped column.

`Table` is a rich Table that plans its layout when it is rendered, for the console's width W:

1. its natural layout, when that fits in W;
2. else one table whose columns each keep at least their longest word (headers included) while
   the widest columns give up width first, cells wrapping at words; the key columns that lead a
   row (β, L, N, d, H, …: KEY_HEADERS) never wrap when short — provided no cell wraps onto more
   than WRAP_LINES lines;
3. else a stack of tables over the same rows: the key columns repeated beside consecutive groups
   of the other columns, each group at its natural width where it fits W. (Where stacking would
   not cure the wrapping either, a column of prose, the one wrapped table of 2 is kept.)

A word wider than W on its own folds onto the next line (rich's `overflow="fold"`), so no cell is
ever cut to `…` and no column is dropped. Titles and captions wrap at words: within the table's
width, or above and below a stack within its widest part.
"""

from __future__ import annotations

import copy
from typing import Callable

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column
from rich.table import Table as RichTable
from rich.text import Text

#: headers of columns that identify a row: repeated in every part of a stacked table, never wrapped
#: (so are the symbols of the laws' parameters, H, ℓ, …)
KEY_HEADERS = frozenset({"β", "L", "N", "d", "lag", "setting", "error of", "quantity", "expectation"})
#: a table whose rows wrap onto more lines than this is stacked instead, when stacking spares lines
WRAP_LINES = 2
#: a key column wider than this may wrap (at words) rather than crowd every part of a stack
KEY_WIDTH = 16
#: width used to measure a column's natural (unwrapped) width
_UNBOUNDED = 100_000


def _header(column: Column) -> str:
    header = column.header
    if isinstance(header, Text):
        return header.plain
    return Text.from_markup(header).plain if isinstance(header, str) else ""


def _key_count(table: RichTable, keys: int | None) -> int:
    """How many leading columns identify a row: `keys` when given, else the leading columns
    whose header is in KEY_HEADERS or a law parameter's symbol, at least one."""
    from resnet_scale_cli.laws import LAWS

    if keys is not None:
        return max(0, min(keys, len(table.columns)))
    headers = KEY_HEADERS | {law.symbol for law in LAWS.values() if law.symbol}
    count = 0
    for column in table.columns:
        if _header(column) not in headers:
            break
        count += 1
    return max(1, count) if table.columns else 0


def _content_widths(table: RichTable, console: Console, options: ConsoleOptions) -> list[tuple[int, int]]:
    """Per column (longest word, longest line) of its header and cells, padding excluded."""
    wide = options.update_width(_UNBOUNDED)
    out = []
    for column in table.columns:
        pad = table._get_padding_width(column._index)
        m = table._measure_column(console, wide, column)
        out.append((max(1, m.minimum - pad), max(1, m.maximum - pad)))
    return out


def _part(table: RichTable, columns: list[Column], title, caption) -> RichTable:
    """A plain rich Table over `columns` of `table` (same rows and style), widths still unset."""
    part = RichTable.__new__(RichTable)
    part.__dict__.update(table.__dict__)
    part.columns = []
    for index, column in enumerate(columns):
        clone = copy.copy(column)
        clone._index = index
        part.columns.append(clone)
    part.title, part.caption, part.width, part.min_width, part.expand = title, caption, None, None, False
    return part


def _frame(part: RichTable) -> int:
    """Width of everything in `part` but the columns' content: padding and borders."""
    return part._extra_width + sum(part._get_padding_width(i) for i in range(len(part.columns)))


def water_fill(low: list[int], high: list[int], available: int) -> list[int]:
    """Widths w_i = clamp(T, low_i, high_i) for the largest level T with Σ w_i ≤ available: the
    widest columns shrink first and none below low_i (the leftover below one level step goes to
    the columns still short of high_i, one each). Σ low_i > available gives low itself."""
    def widths(level: int) -> list[int]:
        return [min(max(level, lo), hi) for lo, hi in zip(low, high)]

    lo_level, hi_level = 0, max(high, default=0)
    while lo_level < hi_level:  # the largest level whose widths fit
        mid = (lo_level + hi_level + 1) // 2
        if sum(widths(mid)) <= available:
            lo_level = mid
        else:
            hi_level = mid - 1
    out = widths(lo_level)
    spare = available - sum(out)
    for i in range(len(out)):
        if spare <= 0:
            break
        if out[i] < high[i]:
            out[i] += 1
            spare -= 1
    return out


def _sized(part: RichTable, low: list[int], high: list[int], width: int) -> RichTable:
    """`part` with fixed column widths fitted to `width` (`water_fill`); a column narrower than
    its natural width `high` wraps at words, and every column folds a word wider than itself
    onto the next line rather than cutting it."""
    available = width - _frame(part)
    sizes = water_fill(low, high, available)
    if sum(sizes) > available:  # a word wider than the whole width: share what there is, folding
        sizes = water_fill([1] * len(sizes), sizes, max(available, len(sizes)))
    for index, (column, size) in enumerate(zip(part.columns, sizes)):
        column.width = size
        column.overflow = "fold"
        column.no_wrap = column.no_wrap and size >= high[index]
    return part


def _too_tall(console: Console, part: RichTable, natural: list[int]) -> bool:
    """Whether some body cell of `part` wraps onto more than WRAP_LINES lines at its column's
    width (columns at their natural width `natural` hold every cell on one line)."""
    for column, full in zip(part.columns, natural):
        if column.width is None or column.width >= full:
            continue
        options = console.options.update(width=column.width, no_wrap=column.no_wrap, overflow=column.overflow)
        for cell in column._cells:
            renderable = console.render_str(cell) if isinstance(cell, str) else cell
            if len(console.render_lines(renderable, options, pad=False)) > WRAP_LINES:
                return True
    return False


def _groups(key_width: int, rest: list[int], budget_for: Callable[[int], int]) -> list[list[int]]:
    """Consecutive groups of the non-key columns (indices into `rest`), each as wide as it can be
    while its natural widths fit beside the keys; a column too wide alone stands alone."""
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(len(rest)):
        trial = current + [i]
        if not current or key_width + sum(rest[j] for j in trial) <= budget_for(len(trial)):
            current = trial
        else:
            groups.append(current)
            current = [i]
    if current:
        groups.append(current)
    return groups


def fit_table(table: RichTable, console: Console, width: int, keys: int | None = None) -> list:
    """The table laid out for `width` columns: itself when its natural layout fits, else one table
    with wrapped columns, else a stack of tables sharing the key columns (see the module) between
    the table's title and caption."""
    if not table.columns:
        return [table]
    measured = _content_widths(table, console, console.options)
    low = [lo for lo, _ in measured]
    high = [hi for _, hi in measured]
    whole = _part(table, table.columns, table.title, table.caption)
    if sum(high) + _frame(whole) <= width:
        return [table]
    k = _key_count(table, keys)
    # short keys never wrap, long ones keep at least KEY_WIDTH; the others wrap at words, keeping
    # their longest word whole
    floor = [hi if i < k and hi <= KEY_WIDTH else lo for i, (lo, hi) in enumerate(measured)]
    keep = [hi if hi <= KEY_WIDTH else max(lo, KEY_WIDTH) for hi, lo in zip(high, low)]
    single = _sized(whole, floor, high, width) if sum(floor) + _frame(whole) <= width else None
    if len(table.columns) <= k + 1:
        return [single or _sized(whole, floor, high, width)]
    if single is not None and not _too_tall(console, single, high):
        return [single]
    key_cols = list(range(k))
    if sum(keep[:k]) + _frame(_part(table, table.columns[: k + 1], None, None)) + low[k] > width:
        key_cols = [0]  # the keys together leave no room: repeat the first alone
    rest = [i for i in range(len(table.columns)) if i not in key_cols]

    def budget_for(n: int) -> int:
        return width - _frame(_part(table, table.columns[: len(key_cols) + n], None, None))

    groups = _groups(sum(keep[i] for i in key_cols), [high[i] for i in rest], budget_for)
    parts = []
    for g, group in enumerate(groups):
        indices = key_cols + [rest[j] for j in group]
        part = _part(table, [table.columns[i] for i in indices], None if g == 0 else "(continued)", None)
        parts.append(_sized(part, [floor[i] for i in indices], [high[i] for i in indices], width))
    if single is not None and any(_too_tall(console, p, [high[i] for i in key_cols + [rest[j] for j in g]])
                                  for p, g in zip(parts, groups)):
        return [single]  # stacking would not cure the wrapping (a column of prose): keep one table
    # the title above and the caption below the whole stack, wrapped at the widest part's width
    span = max(sum(c.width or 0 for c in p.columns) + _frame(p) for p in parts)
    title = [_Annotation(table.title, table.title_style or "table.title", table.title_justify, span)] \
        if table.title else []
    caption = [_Annotation(table.caption, table.caption_style or "table.caption", table.caption_justify, span)] \
        if table.caption else []
    return [*title, *parts, *caption]


class _Annotation:
    """A table's title or caption set apart from it: wrapped at words within `width` columns."""

    def __init__(self, text, style, justify, width: int) -> None:
        self.text, self.style, self.justify, self.width = text, style, justify, width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = console.render_str(self.text, style=self.style, highlight=False) if isinstance(self.text, str) \
            else self.text
        yield from console.render(text, options.update(width=min(self.width, options.max_width),
                                                       justify=self.justify))


class Table(RichTable):
    """A rich Table laid out to fit the width it is rendered at (see the module); `keys` is the
    number of leading columns that identify a row (default: the leading KEY_HEADERS columns)."""

    def __init__(self, *headers: Column | str, keys: int | None = None, **kwargs) -> None:
        super().__init__(*headers, **kwargs)
        self.keys = keys

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts = fit_table(self, console, options.max_width, self.keys)
        if len(parts) == 1 and parts[0] is self:
            yield from super().__rich_console__(console, options)
            return
        for part in parts:
            yield part

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        natural = super().__rich_measure__(console, options)
        return Measurement(min(natural.minimum, options.max_width), min(natural.maximum, options.max_width))

