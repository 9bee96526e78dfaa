"""The results store of a grid: `<out>/results.jsonl`, one line per finished cell (written whole,
flushed and fsynced), and `<out>/<settings file>` with the settings it was made with. The tidy
table `<out>/results.parquet` (`report.frames`) and the summary are written atomically at the end.

`resume` keeps the complete lines, drops (and truncates away) a torn last line left by a kill,
and refuses settings other than those stored. Summaries are written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.outputs import output_folder

RESULTS, SUMMARY, SETTINGS = "results.jsonl", "summary.json", "sweep.json"


def _read_results(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Complete lines of results.jsonl and the byte length they span. An unterminated last line
    (a kill mid-write) is dropped; a terminated line that is not a JSON object is corruption and
    is refused (SpecError) so that nothing is overwritten."""
    records: list[dict[str, Any]] = []
    if not path.exists():
        return records, 0
    data = path.read_bytes()
    start = 0
    while (end := data.find(b"\n", start)) >= 0:
        try:
            record = json.loads(data[start:end])
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("cell"), dict):
            line = data.count(b"\n", 0, start) + 1
            raise SpecError(f"--resume: {str(path)!r} line {line} is not a result record; "
                            "fix or remove that line, or use a new --out")
        records.append(record)
        start = end + 1
    return records, start


class ResultStore:
    """`<out>/results.jsonl` (append, flush, fsync per cell) and `<out>/sweep.json` (settings).

    `settings` is a JSON-ready mapping; resuming with other settings (less `device` and
    `memory_gb`) is refused.
    """

    def __init__(self, out: Path, settings: dict[str, Any], resume: bool, key: Callable[[dict[str, Any]], str]) -> None:
        self.out = out
        self.path = out / RESULTS
        self.key = key
        output_folder(out, "--out")
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
        return {self.key(r["cell"]): r for r in self.records}

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, allow_nan=False) + "\n").encode()
        with open(self.path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append(record)


def _comparable(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that change results; the device and memory budget are allowed to change."""
    return {name: {k: v for k, v in value.items() if k not in ("device", "memory_gb")} if isinstance(value, dict) else value
            for name, value in settings.items()}


def write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete records of a results.jsonl (a torn last line left by a kill is left out)."""
    return _read_results(Path(path))[0]


def write_parquet(path: Path, frame: Any, metadata: dict[str, Any] | None = None) -> None:
    """Write a `pandas.DataFrame` as parquet whole or not at all (temporary file, fsync, rename);
    `metadata` is stored as JSON under the schema metadata key "rscale"."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"rscale": json.dumps(metadata, allow_nan=False).encode()})
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
