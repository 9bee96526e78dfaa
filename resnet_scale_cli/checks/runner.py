"""`run_checks`: run check files, evaluate their expectations, compare with or write a baseline,
and write a JUnit report — what `rscale check` does, callable from Python."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from resnet_scale_cli.checks import baseline as baselines
from resnet_scale_cli.checks.files import CheckFile, evaluate, load_check
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.outputs import output_file


@dataclass
class CheckRun:
    """The outcome of `run_checks`: one document per check file (the `files` of the JSON)."""

    documents: list[dict[str, Any]]
    baseline: str | None
    baseline_updated: bool

    @property
    def n_expectations(self) -> int:
        return sum(len(d["expectations"]) for d in self.documents)

    @property
    def n_failed(self) -> int:
        return sum(not o["passed"] for d in self.documents for o in d["expectations"])

    @property
    def passed(self) -> bool:
        return self.n_failed == 0


def load_checks(files: Sequence[str], *, seed: int | None = None, device: str | None = None) -> list[CheckFile]:
    """Parse every check file (`-` reads one from stdin), with seed and device overridden if given."""
    if list(files).count("-") > 1:
        raise SpecError("'-' (stdin) can be given once")
    loaded = [load_check(f) for f in files]
    overrides = {k: v for k, v in (("seed", seed), ("device", device)) if v is not None}
    if overrides:
        for c in loaded:
            c.sweep = dataclasses.replace(c.sweep, base=c.sweep.base.replace(**overrides))
    names = [c.name for c in loaded]
    if len(set(names)) != len(names):
        raise SpecError("two check files have the same name; give each a distinct `name`")
    return loaded


def total_layers(checks: Sequence[CheckFile]) -> int:
    """Units of progress a run of `checks` reports (layers; training steps for `train`)."""
    from resnet_scale_cli.experiments.registry import progress_total

    return sum(c.sweep.cost() if hasattr(c.sweep, "cost") else progress_total(c.sweep) for c in checks)


def run_checks(
    checks: Sequence[CheckFile],
    *,
    baseline: str | None = None,
    update_baseline: bool = False,
    confidence: float = 0.99,
    junit: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> CheckRun:
    """Run loaded check files; compare with (or, with `update_baseline`, write) a baseline."""
    from resnet_scale_cli.experiments.registry import SWEEP, run_sweep
    from resnet_scale_cli.sweep import write_atomic

    if not 0.5 <= confidence < 1.0:
        raise SpecError(f"--confidence must be in [0.5, 1), got {confidence}")
    if update_baseline and not baseline:
        raise SpecError("--update-baseline needs --baseline FILE")
    junit_path = output_file(junit, "--junit") if junit else None
    baseline_path = (output_file(baseline, "--baseline") if update_baseline else Path(baseline)) if baseline else None
    stored = _stored_baseline(baseline_path, checks) if baseline_path and not update_baseline else None
    documents, new_entries = [], {}
    for c in checks:
        start = time.perf_counter()
        # the grid of `rscale inspect`, `spectrum`, `adjoint`, `limit` or `train` measures itself (checks.blocks, …)
        records = c.sweep.records(progress) if hasattr(c.sweep, "records") else run_sweep(c.sweep, progress=progress)
        critical = (c.sweep.critical(records) if hasattr(c.sweep, "critical") else
                    SWEEP.summarize(c.sweep, records)["critical"])
        outcomes = evaluate(c, records, critical)
        statistics = baselines.baseline_statistics(records)
        if stored is not None:
            outcomes.append(baselines.compare_baseline(stored["checks"][c.name], statistics, confidence))
        if update_baseline:
            new_entries[c.name] = {"settings": baselines.comparable_settings(c.sweep), "seed": c.sweep.base.seed,
                                   "statistics": statistics}
        documents.append({"file": c.path, "name": c.name, "spec": c.sweep.to_dict(), "expectations": outcomes,
                          "passed": all(o["passed"] for o in outcomes),
                          "elapsed_seconds": round(time.perf_counter() - start, 3)})
    if update_baseline:
        data = baselines.read_baseline(baseline_path) if baseline_path.exists() else \
            {"rscale_baseline": baselines.BASELINE_FORMAT, "checks": {}}
        data["checks"].update(new_entries)
        try:
            write_atomic(baseline_path, json.dumps(data, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            raise SpecError(f"--baseline: cannot write {baseline!r}: {exc.strerror or exc}") from None
    if junit_path:
        from resnet_scale_cli.checks.junit import write_junit

        write_junit(junit_path, documents)
    return CheckRun(documents, baseline, update_baseline)


def _stored_baseline(path: Path, checks: Sequence[CheckFile]) -> dict[str, Any]:
    stored = baselines.read_baseline(path)
    for c in checks:
        entry = stored["checks"].get(c.name)
        if entry is None:
            raise SpecError(f"--baseline {path}: no baseline for check {c.name!r}; create it with --update-baseline")
        if entry["settings"] != json.loads(json.dumps(baselines.comparable_settings(c.sweep))):
            raise SpecError(f"--baseline {path}: check {c.name!r} has other settings than its baseline; "
                            "update it with --update-baseline")
    return stored
