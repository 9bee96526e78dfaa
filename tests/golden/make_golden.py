"""Store the golden documents: `python tests/golden/make_golden.py [NAME ...]` (all cases by default)."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden import STORED, cases, run_case, workspace  # noqa: E402


def main(names: list[str]) -> None:
    STORED.mkdir(exist_ok=True)
    wanted = cases()
    with tempfile.TemporaryDirectory() as tmp:
        folder = workspace(Path(tmp))
        for name in names or list(wanted):
            start = time.perf_counter()
            result = run_case(wanted[name], folder)
            (STORED / f"{name}.json").write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
            print(f"{name}: exit {result['exit_code']}, {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
