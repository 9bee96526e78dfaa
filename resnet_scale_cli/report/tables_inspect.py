"""Human output of `inspect`: the block's description, the cells, the regimes and critical β
(the tables of `sweep`/`phase`), and the depth coordinate check at a few positions k/L."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from resnet_scale_cli.report.fit import Table

from resnet_scale_cli.report.tables import MAX_TABLE_ROWS, _fmt, cells_table, regimes_table

#: depth coordinates t = k/L shown in the profile table
PROFILE_POSITIONS = (0.25, 0.5, 0.75, 1.0)


def block_line(spec: dict[str, Any]) -> str:
    """One line: the factory, its parameters, how it was batched and whether log-norms were carried."""
    carrying = ("log-norms carried (positively homogeneous)" if spec.get("log_norm_carrying")
                else "not homogeneous: overflow flagged, never rescaled")
    batching = spec.get("batching_used") or "?"
    if spec.get("batching_reason"):
        batching += f" ({spec['batching_reason']})"
    skipped = spec.get("profile_modules_unrecorded") or []
    return escape(f"block {spec['block']} → {spec.get('factory')}: {spec.get('parameters')} parameters, input shape "
                  f"{tuple(spec.get('input_shape_used') or ())}; batching {batching}; {carrying}"
                  + (f"; submodules never run (not profiled): {', '.join(skipped)}" if skipped else ""))


def _at(profile: dict[str, Any], key: str, t: float) -> float | None:
    """The profile value at the recorded position nearest t."""
    values = profile.get(key)
    if not values:
        return None
    i = min(range(len(profile["t"])), key=lambda j: abs(profile["t"][j] - t))
    return values[i]


def profile_table(profiles: list[dict[str, Any]]) -> Table:
    """log10 ‖h_k‖/‖h_0‖ (and ‖p_k‖/‖p_L‖) medians at t = k/L ∈ PROFILE_POSITIONS, per (L, β)."""
    caption = "depth coordinate check: median log10 ‖h_k‖/‖h_0‖ at t = k/L (gradient: ‖p_k‖/‖p_L‖); stable curves do not move with L"
    if len(profiles) > MAX_TABLE_ROWS:
        caption += f"; first {MAX_TABLE_ROWS} of {len(profiles)} shown (all in --json)"
    table = Table(title="profiles along depth", caption=caption)
    table.add_column("L", justify="right")
    table.add_column("β", justify="right")
    for t in PROFILE_POSITIONS:
        table.add_column(f"h t={t:g}", justify="right")
    has_gradient = any(p.get("gradient_log10") for p in profiles)
    if has_gradient:
        table.add_column("p t≈0", justify="right")
    for p in profiles[:MAX_TABLE_ROWS]:
        row = [str(p["depth"]), f"{p['beta']:g}"] + [_fmt(_at(p, "state_log10", t)) for t in PROFILE_POSITIONS]
        if has_gradient:
            row.append(_fmt(_at(p, "gradient_log10", 0.0)))
        table.add_row(*row)
    return table


def inspect_tables(document: dict[str, Any], elapsed_seconds: float, out=None) -> list:
    """What `inspect` prints: block line, cells, regimes per law setting, profiles, footer."""
    from resnet_scale_cli.report.figures_inspect import inspect_title
    from resnet_scale_cli.sweep import RESULTS, SUMMARY

    spec = document["spec"]
    rendered: list = [block_line(spec), cells_table(document["cells"], escape(inspect_title(spec)))]
    for entry in document["critical"]:
        rendered.append(regimes_table(entry, None))
        rendered.append("theory reference: the built-in models' (a comparison for a user block, not a theorem)")
    rendered.append(profile_table(document["profiles"]))
    rendered.append(f"{len(spec['depths'])} depths × {len(spec['betas'])} β in {elapsed_seconds:.1f} s; seed {spec['seed']}; "
                    f"device {spec.get('device')}, {spec['dtype']}")
    if out is not None:
        rendered.append(f"results: {out / RESULTS}; summary: {out / SUMMARY}")
    return rendered
