"""Start-up time of the command line against `import torch`, measured side by side in one run.

    python benchmarks/startup.py            # 5 repetitions each, the median reported

`rscale --version`, `rscale --help`, `rscale run --help` and a usage error must import neither
torch nor matplotlib: their time is compared with `python -c "import torch"` in the same run
(target: ratio ≤ 0.25). The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

REPEATS = 5
COMMANDS = {
    "import torch": [sys.executable, "-c", "import torch"],
    "python (empty)": [sys.executable, "-c", "pass"],
    "rscale --version": [sys.executable, "-m", "resnet_scale_cli", "--version"],
    "rscale --help": [sys.executable, "-m", "resnet_scale_cli", "--help"],
    "rscale run --help": [sys.executable, "-m", "resnet_scale_cli", "run", "--help"],
    "rscale run --law nope (usage error)": [sys.executable, "-m", "resnet_scale_cli", "run", "--law", "nope"],
}


def seconds(command: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    subprocess.run(COMMANDS["import torch"], check=True)  # warm the file cache once
    figures = {name: seconds(cmd) for name, cmd in COMMANDS.items()}
    torch_time = figures["import torch"]
    print(f"{'command':40s} {'median s':>9s} {'ratio to import torch':>22s}")
    for name, value in figures.items():
        print(f"{name:40s} {value:9.3f} {value / torch_time:22.2f}")
    worst = max(v for k, v in figures.items() if k.startswith("rscale"))
    print(f"worst rscale start-up / import torch = {worst / torch_time:.2f} (target ≤ 0.25)")
    print(json.dumps({"seconds": figures, "worst_ratio_to_import_torch": round(worst / torch_time, 3)}))


if __name__ == "__main__":
    main()
