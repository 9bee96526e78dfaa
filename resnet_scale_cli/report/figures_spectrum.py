"""The figure of `rscale spectrum`, read from the JSON document (matplotlib imported inside):
a fan of quantiles of the log10 singular values against β at one depth, log10 σ_max and log10
cond against L per β, and the histogram of log10 σ_i at the chosen cell (β_c by default)."""

from __future__ import annotations

from typing import Any

import numpy as np

from resnet_scale_cli.report.figures import depth_axis, layout, new_figure


#: mathtext labels of the singular-value quantities
LABELS = {"log10_sigma_max": r"$\log_{10}\sigma_{\max}$", "mean_log10_sigma": r"mean $\log_{10}\sigma_i$",
          "log10_sigma_min": r"$\log_{10}\sigma_{\min}$", "log10_condition": r"$\log_{10}\,\mathrm{cond}(J_L)$"}


def spectrum_figure(document: dict[str, Any], records: list[dict[str, Any]]):
    """Three panels for the first law setting (and width): fan at the largest depth, trends in L,
    histogram. `records` give the per-sample values of the fan."""
    first = {k: v for k, v in records[0]["cell"].items() if k != "depth"}
    group = sorted((r for r in records if {k: v for k, v in r["cell"].items() if k != "depth"} == first),
                   key=lambda r: r["cell"]["depth"])
    fig, axes = new_figure(1, 3, figsize=(15, 4.6))
    top = group[-1]
    betas = np.array(top["betas"])
    ax = axes[0]
    for q, color in (("log10_sigma_max", "C3"), ("mean_log10_sigma", "C0"), ("log10_sigma_min", "C2")):
        stats = [res[q] for res in top["results"]]
        med = np.array([np.nan if s is None else s["median"] for s in stats])
        lo = np.array([np.nan if s is None else s["q05"] for s in stats])
        hi = np.array([np.nan if s is None else s["q95"] for s in stats])
        ax.fill_between(betas, lo, hi, color=color, alpha=0.25)
        ax.plot(betas, med, color=color, marker=".", label=LABELS[q])
    critical = next((e for e in document["critical"] if all(e.get(k) == v for k, v in first.items() if k != "width")), None)
    if critical and critical.get("critical_beta") is not None:
        ax.axvline(critical["critical_beta"], color="k", ls="--", lw=1, label=rf"$\beta_c$ ($\sigma_{{\max}}(J_L - I)$) = {critical['critical_beta']:.3g}")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="β", ylabel=r"$\log_{10}\sigma$", title=rf"singular values of $J_L$ at L = {top['cell']['depth']} (5–95 %)")
    ax.legend(fontsize=8)
    ax = axes[1]
    depths = np.array([r["cell"]["depth"] for r in group], dtype=float)
    for j, beta in enumerate(betas[:: max(1, len(betas) // 6)]):
        jj = list(betas).index(beta)
        for q, ls in (("log10_sigma_max", "-"), ("log10_condition", ":")):
            med = [np.nan if r["results"][jj][q] is None else r["results"][jj][q]["median"] for r in group]
            ax.plot(depths, med, ls=ls, marker=".", color=f"C{j}", label=f"β = {beta:g}" if ls == "-" else None)
    depth_axis(ax, depths)
    ax.set(xlabel="depth L", ylabel=r"$\log_{10}$ (median)",
           title=r"$\sigma_{\max}$ (solid) and $\mathrm{cond}(J_L)$ (dotted) against L")
    ax.legend(fontsize=8)
    ax = axes[2]
    hist = document["histograms"][0]
    if hist["counts"]:
        edges = np.array(hist["edges"])
        ax.stairs(hist["counts"], edges, fill=True, alpha=0.6)
    ax.set(xlabel=r"$\log_{10}\sigma_i$", ylabel="count",
           title=rf"$\log_{{10}}\sigma_i$ at L = {hist['depth']}, β = {hist['beta']:g} ({hist['chosen_by']})")
    layout(fig)
    return fig
