"""The shared command skeleton (`cli.render`): one JSON document with --json, else the tables and
a line per figure written; the --plot path is refused before anything is measured."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from resnet_scale_cli.cli import render
from resnet_scale_cli.errors import SpecError


def _execute(json_out: bool, written: list[str], calls: list[str]):
    def call(progress):
        calls.append("measured")
        return {"value": 3}

    def draw(result):
        calls.append("drawn")
        return written

    return render.execute(call, quiet=True, json_out=json_out, no_color=True, draw=draw,
                          document=lambda result: {"command": "x", **result},
                          tables=lambda result: [f"value {result['value']}", "second table"])


def test_json_prints_exactly_the_document_after_drawing(capsys):
    calls: list[str] = []
    result = _execute(True, ["a.png"], calls)
    out = capsys.readouterr().out
    assert json.loads(out) == {"command": "x", "value": 3}
    assert result == {"value": 3} and calls == ["measured", "drawn"]
    assert "figure written" not in out


def test_tables_then_one_line_per_figure(capsys):
    _execute(False, ["a.png", "dir/b.pdf"], [])
    assert capsys.readouterr().out.splitlines() == ["value 3", "second table", "figure written to a.png",
                                                    "figure written to dir/b.pdf"]


def test_a_bad_plot_path_is_refused_before_measuring():
    with pytest.raises(SpecError, match="--plot"):
        render.one_figure("figure.xyz")
    assert render.one_figure(None)(object()) == []


def test_one_figure_saves_the_result_figure(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    draw = render.one_figure(str(tmp_path / "sub" / "f.png"))
    written = draw(SimpleNamespace(figure=lambda: Figure()))
    assert [p.name for p in written] == ["f.png"] and written[0].stat().st_size > 0


def test_timed_adds_the_elapsed_seconds_to_the_millisecond():
    result = SimpleNamespace(document={"command": "limit"}, elapsed_seconds=1.23456)
    assert render.timed(result) == {"command": "limit", "elapsed_seconds": 1.235}
