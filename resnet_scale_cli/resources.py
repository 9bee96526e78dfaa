"""Memory a unit of work needs against the budget and what the device has: work too big is
refused before anything is allocated (a `SpecError`, exit 2) in one line naming the estimate,
what it counts and the flags that reduce it, instead of ending in an allocator error.

Every command states the least memory its smallest unit of work (one weight draw of a cell, or a
whole cell where draws are not split) needs, as a `Need` computed from its spec alone, and calls
`check_need` before any tensor exists. The need is compared with `--memory-gb` (the budget for
weights and stored activations; draws beyond the first are processed in chunks within it, so
they add nothing here) and with the free memory of the device (`available_bytes`).

The least a cell of `run`/`sweep`/`phase` needs is one weight draw, V (and W for the full
model): L·d² numbers each; the rows of one draw (β × inputs × (1 + tangent probes)) times d, a
few times over for temporaries; and, for the reverse pass, one √L-layer segment of σ' records.
The other commands' needs are next to their experiments (`experiments.spectrum.draw_need`,
`experiments.adjoint.cell_need`, `experiments.training_spec.cell_need`,
`experiments.inspect_block.draw_need`, `experiments.limit.draw_bytes`); `rscale sample`'s is
`sample_need` here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from resnet_scale_cli.errors import SpecError

if TYPE_CHECKING:
    from resnet_scale_cli.spec import RunSpec

#: temporaries per row of states (x, the pre-activation buffer, the update) in the layer step
STATE_COPIES = 4
GB = 2**30


def itemsize(dtype: str) -> int:
    return {"float32": 4, "float64": 8}[dtype]


@dataclass(frozen=True)
class Need:
    """The least memory of one unit of work: `bytes`; `where`, the settings it is for
    ("--depth 1000 --width 40: one weight draw"); `counts`, what the estimate holds; `reduce`,
    the flags that make it smaller ("--depth or --width")."""

    bytes: int
    where: str
    counts: str
    reduce: str


def check_need(need: Need, *, memory_gb: float | None, device: str, available: int | None = None) -> None:
    """Refuse (`SpecError`) a need above `memory_gb` GiB (None: no budget) or above the free
    memory of `device` (`available` bytes; None: read it with `available_bytes`)."""
    if memory_gb is not None and need.bytes > memory_gb * GB:
        raise SpecError(f"{need.where} needs about {need.bytes / GB:.3g} GB ({need.counts}), more than the "
                        f"--memory-gb {memory_gb:g} budget; reduce {need.reduce}, or raise --memory-gb")
    if available is None:
        available = available_bytes(device)
    if available is not None and need.bytes > available:
        raise SpecError(f"{need.where} needs about {need.bytes / GB:.3g} GB ({need.counts}), more than the "
                        f"{available / GB:.3g} GB free on {device}; reduce {need.reduce}")


def law_bytes(law: str, depth: int) -> int:
    """Memory a law's sampler holds for paths of length L besides the paths themselves, as the law
    declares it (`Law.held_bytes`: the RBF kernel's L × L matrices; nothing for iid, tied and fBm,
    whose FFTs are chunked within the weights' size)."""
    from resnet_scale_cli.laws import law_entry

    return law_entry(law).held_bytes(depth)


def cell_minimum_bytes(spec: "RunSpec") -> int:
    """The least memory one cell can run in: one draw's weights, its rows, a checkpoint segment."""
    size = itemsize(spec.dtype)
    from resnet_scale_cli.dynamics import MODELS

    weights = spec.depth * spec.width**2 * size * len(MODELS[spec.model].weights)
    rows = len(spec.betas) * spec.inputs_per_draw
    if spec.gradients and (spec.grad_method == "tangent" or (spec.grad_method == "auto" and spec.probes is not None)):
        rows *= 1 + (spec.probes if spec.probes is not None else spec.width)
    states = STATE_COPIES * rows * spec.width * size
    segment = math.isqrt(spec.depth) + 1
    records = segment * rows * spec.width * size if spec.gradients else 0
    return weights + states + records + law_bytes(spec.law, spec.depth)


def _held_what(law: str) -> str:
    from resnet_scale_cli.laws import law_entry

    what = law_entry(law).held_what
    return f", and {what}" if what else ""


def cell_need(spec: "RunSpec") -> Need:
    """`cell_minimum_bytes` with its description (a cell of `run`, `sweep`, `phase`)."""
    from resnet_scale_cli.dynamics import MODELS

    full = MODELS[spec.model].has_inner_weights
    return Need(cell_minimum_bytes(spec), f"--depth {spec.depth} --width {spec.width}: one weight draw",
                f"{'V and W' if full else 'V'}: L·d² numbers of {itemsize(spec.dtype)} bytes each, plus the states"
                + _held_what(spec.law),
                "--depth or --width" + (", or use --model simple" if full else ""))


def sample_need(spec: "RunSpec") -> Need:
    """`rscale sample`: the V entry paths of every draw, (draws, L, d²) in the spec's dtype, their
    transposed copy and their float64 copy for the statistics: draws·L·d²·(2·itemsize + 8)."""
    size = itemsize(spec.dtype)
    numbers = spec.samples * spec.depth * spec.width**2
    return Need(numbers * (2 * size + 8) + law_bytes(spec.law, spec.depth),
                f"--depth {spec.depth} --width {spec.width} --draws {spec.samples}",
                "the draws·L·d² entry paths of V, a transposed copy and a float64 copy", "--depth, --width or --draws")


def available_bytes(device: str) -> int | None:
    """Free memory of the device (CUDA: free device memory; CPU: MemAvailable), None if unknown."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(spec: "RunSpec", available: int | None = None) -> None:
    """Refuse a cell of `run`/`sweep`/`phase` whose least memory need exceeds `--memory-gb` or
    what the device has free."""
    check_need(cell_need(spec), memory_gb=spec.memory_gb, device=str(spec.torch_device()), available=available)
