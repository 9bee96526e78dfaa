"""Figures of `inspect`: the phase diagram of a user's block (`--plot`, the β × L heatmaps of
`report.figures.phase_depth_figure`, as `rscale phase` draws them) and its depth coordinate check
(`--plot-profiles`).

The coordinate check: one panel per profile quantity (‖h_k‖/‖h_0‖, ‖L^-β f(h_k)‖/‖h_0‖, ‖p_k‖/‖p_L‖), log10 medians
against the depth coordinate t = k/L, one colour per β and one line style per depth L. Curves
that do not move with L at a given β are the signature of a depth-stable scaling; curves that
climb with L are an explosion, curves that sink towards 0 (ratios → 1) the identity regime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.report.figures import check_plot_path, layout, new_figure, phase_depth_figure, pyplot, save

QUANTITIES = (("state_log10", r"$\log_{10}\,\|h_k\|/\|h_0\|$"),
              ("increment_log10", r"$\log_{10}\,\|L^{-\beta} f(h_{k-1})\|/\|h_0\|$"),
              ("gradient_log10", r"$\log_{10}\,\|p_k\|/\|p_L\|$"))
STYLES = ("-", "--", ":", "-.")


def profiles_figure(profiles: Sequence[dict[str, Any]], title: str, betas: Sequence[float] | None = None):
    """The depth coordinate check of a document's `profiles` (or the records' `profiles` with
    their cell). `betas` picks a subset (default: all)."""
    plt = pyplot()
    chosen = sorted({p["beta"] for p in profiles}) if betas is None else list(betas)
    depths = sorted({p["depth"] for p in profiles})
    colours = plt.get_cmap("viridis")
    present = [(key, label) for key, label in QUANTITIES if any(p.get(key) for p in profiles)]
    fig, axes = new_figure(1, len(present), figsize=(5.2 * len(present), 4.0), squeeze=False)
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
    layout(fig, rect=(0, 0, 0.88, 0.95))
    return fig


def inspect_title(spec: dict[str, Any]) -> str:
    """'examples/blocks.py:mlp (2048 parameters), iid (module init), d = 32, 32 samples'."""
    from resnet_scale_cli.laws import law_entry

    if spec["law"] == "iid":
        law = f"iid ({spec['init']} init{', ' + spec['dist'] if spec['init'] == 'moments' else ''})"
    else:
        law = law_entry(spec["law"]).label(spec, "name")
    return f"{spec['block']} ({spec.get('parameters')} parameters), {law}, d = {spec['width']}, {spec['samples']} samples"


@dataclass(frozen=True)
class InspectFigures:
    """The figures of `inspect`, planned (paths and settings checked) before anything runs."""

    plot: Path | None
    profiles: Path | None

    @classmethod
    def plan(cls, spec: Any, outputs: dict[str, Any]) -> "InspectFigures":
        plot = check_plot_path(outputs["plot"]) if outputs.get("plot") else None
        if plot is not None and len(spec.depths) < 2:
            raise SpecError("--plot: the phase figure needs at least two depths (regimes come from the trend over L); "
                            "--plot-profiles draws a single depth")
        profiles = check_plot_path(outputs["plot_profiles"], "--plot-profiles") if outputs.get("plot_profiles") else None
        return cls(plot, profiles)

    def draw(self, records: list[dict[str, Any]], document: dict[str, Any]) -> list[Path]:
        """Draw and save the planned figures from a run's records and document; the paths written."""
        title, written = inspect_title(document["spec"]), []
        if self.plot is not None:
            written.append(save(phase_depth_figure(list(records), document["critical"][0], title), self.plot))
        if self.profiles is not None:
            written.append(save(profiles_figure(document["profiles"], title), self.profiles, "--plot-profiles"))
        return written
