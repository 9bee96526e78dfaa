"""The experiment registry and protocol: every grid command has its `Experiment`; `measure` runs
an experiment's cells in grid order, streams them to a store and reuses them on resume; the
registry imports no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from resnet_scale_cli.experiments.protocol import Experiment, measure, total_cost
from resnet_scale_cli.experiments.registry import EXPERIMENTS
from resnet_scale_cli.sweep import ResultStore, cell_key


@dataclass(frozen=True)
class Toy:
    depths: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"depths": list(self.depths)}


def _toy(calls: list) -> Experiment:
    def one(spec, depth, progress):
        calls.append(depth)
        if progress:
            progress(depth)
        return {"cell": {"depth": depth}, "square": depth * depth}

    return Experiment("toy", one, lambda spec, records: {"total": sum(r["square"] for r in records)})


def test_every_grid_command_is_registered_under_its_name():
    assert sorted(EXPERIMENTS) == ["adjoint", "inspect", "limit", "phase", "spectrum", "sweep", "train"]
    assert all(e.name == name for name, e in EXPERIMENTS.items())


def test_measure_runs_every_cell_in_order_and_reports_its_cost():
    calls, advanced = [], []
    records = measure(_toy(calls), Toy((3, 1, 2)), progress=advanced.append)
    assert [r["square"] for r in records] == [9, 1, 4]
    assert calls == [3, 1, 2] and sum(advanced) == 6
    assert total_cost(_toy([]), Toy((3, 1, 2))) == 6


def test_a_resumed_store_gives_back_its_cells_without_measuring_them(tmp_path):
    spec, first = Toy((1, 2)), []
    measure(_toy(first), spec, store=ResultStore(tmp_path, spec.to_dict(), False, cell_key))
    again, advanced = [], []
    records = measure(_toy(again), Toy((1, 2, 5)), store=ResultStore(tmp_path, spec.to_dict(), True, cell_key),
                      progress=advanced.append)
    assert first == [1, 2] and again == [5]
    assert [r["square"] for r in records] == [1, 4, 25] and sum(advanced) == 1 + 2 + 5
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["cell"]["depth"] for r in lines] == [1, 2, 5]


def test_grouped_cells_are_measured_by_one_call_per_group():
    groups: list[list[int]] = []

    def group_of(spec, depths, progress):
        groups.append(list(depths))
        return [{"cell": {"depth": d}, "square": d * d} for d in depths]

    parity = Experiment("toy", lambda spec, d, p: pytest.fail("measured alone"), lambda spec, records: {},
                        group=lambda depth: depth % 2, measure_group=group_of)
    records = measure(parity, Toy((1, 2, 3, 4)))
    assert sorted(groups) == [[1, 3], [2, 4]]
    assert [r["square"] for r in records] == [1, 4, 9, 16]


@pytest.mark.slow  # starts a fresh interpreter
def test_the_registry_imports_no_torch():
    code = ("import sys\nimport resnet_scale_cli.experiments.registry\n"
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["False", "False"]
