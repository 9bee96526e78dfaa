"""Human output of `rscale train`: one row per depth, then the exponent against its theory."""

from __future__ import annotations

import math
from typing import Any

from rich.markup import escape

from resnet_scale_cli.laws import law_entry
from resnet_scale_cli.report.fit import Table


def _stat(cell: dict[str, float] | None, fmt: str = ".3g") -> str:
    if cell is None:
        return "—"
    return f"{cell['median']:{fmt}} [{cell['q05']:.2g}, {cell['q95']:.2g}]"


def _title(document: dict[str, Any]) -> str:
    spec = document["spec"]
    law = law_entry(spec["law"]).label(spec, "compact")
    hidden = f", m={spec['hidden']}" if spec.get("hidden") else ""
    batch = f", batch {spec['batch_size']}" if spec.get("batch_size") else ""
    net = {"resnet": "ResNet", "heunnet": "HeunNet"}.get(spec.get("net", "resnet"), spec.get("net"))
    backprop = ", adjoint backprop" if spec.get("backprop") == "adjoint" else ""
    return (f"train: {net}{backprop}, {law} init, {spec['model']} {spec['activation']}, d={spec['width']}{hidden}, β={spec['beta']:g}; "
            f"{spec['data']} n={spec['n_examples']}; {spec['optimizer']} η={spec['lr']:g} ({spec['lr_scaling']}), "
            f"{spec['steps']} steps{batch}; {spec['samples']} networks per depth")


def train_table(document: dict[str, Any]) -> Table:
    metric = document.get("metric") or {"test_metric": "test metric", "loss": "loss"}
    table = Table(title=escape(_title(document)),
                  caption=f"median [5 %, 95 %] over networks; loss = {metric['loss']}, test metric = {metric['test_metric']}")
    for name in ("L", "max_{k,t} ‖Δθ‖", "initial loss", "final loss", f"test {metric['test_metric']}", "diverged"):
        table.add_column(name, justify="right", no_wrap=name != "diverged")
    for row in document["results"]:
        diverged = str(row["diverged"])
        if row["diverged_at"]:
            steps = sorted(set(row["diverged_at"]))
            diverged += f" (at step{'s' if len(steps) > 1 else ''} {', '.join(map(str, steps))})"
        table.add_row(str(row["depth"]), _stat(row["max_weight_increment"]), _stat(row.get("initial_loss")),
                      _stat(row["final_loss"]), _stat(row["test_metric"]), diverged)
    return table


def _interval(pair: list[float] | None) -> str:
    return "—" if pair is None else f"[{pair[0]:+.2f}, {pair[1]:+.2f}]"


def train_footer(document: dict[str, Any]) -> str:
    exp, regime = document["exponent"], document["regime"]
    if exp["estimate"] is None:
        lines = [f"exponent: no fit ({exp['note']})"]
    else:
        lines = [f"exponent of max_{{k,t}} ‖θ_{{k+1}}(t) − θ_k(t)‖ against L: {exp['estimate']:+.3f} "
                 f"{_interval(exp['interval'])} ({exp['level']:.0%} bootstrap over networks)"]
        if exp.get("paired_interval"):
            lines[-1] += f", paired across depths {_interval(exp['paired_interval'])}"
        update = exp.get("update") or {}
        # weights constant across depth at initialization (Δ = 0, e.g. tied): the same quantity
        if update.get("estimate") is not None and law_entry(document["spec"]["law"]).smoothness != math.inf:
            lines.append(f"exponent of what training changed, max_{{k,t}} ‖Δ(θ_k(t) − θ_k(0))‖: {update['estimate']:+.3f} "
                         f"{_interval(update['interval'])}")
        if exp["theory"] is not None:
            inside = "inside" if exp["theory_in_interval"] else "OUTSIDE"
            lines.append(f"theory: {exp['theory']:+g} ({inside} the interval) — {exp['basis']}")
        else:
            lines.append(f"theory: none stated — {exp['note']}")
    if exp["estimate"] is not None and exp["theory"] is not None and exp.get("note"):
        lines.append(exp["note"])
    if regime["pl"] is not None:
        state = "in" if regime["pl"] else "NOT in"
        lines.append(f"{state} the PL regime: hidden width m = {regime['hidden_width']} vs n = {regime['n_examples']} "
                     "training examples (m ≥ n makes the O(1/L) bound uniform in time)")
    rows = document["results"]
    info = rows[0].get("info", {}) if rows else {}
    if info.get("time_horizon") is not None:
        lines.append(f"rescaled time step η = {info['rescaled_time_step']:g}, horizon T = η·steps = {info['time_horizon']:g}; "
                     f"trained: {info['trained']}; fixed: {info['fixed']}")
    if info.get("end_layer_lr_factor", 1.0) != 1.0:
        lines.append(f"end layers θ_0 and θ_N take {info['end_layer_lr_factor']:g}× the step (Heun's trapezoid weights "
                     "s/2 at the ends: the step is the discretization of gradient flow in L²(0, 1))")
    errors = [(row["depth"], row.get("adjoint_gradient_error")) for row in rows]
    if any(e is not None for _, e in errors):
        lines.append("adjoint's relative gradient error at step 0 (median): "
                     + ", ".join(f"L = {L}: {e['median']:.2g}" for L, e in errors if e is not None))
    if document["diverged"]:
        lines.append(f"{document['diverged']} network(s) diverged (loss not finite or grown a million-fold); "
                     "they are left out of the statistics: lower --lr")
    return "\n".join(escape(line) for line in lines)


def limit_table(document: dict[str, Any]) -> Table:
    """`--limit-reference`: per depth, the distances to the trained reference, then the rates."""
    limit = document["limit"]
    table = Table(title=escape(f"distance to the trained reference of depth {limit['reference_depth']} at s = k/L"),
                  caption=escape("median [5 %, 95 %] over networks; weights: max_k ‖θ^L_k − θ^ref(k/L)‖_F, "
                                 "states: max_{k,x} ‖h^L_k − h^ref(k/L)‖/‖h_0‖"))
    for name in ("L", "weights", "states"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in limit["results"]:
        table.add_row(str(row["depth"]), _stat(row.get("weights")), _stat(row.get("states")))
    return table


def limit_footer(document: dict[str, Any]) -> str:
    lines = []
    for quantity, fit in document["limit"]["rates"].items():
        if fit is None:
            lines.append(f"rate of the {quantity} distance: no fit (a zero distance or fewer than two depths)")
            continue
        lo, hi = fit["interval"]
        theory = (f"theory {fit['theory']:g} ({'inside' if fit['theory_in_interval'] else 'OUTSIDE'} the interval)"
                  if fit.get("theory") is not None else f"no theory ({fit.get('note')})")
        lines.append(f"rate of the {quantity} distance (∝ L^-rate): {fit['estimate']:.3f} [{lo:.3f}, {hi:.3f}] "
                     f"({fit['level']:.0%} bootstrap over networks); {theory}")
    return "\n".join(escape(line) for line in lines)


def train_tables(document: dict[str, Any]) -> list:
    extra = [limit_table(document), limit_footer(document)] if document.get("limit") else []
    return [train_table(document), train_footer(document), *extra]
