"""Figure of `inspect`: the depth coordinate check of a user's block.

One panel per profile quantity (‖h_k‖/‖h_0‖, ‖L^-β f(h_k)‖/‖h_0‖, ‖p_k‖/‖p_L‖), log10 medians
against the depth coordinate t = k/L, one colour per β and one line style per depth L. Curves
that do not move with L at a given β are the signature of a depth-stable scaling; curves that
climb with L are an explosion, curves that sink towards 0 (ratios → 1) the identity regime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

QUANTITIES = (("state_log10", r"$\log_{10}\,\|h_k\|/\|h_0\|$"),
              ("increment_log10", r"$\log_{10}\,\|L^{-\beta} f(h_{k-1})\|/\|h_0\|$"),
              ("gradient_log10", r"$\log_{10}\,\|p_k\|/\|p_L\|$"))
STYLES = ("-", "--", ":", "-.")


def plot_inspect_profiles(path: str | Path, profiles: Sequence[dict[str, Any]], title: str,
                          betas: Sequence[float] | None = None) -> Path:
    """Write the profiles of `run_inspect(...)["profiles"]` (or the records' `profiles` with
    their cell) to `path` (.png, .pdf or .svg). `betas` picks a subset (default: all)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    chosen = sorted({p["beta"] for p in profiles}) if betas is None else list(betas)
    depths = sorted({p["depth"] for p in profiles})
    colours = plt.get_cmap("viridis")
    present = [(key, label) for key, label in QUANTITIES if any(p.get(key) for p in profiles)]
    fig, axes = plt.subplots(1, len(present), figsize=(5.2 * len(present), 4.0), squeeze=False)
    for ax, (key, label) in zip(axes[0], present):
        for i, beta in enumerate(chosen):
            colour = colours(i / max(1, len(chosen) - 1))
            for j, depth in enumerate(depths):
                for p in profiles:
                    if p["depth"] != depth or abs(p["beta"] - beta) > 1e-12 or not p.get(key):
                        continue
                    points = [(t, v) for t, v in zip(p["t"], p[key]) if v is not None]
                    if points:
                        ts, vs = zip(*points)
                        ax.plot(ts, vs, STYLES[j % len(STYLES)], color=colour, lw=1.2,
                                label=f"β = {beta:g}" if j == 0 else None)
        ax.set_xlabel("depth coordinate t = k/L")
        ax.set_ylabel(label)
        ax.axhline(0.0, color="grey", lw=0.5)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for j, depth in enumerate(depths):
        handles.append(plt.Line2D([], [], color="black", ls=STYLES[j % len(STYLES)]))
        labels.append(f"L = {depth}")
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.88, 0.95))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
