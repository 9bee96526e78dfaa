"""The figure of `rscale limit`: distance to the limit against L on log-log axes, with the
fitted power law and the theory's, each labelled with its basis. Read from the JSON document;
matplotlib is imported inside the function."""

from __future__ import annotations

from typing import Any

import numpy as np

from resnet_scale_cli.report.figures import new_figure


def _short(basis: str) -> str:
    """The first clause of a basis ('theorem (upper bound …)' → 'theorem')."""
    return basis.split(" (")[0].split(";")[0]


def limit_figure(document: dict[str, Any]):
    """max_k distance (median, 5–95 % band) and final distance against L, the reference's own
    change, the fitted line L^(−estimate) and the theory line(s) L^(−theory) through the fit's centre."""
    from resnet_scale_cli.report.tables_limit import limit_title

    results, rate = document["results"], document["rate"]
    depths = np.array([r["depth"] for r in results], dtype=float)
    fig, ax = new_figure(figsize=(7, 4.8))

    def series(name: str, **style: Any) -> np.ndarray:
        med = np.array([r[name]["median"] if r[name] else np.nan for r in results])
        low = np.array([r[name]["q05"] if r[name] else np.nan for r in results])
        high = np.array([r[name]["q95"] if r[name] else np.nan for r in results])
        ax.errorbar(depths, med, yerr=[med - low, high - med], capsize=3, **style)
        return med

    med = series("distance_max", fmt="o-", color="C0", label=r"$\max_k \|h_k - H(k/L)\| / \|h_0\|$ (median, 5–95 %)")
    series("distance_final", fmt="s--", color="C1", ms=4, alpha=0.8, label=r"$\|h_L - H(1)\| / \|h_0\|$")
    series("reference_change", fmt="^:", color="grey", ms=4, alpha=0.8,
           label=r"reference's own change, $r/2 \to r$ (max over $k$)")
    if rate is not None:
        x = np.log10(depths)
        ok = np.isfinite(med) & (med > 0)
        centre_x, centre_y = x[ok].mean(), np.log10(med[ok]).mean()
        grid = np.linspace(x.min(), x.max(), 50)
        lo, hi = rate["interval"]
        ax.plot(10**grid, 10 ** (centre_y - rate["estimate"] * (grid - centre_x)), "-", color="C3", lw=1.5,
                label=f"fit: rate {rate['estimate']:.3f} [{lo:.3f}, {hi:.3f}] (bootstrap 95 %)")
        theories = sorted({rate["theory"], *rate["theory_range"]})
        for i, t in enumerate(theories):
            basis = _short(rate["basis"]) if t == rate["theory"] else "moderate-L bound (first-order argument)"
            ax.plot(10**grid, 10 ** (centre_y - t * (grid - centre_x)), "--" if i == 0 else "-.", color="black",
                    lw=1.0, label=f"theory: rate {t:.3g} — {basis}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel("distance to the limit")
    ax.set_title(f"{limit_title(document['spec'])}\n{document['limit']['equation']}", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(True, which="both", alpha=0.3)
    return fig
