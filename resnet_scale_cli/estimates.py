"""What a command would do, from its spec alone, without measuring (`rscale COMMAND --dry-run`):
its cells, the memory of its largest unit of work against the budget, and a time estimate where
one is honest.

- `cells`: the grid cells (`count`) and, per cell, the samples and weight draws.
- `memory`: the largest `resources.Need` over the cells (each command's own cost model, the one
  its preflight refuses with), in bytes and GB, against `--memory-gb`; `refused` holds the line
  the run would stop with, else null. The free memory is read where that needs no torch (the
  CPU); a GPU's is read when the run starts.
- `time`: for the built-in engine (`run`, `sweep`, `phase`) a rough model of one intra-op thread,

      seconds ≈ SECONDS_PER_LAYER_STEP · (layer steps)
              + (multiply-adds) / MULTIPLY_ADDS_PER_SECOND
              + SECONDS_PER_WEIGHT · (weight numbers drawn),

  with multiply-adds = draws · L · rows · m·d² per forward pass (rows = β × inputs per draw ×
  (1 + tangent probes), m = 2 for the full model's V and W) and three passes' worth with the
  exact reverse gradient (forward, recomputation, backward). The constants were fitted on five
  `rscale run` settings on a busy 2-core x86-64 VM (torch 2.13 CPU build, `--threads 1`); on an
  idle machine runs take about half as long, on a GPU far less. The other commands (limit,
  spectrum, adjoint, train, inspect, sample) have no calibrated model: their `time` says
  "not estimated".
"""

from __future__ import annotations

import math
import sys
from typing import Any

from resnet_scale_cli.resources import GB, Need, check_need, itemsize
from resnet_scale_cli.errors import SpecError

#: the time model's constants (one thread of a busy 2-core x86-64 VM, torch 2.13 CPU build)
SECONDS_PER_LAYER_STEP = 5e-4
MULTIPLY_ADDS_PER_SECOND = 1e10
SECONDS_PER_WEIGHT = 2.5e-8
#: the commands of the built-in engine, whose time is estimated
ENGINE = ("run", "sweep", "phase")


def plan(command: str, spec: Any) -> dict[str, Any]:
    """`{"cells", "memory", "time"}` of `command` (a measuring command's name) for its spec
    (the `SweepSpec` of sweep, phase and sample; the command's own Spec otherwise)."""
    cells, needs = _cells_and_needs(command, spec)
    base = getattr(spec, "base", spec)
    return {"cells": cells, "memory": memory(needs, base.memory_gb, base.device),
            "time": engine_time(_engine_cells(command, spec)) if command in ENGINE else
            {"estimated": False, "seconds": None, "basis": f"not estimated: no calibrated time model for {command}"}}


def _engine_cells(command: str, spec: Any) -> list[Any]:
    """The RunSpec of every cell of run (itself), sweep and phase (the sweep's cells)."""
    return [spec] if command == "run" else list(spec.cells())


def _per_cell(spec: Any, **more: Any) -> dict[str, Any]:
    draws = spec.n_draws if hasattr(spec, "n_draws") else spec.samples
    return {"samples": spec.samples, "draws": draws, **more}


def _cells_and_needs(command: str, spec: Any) -> tuple[dict[str, Any], list[Need]]:
    """The cells block and the memory need of every cell (or of every draw's largest unit)."""
    from resnet_scale_cli import resources

    if command in ENGINE:
        cells = _engine_cells(command, spec)
        base = cells[0]
        return ({"count": len(cells), **_per_cell(base, betas=len(base.betas))},
                [resources.cell_need(c) for c in cells])
    if command == "sample":
        settings = spec.settings()
        return {"count": len(settings), "draws": spec.base.samples}, [resources.sample_need(s) for s in settings]
    if command == "limit":
        from resnet_scale_cli.experiments.limit import draw_bytes

        needs = [Need(draw_bytes(spec, L), f"--depth {L} --width {spec.width} --refinement {spec.refinement}: one draw",
                      "its weights, L·d² numbers each, and one block of fine step matrices",
                      "--depth, --width or --refinement") for L in spec.depths]
        return {"count": len(spec.depths), **_per_cell(spec)}, needs
    if command == "spectrum":
        from resnet_scale_cli.experiments.spectrum import draw_need

        several = len(spec.width) > 1  # the cells of `spectrum_cells`, without its preflight
        cells = [{**s, **({"width": w} if several else {}), "depth": int(L)}
                 for s in spec.settings() for w in spec.width for L in spec.depths]
        return {"count": len(cells), **_per_cell(spec, betas=len(spec.betas))}, [draw_need(spec, c) for c in cells]
    if command == "adjoint":
        from resnet_scale_cli.experiments.adjoint import cell_need

        return ({"count": len(spec.depths), **_per_cell(spec, batch=spec.batch)},
                [cell_need(spec, L) for L in spec.depths])
    if command == "train":
        from resnet_scale_cli.experiments.training_spec import cell_need

        return ({"count": len(spec.depths), "samples": spec.samples, "steps": spec.steps},
                [cell_need(spec, L) for L in spec.depths])
    if command == "inspect":  # the block is imported (torch) to count its parameters
        from resnet_scale_cli.experiments.inspect_block import depth_needs

        return {"count": len(spec.depths), **_per_cell(spec, betas=len(spec.betas))}, depth_needs(spec)
    raise ValueError(f"no dry-run plan for {command!r}")


def free_bytes(device: str) -> int | None:
    """Free memory of `device` where reading it needs no torch (the CPU; `auto` once torch is
    loaded anyway), else None."""
    from resnet_scale_cli.resources import available_bytes

    if device == "auto" and "torch" in sys.modules:
        from resnet_scale_cli.spec import resolve_device

        device = str(resolve_device(device))
    return available_bytes(device) if device == "cpu" else None


def memory(needs: list[Need], memory_gb: float, device: str) -> dict[str, Any]:
    """The largest need against the budget and the free memory (where known)."""
    need = max(needs, key=lambda n: n.bytes)
    free = free_bytes(device)
    try:
        check_need(need, memory_gb=memory_gb, device=device, available=free if free is not None else need.bytes)
        refused = None
    except SpecError as exc:
        refused = str(exc)
    return {"bytes": need.bytes, "gb": round(need.bytes / GB, 6), "budget_gb": memory_gb,
            "free_gb": round(free / GB, 3) if free is not None else None, "within_budget": need.bytes <= memory_gb * GB,
            "unit": need.where, "counts": need.counts, "refused": refused}


def engine_work(cell: Any) -> dict[str, int]:
    """Layer steps, multiply-adds and weight numbers of one cell of the built-in engine (the
    chunking of `experiments.cell`: as many draws at once as half the budget holds)."""
    from resnet_scale_cli.dynamics import MODELS

    m = len(MODELS[cell.model].weights)
    per_draw = cell.depth * cell.width**2 * itemsize(cell.dtype) * m
    chunk = min(cell.n_draws, max(1, int(cell.memory_gb * 2**29 // per_draw)))
    reverse = cell.gradients and (cell.grad_method == "reverse" or (cell.grad_method == "auto" and cell.probes is None))
    tangent = cell.gradients and not reverse
    rows = len(cell.betas) * cell.inputs_per_draw * (1 + ((cell.probes or cell.width) if tangent else 0))
    passes = 3 if reverse else 1
    return {"layer_steps": math.ceil(cell.n_draws / chunk) * cell.depth * (2 if reverse else 1),
            "multiply_adds": passes * cell.n_draws * cell.depth * rows * m * cell.width**2,
            "weight_numbers": cell.n_draws * cell.depth * m * cell.width**2}


def engine_time(cells: list[Any]) -> dict[str, Any]:
    """The time model of the module docstring, summed over the cells."""
    work = {k: sum(engine_work(c)[k] for c in cells) for k in ("layer_steps", "multiply_adds", "weight_numbers")}
    seconds = (SECONDS_PER_LAYER_STEP * work["layer_steps"] + work["multiply_adds"] / MULTIPLY_ADDS_PER_SECOND
               + SECONDS_PER_WEIGHT * work["weight_numbers"])
    return {"estimated": True, "seconds": round(seconds, 1), **work,
            "basis": (f"rough, one CPU thread: {SECONDS_PER_LAYER_STEP * 1e3:g} ms per layer step + multiply-adds at "
                      f"{MULTIPLY_ADDS_PER_SECOND / 1e9:g} G/s + {SECONDS_PER_WEIGHT * 1e9:g} ns per weight number "
                      "(fitted on a busy 2-core CPU; an idle one takes about half, a GPU far less)")}


def check_plan(checks: list[Any]) -> dict[str, Any]:
    """`rscale check --dry-run`: per check file its name, expectations, cells, memory and time
    (a check of a block, of `spectrum`, `adjoint` or `limit` is that command's grid; any other
    is the built-in engine's sweep)."""
    files = []
    for c in checks:
        sweep = c.sweep
        command = getattr(sweep, "command", None) or {"BlockSweep": "inspect", "SpectrumSweep": "spectrum"}.get(
            type(sweep).__name__, "sweep")
        spec = sweep if command == "sweep" else sweep.base
        files.append({"file": c.path, "name": c.name, "command": command, "spec": sweep.to_dict(),
                      "expectations": [{"type": e.type, "name": e.name} for e in c.expectations], **plan(command, spec)})
    return {"command": "check", "dry_run": True, "files": files}
