"""The results store: torn last lines are dropped and truncated away, corruption is refused, and
a resumed grid reuses exactly the stored cells."""

import json
from pathlib import Path

import pytest

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.sweep.runner import run_grid
from resnet_scale_cli.sweep.store import RESULTS, SETTINGS, SUMMARY, ResultStore, write_atomic

SETTINGS_DICT = {"grid": {"depths": [1, 2, 3]}, "base": {"seed": 0, "device": "cpu", "memory_gb": 4.0}}


def _key(cell: dict) -> str:
    return json.dumps(cell, sort_keys=True)


def _record(depth: int) -> dict:
    return {"cell": {"depth": depth}, "value": depth * 1.5}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _store_with(out: Path, text: bytes) -> None:
    out.mkdir()
    (out / RESULTS).write_bytes(text)
    (out / SETTINGS).write_text(json.dumps(SETTINGS_DICT))


def test_torn_last_line_is_dropped_and_truncated_before_appending(tmp_path):
    good = b"".join(json.dumps(_record(k)).encode() + b"\n" for k in (1, 2))
    _store_with(tmp_path / "o", good + b'{"cell": {"depth": 3}, "val')
    store = ResultStore(tmp_path / "o", SETTINGS_DICT, resume=True, key=_key)
    assert store.records == [_record(1), _record(2)]
    assert (tmp_path / "o" / RESULTS).read_bytes() == good  # the torn tail is gone from the file
    store.append(_record(3))
    assert _lines(tmp_path / "o" / RESULTS) == [_record(1), _record(2), _record(3)]


def test_corrupted_middle_line_is_refused_and_nothing_is_overwritten(tmp_path):
    text = (json.dumps(_record(1)) + "\n" + '{"cell": {"depth": 2}, "va\n' + json.dumps(_record(3)) + "\n").encode()
    _store_with(tmp_path / "o", text)
    with pytest.raises(SpecError, match=r"line 2 is not a result record") as refused:
        ResultStore(tmp_path / "o", SETTINGS_DICT, resume=True, key=_key)
    assert repr(str(tmp_path / "o" / RESULTS)) in str(refused.value)  # names the file
    assert (tmp_path / "o" / RESULTS).read_bytes() == text


@pytest.mark.parametrize("line", [b"[1, 2]", b'{"value": 1}', b"\xff\xfe"])
def test_a_terminated_line_that_is_no_record_is_refused(tmp_path, line):
    text = json.dumps(_record(1)).encode() + b"\n" + line + b"\n"
    _store_with(tmp_path / "o", text)
    with pytest.raises(SpecError, match="line 2"):
        ResultStore(tmp_path / "o", SETTINGS_DICT, resume=True, key=_key)
    assert (tmp_path / "o" / RESULTS).read_bytes() == text


def test_resume_with_other_settings_is_refused_but_device_and_memory_may_change(tmp_path):
    _store_with(tmp_path / "o", json.dumps(_record(1)).encode() + b"\n")
    moved = {"grid": SETTINGS_DICT["grid"], "base": {"seed": 0, "device": "cuda", "memory_gb": 80.0}}
    assert ResultStore(tmp_path / "o", moved, resume=True, key=_key).records == [_record(1)]
    other = {"grid": SETTINGS_DICT["grid"], "base": {"seed": 1, "device": "cpu", "memory_gb": 4.0}}
    with pytest.raises(SpecError, match="other settings"):
        ResultStore(tmp_path / "o", other, resume=True, key=_key)


def test_results_without_resume_are_never_overwritten(tmp_path):
    _store_with(tmp_path / "o", json.dumps(_record(1)).encode() + b"\n")
    with pytest.raises(SpecError, match="--resume"):
        ResultStore(tmp_path / "o", SETTINGS_DICT, resume=False, key=_key)
    assert _lines(tmp_path / "o" / RESULTS) == [_record(1)]


def test_run_grid_measures_only_the_cells_the_store_lacks(tmp_path):
    _store_with(tmp_path / "o", json.dumps(_record(2)).encode() + b"\n" + b'{"cell": {"dep')
    store = ResultStore(tmp_path / "o", SETTINGS_DICT, resume=True, key=_key)
    measured: list[int] = []

    def measure(cell, progress):
        measured.append(cell["depth"])
        return _record(cell["depth"])

    reported: list[int] = []
    records = run_grid([{"depth": k} for k in (1, 2, 3)], measure, key=lambda c: c, store=store,
                       cost=lambda c: 10 * c["depth"], progress=reported.append)
    assert measured == [1, 3]
    assert records == [_record(1), _record(2), _record(3)]
    assert reported == [20]  # a reused cell reports its cost at once; measured ones report their own
    assert sorted(r["cell"]["depth"] for r in _lines(tmp_path / "o" / RESULTS)) == [1, 2, 3]


def test_write_atomic_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / SUMMARY
    path.write_text("old")
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [SUMMARY]


def test_an_empty_first_line_is_corruption_not_a_torn_tail(tmp_path):
    text = b"\n" + json.dumps(_record(1)).encode() + b"\n"
    _store_with(tmp_path / "o", text)
    with pytest.raises(SpecError, match="line 1 is not a result record"):
        ResultStore(tmp_path / "o", SETTINGS_DICT, resume=True, key=_key)
    assert (tmp_path / "o" / RESULTS).read_bytes() == text


def test_out_folders_are_created_with_their_parents(tmp_path):
    out = tmp_path / "a" / "b" / "c"
    ResultStore(out, SETTINGS_DICT, resume=False, key=_key).append(_record(1))
    assert _lines(out / RESULTS) == [_record(1)]
    assert json.loads((out / SETTINGS).read_text()) == SETTINGS_DICT


def test_a_folder_with_settings_but_no_results_is_reused_without_resume(tmp_path):
    """A run killed before its first cell leaves only its settings: a new run with other settings
    may use the folder without --resume (nothing would be lost)."""
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / SETTINGS).write_text(json.dumps({"grid": {"depths": [9]}, "base": {"seed": 4}}))
    store = ResultStore(tmp_path / "o", SETTINGS_DICT, resume=False, key=_key)
    assert store.records == [] and json.loads((tmp_path / "o" / SETTINGS).read_text()) == SETTINGS_DICT


def test_settings_with_scalar_entries_compare_whole(tmp_path):
    settings = {"command": "limit", "spec": {"seed": 0, "device": "cpu"}}
    _store_with(tmp_path / "o", json.dumps(_record(1)).encode() + b"\n")
    (tmp_path / "o" / SETTINGS).write_text(json.dumps(settings))
    assert ResultStore(tmp_path / "o", {"command": "limit", "spec": {"seed": 0, "device": "cuda"}},
                       resume=True, key=_key).records == [_record(1)]
    with pytest.raises(SpecError, match="other settings"):
        ResultStore(tmp_path / "o", {"command": "adjoint", "spec": {"seed": 0, "device": "cpu"}}, resume=True, key=_key)


def test_a_stored_cell_is_found_whatever_the_order_of_its_coordinates(tmp_path):
    """The sweep's store key does not depend on key order: a results file re-serialized with sorted
    keys (`jq -S`, a merge script) still resumes without measuring its cells again."""
    from resnet_scale_cli.sweep.grid import cell_key

    sorted_line = json.dumps({"cell": {"depth": 8, "hurst": 0.3, "law": "fbm"}, "value": 1.0}, sort_keys=True)
    _store_with(tmp_path / "o", sorted_line.encode() + b"\n")
    store = ResultStore(tmp_path / "o", SETTINGS_DICT, resume=True, key=cell_key)
    measured: list[dict] = []
    records = run_grid([{"law": "fbm", "hurst": 0.3, "depth": 8}], lambda c, p: measured.append(c) or {"cell": c},
                       key=lambda c: c, store=store)
    assert measured == [] and records[0]["value"] == 1.0
