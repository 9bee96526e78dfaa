"""Human output of `rscale spectrum`: log10 σ_max, σ_min, condition and deviation per (setting,
depth, β), and the regimes / critical β read from log σ_max. Read from the JSON document."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table


def spectrum_title(spec: dict[str, Any]) -> str:
    """'iid (gaussian), full, relu, d = 40, 32 draws'."""
    law = {"iid": f"iid ({spec['dist']})"}.get(spec["law"], spec["law"])
    activation = "" if spec["model"] == "linear" else f", {spec['activation']}"
    widths = ",".join(str(w) for w in spec["width"])
    return f"{law}, {spec['model']}{activation}, d = {widths}, {spec['samples']} draws"


def _stat(stat: dict[str, float] | None) -> str:
    return "—" if stat is None else f"{stat['median']:.3g} [{stat['q05']:.3g}, {stat['q95']:.3g}]"


def _median(stat: dict[str, float] | None) -> str:
    return "—" if stat is None else f"{stat['median']:.3g}"


def _setting(entry: dict[str, Any]) -> str:
    from resnet_scale_cli.laws import setting_label

    label = setting_label(entry, compact=True)
    return label + (f" d={entry['width']}" if "width" in entry and label else f"d={entry['width']}" if "width" in entry else "")


def cells_table(document: dict[str, Any]) -> Table:
    table = Table(title=escape(f"spectrum of J_L = ∂h_L/∂h_0: {spectrum_title(document['spec'])}"),
                  caption="log10 values, medians over draws (σ_max: [5 %, 95 %]); exact = (1 + c L^-2β)^L beside the mean of "
                          "‖J_L‖_F²/d where the identity holds")
    several = len({_setting(c) for c in document["cells"]}) > 1
    if several:
        table.add_column("setting")
    for name in ("L", "β"):
        table.add_column(name, justify="right")
    for name in ("σ_max", "σ_min", "cond", "mean log σ", "σ_max(J − I)"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("E‖J v‖²: mean (exact)", justify="right", no_wrap=True)
    for c in document["cells"]:
        exact = (c.get("exact_mean_square") or {}).get("gain")
        gain = "—" if not exact or exact["mean"] is None else f"{exact['mean']:.4g} ({exact['exact']:.4g})"
        row = [_setting(c)] if several else []
        row += [str(c["depth"]), f"{c['beta']:g}", _stat(c["log10_sigma_max"]), _median(c["log10_sigma_min"]),
                _median(c["log10_condition"]), _median(c["mean_log10_sigma"]), _median(c["log10_deviation"]), gain]
        table.add_row(*row)
    return table


def critical_table(document: dict[str, Any]) -> Table:
    table = Table(title="regimes from the depth trend of log10 σ_max (and of the condition number)",
                  caption="critical β: zero crossing of the slope against log10 L, 95 % bootstrap interval")
    for name in ("setting", "critical β (σ_max)", "interval", "critical β (cond)", "reference (basis)"):
        table.add_column(name, justify="right")

    def fmt(x):
        return "—" if x is None else f"{x:.3g}"

    for e in document["critical"]:
        cond = e["condition"]
        ref = e.get("theory_reference")
        table.add_row(_setting(e) or e["law"], fmt(e["critical_beta"]) + (f" ({e['bound']})" if e["bound"] else ""),
                      f"[{fmt(e['interval'][0])}, {fmt(e['interval'][1])}]", fmt(cond["critical_beta"]),
                      f"{fmt(ref)} ({e['theory_basis']['kind']})")
    return table


def spectrum_tables(document: dict[str, Any], plot: Any = None) -> list[Any]:
    out: list[Any] = [cells_table(document)]
    if any(e["regime_basis"] == "trend" for e in document["critical"]):
        out.append(critical_table(document))
    if plot:
        out.append(f"figure written to {plot}")
    return out
