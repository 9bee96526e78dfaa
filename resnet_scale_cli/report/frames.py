"""Tidy tables of results: one row per cell × β × sample (`pandas.DataFrame`), the table of
`<out>/results.parquet`, of `resnet_scale_cli.load(out)` and of every API result's `.to_pandas()`.

Columns, in order:
- the grid's coordinates: `law`, the law's parameter (`hurst` for fbm, `lengthscale` for rbf; none
  for iid and tied), `width` d, `depth` L (N for `adjoint`), `beta` β, `net` (adjoint, train),
  `sample` (0-based index of the sample within its cell);
- one float column per measured quantity, as the records' `values` name it (`output_log10`,
  `gradient_log10`, `log10_sigma_max`, `distance_max`, `gradient_error`, `max_weight_increment`, …);
  NaN where a sample overflowed or a quantity was not measured.

Rows are sorted by the coordinates, so a table built from a finished run's records, from a resumed
run's and from `results.jsonl` (whose lines follow completion order) are identical. pandas and
pyarrow are imported inside the functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from resnet_scale_cli.errors import SpecError

#: the tidy table written beside results.jsonl
TABLE = "results.parquet"


def coordinates() -> tuple[str, ...]:
    """The coordinate columns, in table order (those that apply to a command): the law, the laws'
    parameters (alphabetical: hurst, lengthscale, …), then width, depth, beta, net, sample."""
    from resnet_scale_cli.laws import law_parameters

    return ("law", *sorted(law_parameters()), "width", "depth", "beta", "net", "sample")


def _scalar(value: Any) -> Any:
    """A spec value as one coordinate: a scalar, or the only entry of a one-value list."""
    if isinstance(value, (list, tuple)):
        return value[0] if len(value) == 1 else None
    return value


def _constants(spec: dict[str, Any]) -> dict[str, Any]:
    """Coordinates that a spec fixes for every cell (the cells' own coordinates override them)."""
    from resnet_scale_cli.laws import LAWS, law_parameter

    out: dict[str, Any] = {}
    law = spec.get("law")
    if law is not None:
        out["law"] = law
        parameter = law_parameter(law) if law in LAWS else None
        if parameter and _scalar(spec.get(parameter)) is not None:
            out[parameter] = _scalar(spec[parameter])
    for key, spec_key in (("width", "width"), ("beta", "beta"), ("beta", "betas"), ("net", "net")):
        value = _scalar(spec.get(spec_key))
        if value is not None and key not in out:
            out[key] = value
    return out


def tidy(records: list[dict[str, Any]], spec: dict[str, Any]):
    """The tidy `pandas.DataFrame` of a command's records (each {"cell": coordinates, "values":
    {quantity: per-sample values}, optionally "betas"}) and its spec (`spec.to_dict()`).

    A quantity's values are (n_β, samples) when the record has "betas", else (samples,); None
    (an overflow, or a quantity not measured) becomes NaN."""
    import numpy as np
    import pandas as pd

    from resnet_scale_cli.laws import law_parameters

    constants = _constants(spec)
    axes = coordinates()
    quantities: list[str] = []
    for record in records:
        for q, v in record.get("values", {}).items():
            if v is not None and q not in quantities:
                quantities.append(q)
    columns: dict[str, list[Any]] = {}
    blocks: list[dict[str, Any]] = []
    for record in records:
        coords = constants | record["cell"]
        betas = record.get("betas")
        values = {q: record["values"].get(q) for q in quantities}
        arrays = {q: None if v is None else np.asarray(v, dtype=float) for q, v in values.items()}
        shapes = [a.shape for a in arrays.values() if a is not None]
        if not shapes:
            continue
        if betas is not None and len(shapes[0]) == 2:
            n_beta, n_sample = shapes[0]
            beta = np.repeat(np.asarray(betas, dtype=float), n_sample)
        else:
            n_beta, n_sample = 1, shapes[0][-1]
            beta = np.full(n_sample, float(coords["beta"])) if "beta" in coords else None
        rows = n_beta * n_sample
        block: dict[str, Any] = {k: [v] * rows for k, v in coords.items() if k in axes and k != "beta"}
        if beta is not None:
            block["beta"] = beta
        block["sample"] = np.tile(np.arange(n_sample), n_beta)
        for q, a in arrays.items():
            block[q] = np.full(rows, np.nan) if a is None else a.reshape(rows)
        blocks.append(block)
    for block in blocks:
        for key in block:
            columns.setdefault(key, [])
    order = [c for c in axes if c in columns] + quantities
    for block in blocks:
        rows = len(block["sample"])
        for key in order:
            columns[key].append(np.asarray(block[key]) if key in block else np.full(rows, None if key in axes else np.nan))
    data = {key: np.concatenate(parts) if parts else np.array([]) for key, parts in columns.items()}
    frame = pd.DataFrame({key: data[key] for key in order})
    for key, kind in (("width", "int64"), ("depth", "int64"), ("sample", "int64"), ("beta", "float64"),
                      *((q, "float64") for q in (*law_parameters(), *quantities))):
        if key in frame and not frame[key].isna().any():
            frame[key] = frame[key].astype(kind)
    for key in ("law", "net"):
        if key in frame:
            frame[key] = frame[key].astype("str")
    keys = [c for c in axes if c in frame and c not in ("law", "net")]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True) if keys and len(frame) else frame


def write_table(out: str | Path, records: list[dict[str, Any]], settings: dict[str, Any],
                metadata: dict[str, Any] | None = None) -> Path:
    """Write `<out>/results.parquet` (atomically) from a run's records and its stored settings
    ({command: spec dict}, as in `<out>/sweep.json`); `metadata` goes into the file's schema
    metadata under the key "rscale" (JSON). The path written."""
    from resnet_scale_cli.sweep.store import write_parquet

    (command, spec), = settings.items()
    path = Path(out) / TABLE
    write_parquet(path, tidy(records, spec), {"command": command, "spec": spec, **(metadata or {})})
    return path


def load(out: str | Path):
    """The tidy table of a command's `--out` folder: `results.parquet`, or rebuilt from
    `results.jsonl` and `sweep.json` where the parquet is missing or older than the records
    (a run killed before its end)."""
    import pandas as pd

    from resnet_scale_cli.sweep.store import RESULTS, SETTINGS, read_records

    folder = Path(out)
    table, results, stored = folder / TABLE, folder / RESULTS, folder / SETTINGS
    if not folder.is_dir():
        raise SpecError(f"load: {str(folder)!r} is not a folder (the --out of an rscale command)")
    if table.exists() and (not results.exists() or os.path.getmtime(table) >= os.path.getmtime(results)):
        return pd.read_parquet(table, engine="pyarrow")
    if not results.exists() or not stored.exists():
        raise SpecError(f"load: {str(folder)!r} holds neither {TABLE} nor {RESULTS} with {SETTINGS}")
    try:
        settings = json.loads(stored.read_text())
    except (OSError, json.JSONDecodeError):
        raise SpecError(f"load: cannot read {str(stored)!r}") from None
    (_, spec), = settings.items()
    return tidy(read_records(results), spec)


def table_metadata(path: str | Path) -> dict[str, Any]:
    """The "rscale" metadata of a results.parquet: command, spec and provenance."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"rscale", b"{}"))


def sample_table(result) -> Any:
    """`rscale sample` as a table: one row per law setting × lag, with the empirical
    autocovariance across depth, its standard error and the theory."""
    import numpy as np
    import pandas as pd

    from resnet_scale_cli.laws import law_parameter

    parts = []
    for _, spec, stats in result.settings:
        lags = np.asarray(stats["lags"], dtype=int)
        row: dict[str, Any] = {"law": spec.law}
        parameter = law_parameter(spec.law)
        if parameter:
            row[parameter] = float(getattr(spec, parameter))
        row |= {"width": spec.width, "depth": spec.depth}
        parts.append(pd.DataFrame({**{k: [v] * lags.size for k, v in row.items()}, "lag": lags,
                                   "empirical": np.asarray(stats["empirical"], dtype=float),
                                   "stderr": np.asarray(stats["stderr"], dtype=float),
                                   "theory": np.asarray(stats["theory"], dtype=float)}))
    frame = pd.concat(parts, ignore_index=True)
    frame["law"] = frame["law"].astype("str")
    return frame


def check_table(outcome) -> Any:
    """`rscale check` as a table: one row per check file × expectation, with its type, whether
    it passed, the measured value (NaN where it is not a number) and the message."""
    import pandas as pd

    rows = []
    for document in outcome.documents:
        for expectation in document.get("expectations", []):
            measured = expectation.get("measured")
            number = measured if isinstance(measured, (int, float)) and not isinstance(measured, bool) else None
            rows.append({"check": document.get("name") or document.get("file"), "type": expectation.get("type"),
                         "passed": bool(expectation.get("passed")), "measured": number,
                         "message": expectation.get("message")})
    frame = pd.DataFrame(rows, columns=["check", "type", "passed", "measured", "message"])
    frame["measured"] = frame["measured"].astype("float64")
    return frame
