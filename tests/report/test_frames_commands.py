"""results.parquet of real commands: a sweep, a spectrum and a limit run with --out give a table
that pandas reads, `resnet_scale_cli.load` returns the same rows, a resumed run rewrites the same
table, and the API results' `.to_pandas()` equal it. Row counts come from the grid's sizes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

FAST = ["--width", "4", "--samples", "3", "--device", "cpu", "-q"]

COMMANDS = {
    "sweep": (["sweep", "--depth", "8,16", "--beta", "0.5,1"], 2 * 2 * 3, "output_log10"),
    "spectrum": (["spectrum", "--depth", "8,16", "--beta", "0.5,1"], 2 * 2 * 3, "log10_sigma_max"),
    "limit": (["limit", "--depth", "8,16", "--refinement", "2"], 2 * 3, "distance_max"),
}


@pytest.mark.slow  # three commands end to end
@pytest.mark.parametrize("name", list(COMMANDS))
def test_out_folder_holds_the_tidy_table(name, cli, tmp_path):
    from resnet_scale_cli import load

    args, rows, quantity = COMMANDS[name]
    out = tmp_path / name
    code, stdout, err = cli(*args, *FAST, "--out", str(out), "--json")
    assert code == 0, err
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == rows and quantity in table and table[quantity].notna().all()
    assert set(table.depth) == {8, 16} and list(table["sample"].unique()) == [0, 1, 2]
    pd.testing.assert_frame_equal(load(out), table)
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    first = next(r for r in records if r["cell"]["depth"] == 16)
    values = first["values"][quantity]
    expected = values[-1][-1] if isinstance(values[0], list) else values[-1]  # last β, last sample
    assert table[table.depth == 16][quantity].iloc[-1] == expected
    document = json.loads(stdout)
    assert set(document["versions"]["provenance"]) >= {"git_commit", "host"}

    # a run killed after its first cell, resumed: the same table
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text(lines[0])
    (out / "results.parquet").unlink()
    code, _, err = cli(*args, *FAST, "--out", str(out), "--resume", "--json")
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), table)


@pytest.mark.slow
def test_api_results_equal_the_folder_and_the_phase_figure_has_one_legend_outside(tmp_path):
    import matplotlib.figure

    import resnet_scale_cli as rscale

    study = rscale.api.phase(depth=[8, 16, 32], beta="0:1.2:4", width=4, samples=3, device="cpu", out=tmp_path / "p")
    pd.testing.assert_frame_equal(study.to_pandas(), rscale.load(tmp_path / "p"))
    assert len(study.to_pandas()) == 3 * 4 * 3
    fig = study.figure()
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    fig.draw_without_rendering()
    legend_box = fig.legends[0].get_window_extent()
    for ax in fig.axes[:1]:
        assert legend_box.y1 <= ax.get_window_extent().y0  # below the panels: it hides no row
    result = rscale.api.run(depth=8, beta=[0.5, 1], width=4, samples=3, device="cpu", out=tmp_path / "r")
    pd.testing.assert_frame_equal(result.to_pandas(), rscale.load(tmp_path / "r"))
    assert len(result.to_pandas()) == 2 * 3
