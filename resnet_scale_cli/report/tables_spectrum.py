"""Human output of `rscale spectrum`: log10 σ_max, σ_min, condition and deviation per (setting,
depth, β), and the regimes / critical β read from the deviation log σ_max(J_L − I) (with the
critical β of log σ_max and of log cond beside). Read from the JSON document."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from resnet_scale_cli.report.fit import Table


def spectrum_title(spec: dict[str, Any]) -> str:
    """'iid (gaussian), full, relu, d = 40, 32 draws'."""
    from resnet_scale_cli.laws import law_entry

    law = law_entry(spec["law"]).label(spec, "fixed")
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
                  caption="log10 values, medians over draws (σ_max: [5 %, 95 %]); E‖J v‖²: log10 of the mean of ‖J_L‖_F²/d "
                          "over draws, with the exact log10 (1 + c L^-2β)^L where the identity holds")
    several = len({_setting(c) for c in document["cells"]}) > 1
    if several:
        table.add_column("setting")
    for name in ("L", "β"):
        table.add_column(name, justify="right")
    for name in ("σ_max", "σ_min", "cond", "mean log σ", "σ_max(J − I)"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("log10 E‖J v‖²: mean (exact)", justify="right", no_wrap=True)
    for c in document["cells"]:
        exact = (c.get("exact_mean_square") or {}).get("gain")
        gain = "—" if not exact or exact["log10_mean"] is None else f"{exact['log10_mean']:.4g} ({exact['log10_exact']:.4g})"
        row = [_setting(c)] if several else []
        row += [str(c["depth"]), f"{c['beta']:g}", _stat(c["log10_sigma_max"]), _median(c["log10_sigma_min"]),
                _median(c["log10_condition"]), _median(c["mean_log10_sigma"]), _median(c["log10_deviation"]), gain]
        table.add_row(*row)
    return table


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _critical(info: dict[str, Any]) -> str:
    """'0.497', or the bound ('below grid') where the crossing lies off the β grid."""
    return _fmt(info.get("critical_beta")) if info.get("critical_beta") is not None else (info.get("bound") or "—")


def critical_table(document: dict[str, Any]) -> Table:
    """Critical β per setting: from the deviation σ_max(J_L − I) (the regimes' reading), from
    σ_max and from the condition number, beside the reference and its basis."""
    table = Table(title="critical β from the depth trend of log10 σ_max(J_L − I) (and of σ_max, of the condition number)",
                  caption="critical β: zero crossing of the slope against log10 L, 95 % bootstrap interval")
    for name in ("setting", "critical β (J − I)", "interval", "critical β (σ_max)", "critical β (cond)",
                 "reference (basis)"):
        table.add_column(name, justify="right")
    for e in document["critical"]:
        sigma = e.get("sigma_max") or {}
        ref = e.get("theory_reference")
        table.add_row(_setting(e) or e["law"], _fmt(e["critical_beta"]) + (f" ({e['bound']})" if e["bound"] else ""),
                      f"[{_fmt(e['interval'][0])}, {_fmt(e['interval'][1])}]", _critical(sigma),
                      _critical(e["condition"]), f"{_fmt(ref)} ({e['theory_basis']['kind']})")
    return table


def regimes_table(document: dict[str, Any]) -> Table:
    """Per setting and β: the slope of the median log10 σ_max(J_L − I) against log10 L with its
    95 % interval and the regime it supports (`analysis.regimes.regime_of`)."""
    from resnet_scale_cli.report.tables import REGIME_STYLE

    table = Table(title="regimes from the depth trend of log10 σ_max(J_L − I)",
                  caption="slope [95 % bootstrap interval] in decades per decade of L; explosion / identity only where "
                          "the whole interval lies above +0.05 / below −0.05; stable where it lies within ±0.05, or holds "
                          "0 at a β inside the critical-β interval; else undetermined")
    several = len(document["critical"]) > 1
    if several:
        table.add_column("setting")
    table.add_column("β", justify="right")
    table.add_column("slope", justify="right", no_wrap=True)
    table.add_column("regime")
    for e in document["critical"]:
        for reg in e["regimes"]:
            lo, hi = reg["slope_interval"]
            slope = "overflow" if reg["slope"] is None else f"{reg['slope']:+.3f} [{_fmt(lo)}, {_fmt(hi)}]"
            row = [_setting(e) or e["law"]] if several else []
            row += [f"{reg['beta']:g}", slope, f"[{REGIME_STYLE[reg['regime']]}]{reg['regime']}[/]"]
            table.add_row(*row)
    return table


def spectrum_tables(document: dict[str, Any]) -> list[Any]:
    """The cells, and where the depth trend reads them, the regimes and the critical β."""
    out: list[Any] = [cells_table(document)]
    if any(e["regime_basis"] == "trend" for e in document["critical"]):
        out.append(regimes_table(document))
        out.append(critical_table(document))
    return out
