"""Tidy tables (`report.frames`), results.parquet and `resnet_scale_cli.load`, the figures' style
options and the provenance block.

Expected rows and values are read from the records themselves (index by index), never from the
function under test."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resnet_scale_cli.report import frames

QUANTITIES = ("output_log10", "gradient_log10")


def _records(hursts=(0.3, 0.7), depths=(10, 30), betas=(0.25, 0.5, 1.0), samples=3, seed=0) -> list[dict]:
    """Records shaped as the grid commands write them: values (n_β, samples), None where overflowed."""
    rng = np.random.default_rng(seed)
    out = []
    for h in hursts:
        for depth in depths:
            values = {q: rng.normal(size=(len(betas), samples)).tolist() for q in QUANTITIES}
            values["output_log10"][0][1] = None  # an overflowed sample
            out.append({"cell": {"law": "fbm", "hurst": h, "depth": depth}, "betas": list(betas), "values": values})
    return out


SPEC = {"law": "fbm", "hurst": 0.5, "width": 8, "betas": [0.25, 0.5, 1.0], "depths": [10, 30], "hursts": [0.3, 0.7]}


def test_tidy_has_one_row_per_cell_beta_and_sample_with_the_records_values():
    records = _records()
    table = frames.tidy(records, SPEC)
    assert list(table.columns) == ["law", "hurst", "width", "depth", "beta", "sample", *QUANTITIES]
    assert len(table) == 2 * 2 * 3 * 3
    for record in records:
        for j, beta in enumerate(record["betas"]):
            for i in range(3):
                row = table[(table.hurst == record["cell"]["hurst"]) & (table.depth == record["cell"]["depth"])
                            & (table.beta == beta) & (table["sample"] == i)]
                assert len(row) == 1 and row.width.item() == 8 and row.law.item() == "fbm"
                for q in QUANTITIES:
                    expected = record["values"][q][j][i]
                    got = row[q].item()
                    assert (np.isnan(got) if expected is None else got == expected)


def test_tidy_does_not_depend_on_the_order_of_the_records():
    records = _records()
    shuffled = records[:]
    random.Random(0).shuffle(shuffled)
    pd.testing.assert_frame_equal(frames.tidy(records, SPEC), frames.tidy(shuffled, SPEC))


def test_one_dimensional_values_take_beta_and_net_from_the_spec():
    records = [{"cell": {"depth": d}, "values": {"gradient_error": [0.1 * d, 0.2 * d], "unmeasured": None}} for d in (8, 16)]
    table = frames.tidy(records, {"law": "iid", "net": "heunnet", "beta": 1.0, "width": 4, "depths": [8, 16]})
    assert list(table.columns) == ["law", "width", "depth", "beta", "net", "sample", "gradient_error"]
    assert table.gradient_error.tolist() == [0.8, 1.6, 1.6, 3.2]
    assert set(table.net) == {"heunnet"} and set(table.beta) == {1.0}


def _folder(tmp_path: Path, records: list[dict]) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (out / "sweep.json").write_text(json.dumps({"sweep": SPEC}))
    return out


def test_parquet_round_trip_and_load_rebuilds_from_the_jsonl(tmp_path):
    records = _records()
    out = _folder(tmp_path, records)
    expected = frames.tidy(records, SPEC)
    from_jsonl = frames.load(out)  # no parquet yet: rebuilt from results.jsonl
    pd.testing.assert_frame_equal(from_jsonl, expected)
    frames.write_table(out, records, {"sweep": SPEC}, {"versions": {"rscale": "test"}})
    assert not (out / "results.parquet.tmp").exists()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), expected)
    pd.testing.assert_frame_equal(frames.load(out), expected)
    meta = frames.table_metadata(out / "results.parquet")
    assert meta["command"] == "sweep" and meta["spec"] == SPEC and meta["versions"] == {"rscale": "test"}


def test_load_prefers_records_newer_than_the_parquet(tmp_path):
    import os

    records = _records()
    out = _folder(tmp_path, records[:2])
    frames.write_table(out, records[:2], {"sweep": SPEC})
    with open(out / "results.jsonl", "a") as handle:  # a resumed run appended cells after the table
        handle.write("".join(json.dumps(r) + "\n" for r in records[2:]))
    stamp = os.path.getmtime(out / "results.parquet") + 5
    os.utime(out / "results.jsonl", (stamp, stamp))
    assert len(frames.load(out)) == len(frames.tidy(records, SPEC))


def test_polars_reads_the_table(tmp_path):
    polars = pytest.importorskip("polars")
    records = _records()
    out = _folder(tmp_path, records)
    frames.write_table(out, records, {"sweep": SPEC})
    assert polars.read_parquet(out / "results.parquet").shape == frames.tidy(records, SPEC).shape


def test_load_refuses_a_folder_without_results(tmp_path):
    from resnet_scale_cli import SpecError, load

    with pytest.raises(SpecError, match="holds neither"):
        load(tmp_path)
    with pytest.raises(SpecError, match="not a folder"):
        load(tmp_path / "missing")


@pytest.mark.parametrize("depths,scale", [(range(10, 1001, 10), "linear"), ((100, 300, 1000), "log"),
                                          (np.unique(np.geomspace(10, 1000, 12).round()), "log"), ((10, 20), "log")])
def test_depth_axis_follows_the_grid(depths, scale):
    from resnet_scale_cli.report.figures import depth_scale

    assert depth_scale(list(depths)) == scale


def test_git_commit_is_the_checkouts_and_never_an_error(monkeypatch):
    from resnet_scale_cli.report import documents

    root = Path(documents.__file__).resolve().parents[2]
    documents._git_state.cache_clear()
    block = documents.versions()["provenance"]
    assert set(block) >= {"git_commit", "host"}
    if (root / ".git").exists() and shutil.which("git"):
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0:
            assert block["git_commit"] == head.stdout.strip()

    def hang(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], 2)

    documents._git_state.cache_clear()
    monkeypatch.setattr(subprocess, "run", hang)
    try:
        assert documents.provenance()["git_commit"] is None
    finally:
        documents._git_state.cache_clear()


@pytest.mark.slow  # two runs with a figure
def test_figure_size_and_dpi_options(cli, tmp_path):
    from PIL import Image

    sizes = {}
    for dpi in (40, 80):
        path = tmp_path / f"run{dpi}.png"
        code, _, err = cli("run", "--depth", "10", "--width", "4", "--samples", "4", "--beta", "0.5,1", "--device", "cpu",
                           "--plot", str(path), "--figsize", "6,3", "--dpi", str(dpi), "--json")
        assert code == 0, err
        with Image.open(path) as image:
            sizes[dpi] = image.size
    # bbox_inches="tight" trims or widens the margins by a text's extent: sizes follow W·dpi, H·dpi loosely
    for dpi, (width, height) in sizes.items():
        assert 0.75 * 6 * dpi <= width <= 1.25 * 6 * dpi and 0.75 * 3 * dpi <= height <= 1.25 * 3 * dpi, (dpi, width, height)
    assert 1.8 <= sizes[80][0] / sizes[40][0] <= 2.2
    code, out, err = cli("run", "--depth", "10", "--figsize", "6", "--plot", str(tmp_path / "x.png"))
    assert code == 2 and "--figsize" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("run", "--depth", "10", "--dpi", "0", "--plot", str(tmp_path / "x.png"))
    assert code == 2 and "--dpi" in err
