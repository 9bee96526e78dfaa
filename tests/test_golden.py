"""The golden files: small runs of every sample_configs file and of the documented examples give the stored
JSON documents and exit codes exactly (numbers bit for bit on CPU), so a refactoring that changes a number,
a field or an exit code turns this red. The cases are in tests/golden/cases.txt; the stored documents were
made with `python tests/golden/make_golden.py` from the code before the refactoring, and a change that is
meant to change an output stores the new document in the same commit, saying why."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from golden import STORED, cases, run_case, workspace  # noqa: E402

CASES = cases()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return workspace(tmp_path_factory.mktemp("golden"))


def _first_difference(expected, got, where="") -> str:
    """Where two JSON values first differ (a path like spec.depth or results[2].output_log10.median)."""
    if type(expected) is not type(got):
        return f"{where or '.'}: {expected!r} → {got!r}"
    if isinstance(expected, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            if key not in got or key not in expected:
                return f"{where}.{key}: {'missing' if key not in got else 'new'}"
            found = _first_difference(expected[key], got[key], f"{where}.{key}")
            if found:
                return found
        return ""
    if isinstance(expected, list):
        if len(expected) != len(got):
            return f"{where}: {len(expected)} items → {len(got)}"
        for i, (a, b) in enumerate(zip(expected, got)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return ""
    return "" if expected == got else f"{where}: {expected!r} → {got!r}"


def test_every_case_has_a_stored_document():
    assert sorted(p.stem for p in STORED.glob("*.json")) == sorted(CASES)


def test_the_cases_cover_every_sample_config_and_command():
    named = " ".join(" ".join(args) for args in CASES.values())
    configs = sorted(p.relative_to(STORED.parents[2]).as_posix()
                     for p in (STORED.parents[2] / "sample_configs").rglob("*.toml") if p.parent.name != "checks")
    assert [c for c in configs if c not in named] == []
    commands = {args[0] for args in CASES.values()}
    assert commands == {"run", "sweep", "phase", "sample", "limit", "spectrum", "adjoint", "train", "inspect", "check"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_golden_document(name, folder):
    expected = json.loads((STORED / f"{name}.json").read_text())
    got = json.loads(json.dumps(run_case(CASES[name], folder)))  # tuples → lists, as stored
    assert got == expected, f"{name}: first difference at {_first_difference(expected, got)}"
