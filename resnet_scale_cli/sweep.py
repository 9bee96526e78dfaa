"""Grids of cells: (law setting, depth L) × every β, streamed to disk and resumable.

A cell is one `experiment.measure` call. Each finished cell is appended to
`<out>/results.jsonl` as one line (written whole, flushed and fsynced); `--resume` keeps the
complete lines, drops a torn last line, and runs only the missing cells. Every cell draws from
streams derived from the root seed and its own coordinates, so a resumed sweep ends identical
to an uninterrupted one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from resnet_scale_cli import experiment
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.spec import RunSpec

RESULTS, SUMMARY, SETTINGS = "results.jsonl", "summary.json", "sweep.json"


def law_parameter(law: str) -> str | None:
    """The parameter a sweep may vary for a law: `hurst` (fbm), `lengthscale` (rbf), or none."""
    return {"fbm": "hurst", "rbf": "lengthscale"}.get(law)


@dataclass(frozen=True)
class SweepSpec:
    """A base spec (β grid, samples, model, …), the depths, and the law parameter's values."""

    base: RunSpec
    depths: tuple[int, ...]
    params: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.depths:
            raise SpecError("--depth: no values given")
        for depth in self.depths:
            if depth < 1:
                raise SpecError(f"--depth must be at least 1, got {depth}")
        self.settings()  # every value of the law's parameter must make a valid spec (RunSpec validates)

    @property
    def parameter(self) -> str | None:
        return law_parameter(self.base.law)

    def settings(self) -> list[RunSpec]:
        """One base spec per law setting (H or ℓ value), in grid order."""
        if self.parameter is None:
            return [self.base]
        return [self.base.replace(**{self.parameter: value}) for value in self.params]

    def cells(self) -> Iterator[RunSpec]:
        for setting in self.settings():
            for depth in self.depths:
                yield setting.replace(depth=depth)

    def to_dict(self) -> dict[str, Any]:
        out = self.base.to_dict()
        out.pop("depth")
        out["depths"] = list(self.depths)
        if self.parameter:
            out.pop(self.parameter)
            out[self.parameter + "s"] = list(self.params)
        return out


def cell_id(spec: RunSpec) -> dict[str, Any]:
    """A cell's coordinates: law, its parameter (if any) and depth."""
    out: dict[str, Any] = {"law": spec.law}
    parameter = law_parameter(spec.law)
    if parameter:
        out[parameter] = getattr(spec, parameter)
    out["depth"] = spec.depth
    return out


def _key(cid: dict[str, Any]) -> str:
    return json.dumps(cid, sort_keys=True)


def _nan_to_none(array: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in array]


def measure_cell(spec: RunSpec, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """One cell as a JSON-ready record: per-β statistics and the per-sample values."""
    meas = experiment.measure(spec, progress)
    return {
        "cell": cell_id(spec),
        "betas": list(meas.betas),
        "inputs_per_draw": meas.info["inputs_per_draw"],
        "results": experiment.statistics(spec, meas),
        "values": {q: _nan_to_none(v) for q, v in meas.values.items()},
        "info": {k: meas.info[k] for k in ("device", "grad_method_used", "checkpoint_every")},
    }


def _read_results(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Complete lines of results.jsonl and the byte length they span (a torn tail is dropped)."""
    records, good = [], 0
    if not path.exists():
        return records, 0
    data = path.read_bytes()
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            break
        try:
            records.append(json.loads(data[start:end]))
        except json.JSONDecodeError:
            break
        start = good = end + 1
    return records, good


class ResultStore:
    """`<out>/results.jsonl` (append, flush, fsync per cell) and `<out>/sweep.json` (settings)."""

    def __init__(self, out: Path, sweep: SweepSpec, resume: bool) -> None:
        self.out = out
        self.path = out / RESULTS
        settings = {"sweep": sweep.to_dict()}
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecError(f"--out: cannot create {str(out)!r}: {exc.strerror or exc}") from None
        stored = out / SETTINGS
        if self.path.exists() and self.path.stat().st_size and not resume:
            raise SpecError(f"--out {out}: holds results already; add --resume to continue them or choose another folder")
        if resume and stored.exists():
            try:
                previous = json.loads(stored.read_text())
            except (OSError, json.JSONDecodeError):
                raise SpecError(f"--resume: cannot read {str(stored)!r}") from None
            if _comparable(previous) != _comparable(settings):
                raise SpecError(f"--resume: {out} was made with other settings; use a new --out to run these")
        self.records, good = _read_results(self.path) if resume else ([], 0)
        with open(self.path, "ab") as handle:  # drop a torn last line left by a kill
            handle.truncate(good)
        write_atomic(stored, json.dumps(settings, indent=2) + "\n")

    def done(self) -> dict[str, dict[str, Any]]:
        return {_key(r["cell"]): r for r in self.records}

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, allow_nan=False) + "\n").encode()
        with open(self.path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append(record)


def _comparable(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that change results; the device and memory budget are allowed to change."""
    sweep = dict(settings["sweep"])
    for key in ("device", "memory_gb"):
        sweep.pop(key, None)
    return sweep


def write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def progress_total(sweep: SweepSpec) -> int:
    return sum(experiment.progress_total(cell) for cell in sweep.cells())


def run_sweep(
    sweep: SweepSpec,
    *,
    out: Path | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    on_cell: Callable[[dict[str, Any], bool], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure every cell (skipping those already in `out` when resuming); records in grid order.

    `on_cell(record, reused)` is called after each cell.
    """
    store = ResultStore(out, sweep, resume) if out is not None else None
    done = store.done() if store else {}
    records = []
    for cell in sweep.cells():
        key = _key(cell_id(cell))
        if key in done:
            record, reused = done[key], True
            if progress is not None:
                progress(experiment.progress_total(cell))
        else:
            record, reused = measure_cell(cell, progress), False
            if store:
                store.append(record)
        records.append(record)
        if on_cell is not None:
            on_cell(record, reused)
    return records
