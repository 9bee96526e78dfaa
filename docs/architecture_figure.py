"""Draws docs/img/architecture.png: the package's layers, top to bottom, as tests/test_architecture.py
declares them (`LAYERS`); a module imports only its own layer and those below.
Run: python docs/architecture_figure.py"""

from __future__ import annotations

import ast
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: what each layer holds, in a few words
ROLES = {
    "cli": "command line: options built from the specs",
    "api": "Python face: keyword functions, results",
    "report": "tables, figures, JSON, parquet",
    "checks": "check files: expectations and outcomes",
    "settings": "flags and TOML → specs",
    "estimates": "--dry-run: memory and time",
    "experiments": "measure cells; the registry EXPERIMENTS",
    "sweep": "grids, result store, executors, Dask",
    "spec": "RunSpec", "fields": "spec base, shared settings", "resources": "memory preflight",
    "analysis": "statistics, regimes, rates, theory",
    "laws": "weight laws: sampler, references, limit",
    "dynamics": "f(h, θ), passes, Euler/Heun schemes",
    "values": "checks of values, Setting",
}


def layers() -> list[tuple[str, ...]]:
    tree = ast.parse((ROOT / "tests" / "test_architecture.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "LAYERS")
    return ast.literal_eval(node.value)


def main() -> None:
    rows = layers()
    fig, ax = plt.subplots(figsize=(9, 0.62 * len(rows) + 0.4))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.5, len(rows) - 0.3)
    for i, names in enumerate(rows):
        y = len(rows) - 1 - i
        shown = [n for n in names if n != "__main__"]
        width = 9.6 / len(shown)
        for j, name in enumerate(shown):
            x = 0.2 + j * width
            ax.add_patch(plt.Rectangle((x + 0.05, y - 0.3), width - 0.1, 0.6, facecolor="#e8eef7", edgecolor="#345"))
            label = name if name not in ROLES else f"{name}\n{ROLES[name]}"
            if len(names) > 4:
                label = name
            ax.text(x + width / 2, y, label, ha="center", va="center", fontsize=8)
        if i < len(rows) - 1:
            ax.annotate("", xy=(0.1, y - 0.42), xytext=(0.1, y + 0.25),
                        arrowprops=dict(arrowstyle="->", color="#345"))
    ax.set_title("rscale's layers: each imports only its own layer and those below", fontsize=10)
    fig.tight_layout()
    out = ROOT / "docs" / "img" / "architecture.png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
