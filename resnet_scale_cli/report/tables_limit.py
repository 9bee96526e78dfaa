"""Human output of `rscale limit`: the distances per depth, the fitted rates beside the theory,
and whether the reference converged. Everything is read from the JSON document."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from resnet_scale_cli.report.fit import Table


def limit_title(spec: dict[str, Any]) -> str:
    """'iid (gaussian), simple, relu, β = 0.5, d = 40, 32 draws, r = 16'."""
    from resnet_scale_cli.laws import law_entry

    law = law_entry(spec["law"]).label(spec)
    activation = "" if spec["model"] == "linear" else f", {spec['activation']}"
    return (f"{law}, {spec['model']}{activation}, β = {spec['beta']:g}, d = {spec['width']}, {spec['samples']} draws, "
            f"r = {spec['refinement']}")


def _distance(stat: dict[str, float] | None) -> str:
    if stat is None:
        return "—"
    return f"{stat['median']:.3e} [{stat['q05']:.2e}, {stat['q95']:.2e}]"


def _interval(pair: list[float]) -> str:
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def distances_table(document: dict[str, Any]) -> Table:
    limit = document["limit"]
    path_note = ("; path error = bound on the reference path's distance from an exact conditional GP path "
                 "(window, jitter), relative to the GP's s.d." if any("path_error" in row for row in document["results"])
                 else "")
    table = Table(title=escape(f"limit: {limit_title(document['spec'])}"),
                  caption=escape(f"limit {limit['equation']}; reference: {limit['reference']}. Distances relative to "
                                 "‖h_0‖, median [5 %, 95 %] over draws; change = the reference's own change when r "
                                 f"doubles from r/2{path_note}"))
    table.add_column("L", justify="right")
    table.add_column("max_k ‖h_k − H(k/L)‖", justify="right", no_wrap=True)
    table.add_column("‖h_L − H(1)‖", justify="right", no_wrap=True)
    table.add_column("reference change", justify="right", no_wrap=True)
    table.add_column("distance / change", justify="right")
    paths = any("path_error" in row for row in document["results"])
    if paths:
        table.add_column("path error", justify="right", no_wrap=True)
    for row in document["results"]:
        ratio = row["reference_ratio"]
        cells = [str(row["depth"]), _distance(row["distance_max"]), _distance(row["distance_final"]),
                 _distance(row["reference_change"]), "—" if ratio is None else f"{ratio:.1f}"]
        if paths:
            cells.append(_path(row))
        table.add_row(*cells)
    return table


def _path(row: dict[str, Any]) -> str:
    """'3.1e-06 (w 32)' or '1.0e-06 (exact)': the bound on the reference path's own error."""
    if row.get("path_error") is None:
        return "—"
    how = "exact" if row.get("exact_conditioning") else f"w {row['window']}"
    return f"{row['path_error']:.1e} ({how})"


def rates_table(document: dict[str, Any]) -> Table:
    table = Table(title="rate: distance ~ L^(−rate)", caption="interval: percentile bootstrap over draws (95 %); "
                  "pairwise: the slope of each pair of consecutive depths")
    table.add_column("quantity")
    table.add_column("rate [95 %]", justify="right", no_wrap=True)
    table.add_column("theory", justify="right")
    table.add_column("pairwise")
    table.add_column("basis")
    for rate in (document["rate"], document["rate_final"]):
        if rate is None:
            continue
        low, high = rate["theory_range"]
        theory = f"{rate['theory']:.3g}" if low == high else f"{rate['theory']:.3g} (to {high:.3g} at moderate L)"
        pairs = ", ".join(f"{a}→{b}: {p['estimate']:.2f}" for p in rate["pairwise"] for a, b in [p["depths"]])
        table.add_row(rate["quantity"], f"{rate['estimate']:.3f} {_interval(rate['interval'])}", theory, pairs,
                      escape(rate["basis"]))
    return table


def reference_line(document: dict[str, Any]) -> str:
    ref = document["reference"]
    if ref["ratio_min"] is None:
        return "reference: no change measured"
    expected = "" if ref["expected_ratio"] is None else f"; expected ≈ {ref['expected_ratio']:.3g} at every L"
    path = ("" if ref.get("path_ratio_min") is None
            else f"; smallest distance / path error {ref['path_ratio_min']:.3g}")
    if ref["converged"]:
        also = " and the reference path's own error" if path else ""
        return (f"reference converged: every distance is ≥ {ref['threshold']:g}× the reference's own change{also} "
                f"(smallest ratio {ref['ratio_min']:.3g}{expected}{path})")
    advice = ref.get("advice")
    note = f" — {advice}" if advice else ""
    return (f"[yellow]reference not converged to {ref['threshold']:g}×[/]: smallest distance / change "
            f"{ref['ratio_min']:.3g}{escape(expected)}{escape(path)}{escape(note)}")


def limit_tables(document: dict[str, Any]) -> list[Any]:
    """The distances, the rates and the reference line."""
    return [distances_table(document), rates_table(document), reference_line(document)]
