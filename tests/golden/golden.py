"""Golden files: the JSON documents of small runs of every sample_configs file and of the documented
examples (cases.txt), stored so that a refactoring can show it changes no number, bit for bit on CPU.

`run_case` runs one case as a user would (`python -m resnet_scale_cli …` in a folder holding copies of
sample_configs/, examples/ and the small check files) with `--json --device cpu --threads 1`, and returns its
exit code and its document with what legitimately differs between two runs taken out (`VOLATILE`: timings,
versions, the host, temporary paths). `python tests/golden/make_golden.py` stores them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES_FILE = HERE / "cases.txt"
STORED = HERE / "documents"
#: keys whose values differ between two identical runs (wall-clock timings, versions, host, resources)
VOLATILE = ("versions", "run_info", "provenance", "elapsed_seconds", "seconds", "wall_seconds", "free_gb")
EXTRA = ("--json", "--device", "cpu", "--threads", "1")


def cases() -> dict[str, list[str]]:
    """name → rscale arguments, in the order of cases.txt."""
    out: dict[str, list[str]] = {}
    for line in CASES_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, args = line.partition(":")
        out[name.strip()] = shlex.split(args)
    return out


def workspace(folder: Path) -> Path:
    """A folder with copies of the files the cases read."""
    shutil.copytree(ROOT / "sample_configs", folder / "sample_configs")
    shutil.copytree(ROOT / "examples", folder / "examples")
    shutil.copytree(HERE / "checks", folder / "checks")
    return folder


def normalize(value: Any) -> Any:
    """The document without its volatile fields (recursively)."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def run_case(args: list[str], folder: Path) -> dict[str, Any]:
    """Exit code and normalized JSON document of `rscale ARGS --json --device cpu --threads 1`."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONHASHSEED": "0"}
    env.pop("OMP_NUM_THREADS", None)
    done = subprocess.run([sys.executable, "-m", "resnet_scale_cli", *args, *EXTRA], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError:
        document = {"stdout": done.stdout, "stderr": done.stderr}
    return {"exit_code": done.returncode, "document": normalize(document)}
