"""Memory a cell needs against what the device has: work too big for the machine is refused
before anything is allocated (a `SpecError`, exit 2), naming the estimate and the flags that
reduce it, instead of ending in an allocator error.

The least a cell of `run`/`sweep`/`phase` needs is one weight draw, V (and W for the full
model): L·d² numbers each; the rows of one draw (β × inputs × (1 + tangent probes)) times d, a
few times over for temporaries; and, for the reverse pass, one √L-layer segment of σ' records.
Draws beyond the first are processed in chunks within `--memory-gb`, so they add nothing here.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from resnet_scale_cli.errors import SpecError

if TYPE_CHECKING:
    from resnet_scale_cli.spec import RunSpec

#: temporaries per row of states (x, the pre-activation buffer, the update) in the layer step
STATE_COPIES = 4
GB = 2**30


def itemsize(dtype: str) -> int:
    return {"float32": 4, "float64": 8}[dtype]


def cell_minimum_bytes(spec: "RunSpec") -> int:
    """The least memory one cell can run in: one draw's weights, its rows, a checkpoint segment."""
    size = itemsize(spec.dtype)
    weights = spec.depth * spec.width**2 * size * (2 if spec.model == "full" else 1)
    rows = len(spec.betas) * spec.inputs_per_draw
    if spec.gradients and (spec.grad_method == "tangent" or (spec.grad_method == "auto" and spec.probes is not None)):
        rows *= 1 + (spec.probes if spec.probes is not None else spec.width)
    states = STATE_COPIES * rows * spec.width * size
    segment = math.isqrt(spec.depth) + 1
    records = segment * rows * spec.width * size if spec.gradients else 0
    return weights + states + records


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
    """Refuse a cell whose least memory need exceeds what the device has free."""
    need = cell_minimum_bytes(spec)
    if available is None:
        available = available_bytes(str(spec.torch_device()))
    if available is not None and need > available:
        raise SpecError(
            f"--depth {spec.depth} --width {spec.width}: one weight draw needs about {need / GB:.3g} GB "
            f"({'V and W' if spec.model == 'full' else 'V'}: L·d² numbers of {itemsize(spec.dtype)} bytes each, plus "
            f"the states), more than the {available / GB:.3g} GB free on {spec.torch_device()}; reduce --depth or "
            f"--width{', or use --model simple' if spec.model == 'full' else ''}")
