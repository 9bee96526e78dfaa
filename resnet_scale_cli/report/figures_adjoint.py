"""Figures of `rscale adjoint` (matplotlib imported inside; Agg backend): the errors of the
memory-free backward against depth N on log-log axes, one line per document (net, law), with the
measured fit and the paper's bound rate (labelled "bound"), and the peak memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from resnet_scale_cli.report.figures import layout, new_figure, save

PANELS = (("activation_error", r"activations: $\mathrm{max}_n\, \|\tilde x_n - x_n\| / \|x_n\|$"),
          ("gradient_error", r"weight gradient: $\|\tilde\nabla_\theta - \nabla_\theta\| / \|\nabla_\theta\|$"),
          ("input_gradient_error", r"input gradient: $\|\tilde\nabla_x - \nabla_x\| / \|\nabla_x\|$"))


def label(document: dict[str, Any]) -> str:
    """'heunnet, fbm H=0.7': the net and the law of a document."""
    from resnet_scale_cli.laws import law_entry

    spec = document["spec"]
    return f"{spec['net']}, {law_entry(spec['law']).label(spec, 'compact')}"


def plot_adjoint(documents: list[dict[str, Any]], path: str | Path) -> Path:
    """Write `adjoint_figure(documents)` to `path`."""
    return save(adjoint_figure(documents), path)


def adjoint_figure(documents: list[dict[str, Any]]):
    """Three error panels (median, 5–95 % band, dotted fit c·N^−rate, dashed slope of the bound
    anchored at the smallest depth) and a memory panel (exact solid, memory-free dashed)."""
    fig, axes = new_figure(1, 4, figsize=(19, 4.6))
    for i, doc in enumerate(documents):
        color = f"C{i}"
        rows = doc["results"]
        depths = np.array([r["depth"] for r in rows], dtype=float)
        for ax, (q, title) in zip(axes[:3], PANELS, strict=True):
            stats = [r[q] for r in rows]
            keep = np.array([s is not None and s["median"] > 0 for s in stats])
            if not keep.any():
                continue
            med = np.array([s["median"] if k else np.nan for s, k in zip(stats, keep)])
            lo = np.array([s["q05"] if k else np.nan for s, k in zip(stats, keep)])
            hi = np.array([s["q95"] if k else np.nan for s, k in zip(stats, keep)])
            rate = doc["rates"][q]
            name = label(doc) + (f": rate {rate['estimate']:.2f}" if rate["estimate"] is not None else "")
            ax.plot(depths[keep], med[keep], "o-", color=color, label=name)
            ax.fill_between(depths[keep], np.clip(lo[keep], 1e-300, None), hi[keep], color=color, alpha=0.15, lw=0)
            if rate["estimate"] is not None:
                centre = np.exp(np.mean(np.log(med[keep])) + rate["estimate"] * np.mean(np.log(depths[keep])))
                ax.plot(depths, centre * depths ** -rate["estimate"], ":", color=color, lw=1)
            if rate["bound"] is not None:
                first = int(np.argmax(keep))
                ax.plot(depths, med[first] * (depths / depths[first]) ** -rate["bound"], "--", color=color, lw=1,
                        alpha=0.7, label=rf"bound $N^{{-{rate['bound']:g}}}$ (slope only)")
            ax.set_title(title, fontsize=10)
        mem = axes[3]
        mem.plot(depths, [r["memory_bytes"]["exact"] for r in rows], "o-", color=color, label=f"{label(doc)}: exact")
        mem.plot(depths, [max(r["memory_bytes"]["adjoint"], 1) for r in rows], "s--", color=color,
                 label=f"{label(doc)}: memory-free")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("depth N")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("relative error (median, 5–95 %)")
    axes[3].set_title("peak memory of the backward", fontsize=10)
    axes[3].set_ylabel("bytes")
    fig.suptitle("Memory-free backpropagation against depth N (dotted: fit; dashed: the bound's slope)", fontsize=11)
    layout(fig)
    return fig
