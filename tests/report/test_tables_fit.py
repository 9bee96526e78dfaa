"""Tables fit the terminal: at 60, 80 and 120 columns no cell is cut to `…`, no column is dropped,
no word of a header or a cell is split, the key values of each row (β, L, N, …) stay on one line,
and no line is wider than the terminal. Each command runs once in process at tiny sizes; what it
printed is rendered again at each width."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table as RichTable
from rich.text import Text

from helpers import MLP, check_toml
from resnet_scale_cli.report import fit

WIDTHS = (60, 80, 120)
CPU = ["--device", "cpu", "--seed", "0"]
CHECK_FILE = check_toml(
    {"name": "tiny", "law": "iid", "width": 4, "depth": [8, 16], "beta": [0.25, 1.0], "samples": 2, "seed": 0,
     "device": "cpu"},
    {"type": "statistic", "stat": "output_log10.q95", "beta": 0.25, "depth": 16, "min": -1e300, "max": 1e300},
    {"type": "critical_beta", "min": -1e300, "max": 1e300})
#: one tiny command line per command (and per table layout: few law settings, many)
COMMANDS = {
    "run": ["run", "--law", "iid", "--depth", "20", "--width", "4", "--beta", "0.25,0.5,1", "--samples", "4"],
    "phase": ["phase", "--law", "iid", "--depth", "8,16,32", "--width", "4", "--beta", "0.25,0.5,0.75,1",
              "--samples", "4"],
    "adjoint": ["adjoint", "--law", "iid", "--depth", "4,8", "--width", "2", "--samples", "2", "--beta", "1"],
    "sample": ["sample", "--law", "fbm", "--hurst", "0.3", "--depth", "16", "--width", "2"],
    "check": ["check", "{check}"],
    "limit": ["limit", "--law", "iid", "--model", "simple", "--depth", "8,16", "--width", "2", "--refinement", "2",
              "--samples", "2"],
    "sweep": ["sweep", "--law", "fbm", "--hurst", "0.3,0.7", "--depth", "8,16", "--width", "2,4", "--beta", "0.5,1",
              "--samples", "2"],
    "phase-settings": ["phase", "--law", "fbm", "--hurst", "0.2,0.4,0.6,0.8", "--depth", "8,16", "--width", "4",
                       "--beta", "0.25,1", "--samples", "2"],
    "spectrum": ["spectrum", "--law", "iid", "--depth", "8,16", "--width", "4", "--beta", "0.5,1", "--samples", "2"],
    "train": ["train", "--law", "iid", "--depth", "2,4", "--width", "2", "--samples", "1", "--steps", "2",
              "--n-examples", "4", "--n-test", "4"],
    "inspect": ["inspect", MLP, "--depth", "8,16", "--width", "4", "--beta", "0.5,1", "--samples", "2"],
}
#: the fast tier: the commands whose tables were cut (the rest in the slow tier)
FAST = ("run", "phase", "adjoint")


def _plain(value) -> str:
    if isinstance(value, Text):
        return value.plain
    return Text.from_markup(value).plain if isinstance(value, str) else ""


def _tables(renderables) -> list[RichTable]:
    out = []
    for r in renderables:
        if isinstance(r, Group):
            out += _tables(r.renderables)
        elif isinstance(r, RichTable):
            out.append(r)
    return out


def _render(renderables, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False, legacy_windows=False)
    for r in renderables:
        console.print(r)
    return console.file.getvalue()


def _words(text: str) -> list[str]:
    return text.split()


def assert_fits(renderables, width: int, where: str) -> None:
    """The printed renderables at `width` columns: the properties of the module docstring."""
    text = _render(renderables, width)
    shown = f"{where} at {width} columns:\n{text}"
    assert "…" not in text and "..." not in text, shown
    assert max(cell_len(line) for line in text.splitlines()) <= width, shown
    tables = _tables(renderables)
    assert tables, shown
    rendered_words = set(_words(text))
    for table in tables:
        assert isinstance(table, fit.Table), f"{where}: a table built without report.fit: {table.title}"
        for column in table.columns:  # every header word and every word of every cell, whole
            for word in _words(_plain(column.header)) + [w for c in column._cells for w in _words(_plain(c))]:
                assert word in rendered_words, f"{word!r} (column {_plain(column.header)!r}) missing in {shown}"
        # no column narrower than its longest word: words wrap whole, nothing folds
        console = Console(file=io.StringIO(), width=width)
        parts = [p for p in fit.fit_table(table, console, width, table.keys) if isinstance(p, RichTable)]
        headers = [_plain(c.header) for p in parts for c in p.columns]
        assert set(headers) == {_plain(c.header) for c in table.columns}, shown
        for part in parts:
            for column in part.columns:
                longest = max(cell_len(w) for c in [column.header, *column._cells] for w in _words(_plain(c)) or [""])
                assert column.width is None or column.width >= longest, (_plain(column.header), shown)
        # each row's key values (β, L, N, …) on one line, in order, in every part
        keys = fit._key_count(table, table.keys)
        for r in range(table.row_count):
            cells = [_plain(table.columns[i]._cells[r]) for i in range(keys)]
            if any(cell_len(c) > fit.KEY_WIDTH for c in cells):
                continue  # a long key (an expectation's name) may wrap
            pattern = r"[│┃]\s*" + r"\s*[│┃]\s*".join(map(re.escape, cells)) + r"\s*[│┃]"
            assert len(re.findall(pattern, text)) >= len(parts), (cells, shown)


def _record(monkeypatch) -> list:
    """Route every console the commands make to a recording one; returns what they print."""
    from resnet_scale_cli.report import console as consoles

    printed: list = []

    class Recording(Console):
        def print(self, *objects, **kwargs):
            printed.extend(objects)
            super().print(*objects, **kwargs)

    monkeypatch.setattr(consoles, "make_console", lambda **_: Recording(file=io.StringIO(), width=120))
    return printed


def _argv(name: str, tmp_path: Path) -> list[str]:
    check = tmp_path / "tiny.toml"
    check.write_text(CHECK_FILE)
    argv = [a.format(check=check) for a in COMMANDS[name]]
    return argv + ([] if name == "check" else CPU)


def _each_width(cli, monkeypatch, tmp_path, name: str) -> None:
    printed = _record(monkeypatch)
    code, _, err = cli(*_argv(name, tmp_path))
    assert code == 0, err
    for width in WIDTHS:
        assert_fits(printed, width, name)


@pytest.mark.parametrize("name", FAST)
def test_every_table_fits_at_60_80_and_120_columns(cli, monkeypatch, tmp_path, name):
    _each_width(cli, monkeypatch, tmp_path, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in COMMANDS if n not in FAST])
def test_every_table_fits_at_60_80_and_120_columns_slow(cli, monkeypatch, tmp_path, name):
    _each_width(cli, monkeypatch, tmp_path, name)


@pytest.mark.parametrize("width", [60, *(pytest.param(w, marks=pytest.mark.slow) for w in (80, 120))])
def test_piped_output_honors_columns_and_cuts_nothing(cli, monkeypatch, width):
    """Off a terminal the console takes COLUMNS when set: every line fits it, headers whole."""
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = cli(*COMMANDS["run"], *CPU)
    assert code == 0, err
    assert "…" not in out and max(cell_len(line) for line in out.splitlines()) <= width, out
    assert max(cell_len(line) for line in out.splitlines()) > width - 20, out  # it used the width given
    for word in ("β", "output", "gradient", "samples", "overflow", "regime"):
        assert word in out.split(), out


def test_piped_output_without_columns_is_pipe_width(cli, monkeypatch):
    from resnet_scale_cli.report.console import PIPE_WIDTH

    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, err = cli(*COMMANDS["adjoint"], *CPU)
    assert code == 0, err
    assert "…" not in out and max(cell_len(line) for line in out.splitlines()) <= PIPE_WIDTH, out
    assert re.search(r"│\s*4\s*│", out) and re.search(r"│\s*8\s*│", out), out  # N cells whole


@pytest.mark.slow
def test_the_main_job_table_keeps_every_regime_word(cli, monkeypatch):
    """The issue's command at its own size: the regime the user came for, whole, at every width."""
    printed = _record(monkeypatch)
    code, _, err = cli("run", "--law", "iid", "--depth", "1000", "--width", "40", "--beta", "0.25,0.5,1",
                       "--samples", "64", *CPU)
    assert code == 0, err
    for width in WIDTHS:
        assert_fits(printed, width, "run")
        text = _render(printed, width)
        regimes = re.findall(r"│\s*(explosion|stable|identity|undetermined)\b", text)
        assert len(regimes) == 3, text


# ----------------------------------------------------------------------------- the layout itself
def test_water_fill_shrinks_the_widest_first_and_none_below_its_longest_word():
    # by hand: level 5 gives 5 + 5 + 2 = 12
    assert fit.water_fill([1, 1, 1], [10, 5, 2], 12) == [5, 5, 2]
    # the floors hold: 7 + 3 + 2 = 12 even though level 2 would be narrower
    assert fit.water_fill([7, 3, 1], [20, 9, 2], 12) == [7, 3, 2]
    # room for all: the natural widths
    assert fit.water_fill([1, 1], [4, 6], 50) == [4, 6]


@pytest.mark.parametrize("width", (40, 60, 80, 120))
def test_a_wide_table_wraps_or_stacks_without_cutting(width):
    """A synthetic table of long numeric and prose columns: at every width each word is whole
    in the output and each row's β and L sit on one line."""
    table = fit.Table(title="a long title " * 6, caption="a long caption " * 8)
    for header in ("β", "L"):
        table.add_column(header, justify="right")
    for header in ("output slope", "gradient slope", "median output at L = 1000", "regime"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("detail")
    for j, regime in enumerate(("explosion", "undetermined", "identity")):
        table.add_row(f"0.{j}25", f"{100 * (j + 1)}", f"+0.{j}13 [-0.78, +0.82]", f"-1.{j}40 [-1.96, +0.02]",
                      f"-0.06{j}", f"[red]{regime}[/] [+0.41, +1.22]", "a sentence of prose that wraps " * 3)
    assert_fits([table], width, "synthetic")
