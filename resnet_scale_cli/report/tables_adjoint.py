"""Human output of `rscale adjoint`: one row per depth, then the rates beside the paper's bounds."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from resnet_scale_cli.laws import law_entry
from resnet_scale_cli.report.fit import Table

LABELS = {"activation_error": "activations", "gradient_error": "∇_θ", "input_gradient_error": "∇_x"}
CAPTION = ("errors of the memory-free backward, median [5 %, 95 %] over draws: activations max_n ‖x̃_n − x_n‖/‖x_n‖, "
           "∇_θ ‖∇̃_θ − ∇_θ‖/‖∇_θ‖, ∇_x ‖∇̃_x − ∇_x‖/‖∇_x‖; Δ = max_n ‖θ_{n+1} − θ_n‖ (median); memory: peak bytes "
           "beyond weights and gradients")


def _e(x: float) -> str:
    """1.3e-3 (two significant digits, short exponent)."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _stat(cell: dict[str, float] | None) -> str:
    if cell is None:
        return "—"
    return f"{_e(cell['median'])} [{_e(cell['q05'])}, {_e(cell['q95'])}]"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _rate(entry: dict[str, Any]) -> str:
    if entry.get("estimate") is None:
        return "—"
    lo, hi = entry["interval"]
    return f"{entry['estimate']:.2f} [{lo:.2f}, {hi:.2f}]"


def adjoint_tables(document: dict[str, Any]) -> list[Any]:
    """The per-depth table, the rates table and the notes."""
    spec, info = document["spec"], document["info"]
    law = law_entry(spec["law"]).label(spec, "name")
    f = spec["model"] if spec["model"] == "linear" else f"{spec['model']} {spec['activation']}"
    title = (f"adjoint: {spec['net']} ({info['memory_free_method']}), {law}, {f}, d = {spec['width']}, "
             f"{spec['samples']} draws, {info['step']}, {spec['dtype']} on {info['device']}")
    table = Table(title=escape(title), caption=escape(f"{CAPTION} ({info['memory_method']})"))
    table.add_column("N", justify="right")
    for q in LABELS:
        table.add_column(LABELS[q], justify="right", no_wrap=True)
    table.add_column("Δ", justify="right", no_wrap=True)
    table.add_column("memory exact", justify="right", no_wrap=True)
    table.add_column("memory-free", justify="right", no_wrap=True)
    for row in document["results"]:
        delta = row["smoothness_delta"]
        table.add_row(str(row["depth"]), *(_stat(row[q]) for q in LABELS), "—" if delta is None else f"{delta['median']:.3g}",
                      _bytes(row["memory_bytes"]["exact"]), _bytes(row["memory_bytes"]["adjoint"]))
    rates = Table(title="rates: error ∝ N^(−rate), measured [95 % bootstrap] beside the paper's upper bound")
    rates.add_column("error of")
    rates.add_column("measured rate", justify="right")
    rates.add_column("bound", justify="right")
    rates.add_column("measured ≥ bound", justify="center")
    for q in LABELS:
        entry = document["rates"][q]
        verdict = {True: "[green]yes[/]", False: "[red]no[/]", None: "—"}[entry["consistent_with_bound"]]
        rates.add_row(LABELS[q], _rate(entry), "—" if entry["bound"] is None else f"{entry['bound']:g} (bound)", verdict)
    delta = document["rates"]["smoothness_delta"]
    theory = "" if delta.get("theory") is None else f", law: {delta['theory']:g}"
    rates.add_row("Δ exponent (Δ ∝ N^−δ)", delta.get("note") or _rate(delta), escape(theory.lstrip(", ")), "")
    out: list[Any] = [table, rates]
    if document["results"]:
        out.append(f"bound basis: {escape(document['rates']['activation_error']['bound_basis'])}")
    memory = document.get("memory_exponent") or {}
    if memory:
        out.append(f"memory ∝ N^{memory['exact']:.2f} exact, N^{memory['adjoint']:.2f} memory-free")
    out.extend(f"[yellow]note:[/] {escape(n)}" for n in document["notes"])
    return out
