"""Reports: the JSON documents hold what the contract lists, tables render, figure paths are checked."""

import json

import pytest

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.report import documents, figures, tables
from resnet_scale_cli.spec import RunSpec


@pytest.fixture(scope="module")
def small_run():
    from resnet_scale_cli.experiments.cell import run

    return run(RunSpec(depth=12, width=3, samples=4, betas=(0.5, 1.0), device="cpu", seed=2))


def test_run_document_is_strict_json_with_the_contract_fields(small_run):
    doc = documents.run_document(small_run)
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text)["command"] == "run"
    assert {"spec", "results", "elapsed_seconds", "versions"} <= set(doc)
    assert [r["beta"] for r in doc["results"]] == [0.5, 1.0]
    assert doc["spec"]["grad_method_used"] == "reverse" and doc["spec"]["device"] == "cpu"


def test_tables_render_every_row(small_run):
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(tables.run_table(small_run, "title"))
    text = console.export_text()
    assert text.count("\n") >= 2 + len(small_run.results) and "regime" in text


@pytest.mark.parametrize("path,message", [("x.jpg", "must end in"), ("file/x.png", "is a file, not a folder"),
                                          ("file/sub/x.png", "is a file, not a folder")])
def test_plot_paths_are_checked_before_any_work(path, message, tmp_path):
    (tmp_path / "file").write_text("a regular file where a folder would go")
    with pytest.raises(SpecError, match=message):
        figures.check_plot_path(tmp_path / path)


def test_dump_json_prints_one_document(capsys):
    documents.dump_json({"a": 1})
    out = capsys.readouterr().out
    assert json.loads(out) == {"a": 1} and out.endswith("\n")
