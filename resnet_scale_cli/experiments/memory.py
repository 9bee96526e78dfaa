"""Peak memory of a block of tensor code, measured, beyond what was held when the block began.

- CUDA: `torch.cuda.max_memory_allocated` after `reset_peak_memory_stats` (the caching
  allocator's own count, rounded to its blocks), minus the bytes allocated at the start.
- CPU (PyTorch keeps no allocation statistics there): a `TorchDispatchMode` sees every tensor
  operation, adds the bytes of each new storage an operation returns (views and in-place results
  share an input's storage and add nothing), and subtracts them when the last tensor of that
  storage is garbage-collected. The peak of that running count is the measurement: the bytes of
  tensors held at once. Buffers inside a kernel (e.g. a BLAS workspace) are not seen.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

CUDA_METHOD = "torch.cuda.max_memory_allocated"
CPU_METHOD = "tensor storage bytes held (every operation's new storages, until freed)"


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors in nested tuples, lists and dicts (an operation's arguments)."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


class _StorageMeter(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """No torch.compile runs here: skip wrapping the hook in dynamo's `disable`, whose first
        call imports torch._dynamo (seconds) and which costs time on every operation."""
        return False

    def __init__(self) -> None:
        super().__init__()
        self.refs: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.watch: dict[int, weakref.ref] = {}  # keeps the weak references (and their callbacks) alive
        self.current = 0
        self.peak = 0

    def _dropper(self, key: int) -> Callable[[weakref.ref], None]:
        def drop(ref: weakref.ref) -> None:
            self.watch.pop(id(ref), None)
            self.refs[key] -= 1
            if self.refs[key] == 0:
                del self.refs[key]
                self.current -= self.size.pop(key)

        return drop

    def __torch_dispatch__(self, func, types, args=(), kwargs=None) -> Any:
        out = func(*args, **(kwargs or {}))
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        inputs = None
        for t in outputs:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if key in self.refs:
                self.refs[key] += 1
            else:
                if inputs is None:
                    inputs = {a.untyped_storage().data_ptr() for a in _tensors((args, kwargs))}
                if key in inputs or storage.nbytes() == 0:
                    continue
                self.refs[key] = 1
                self.size[key] = storage.nbytes()
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            ref = weakref.ref(t, self._dropper(key))
            self.watch[id(ref)] = ref
        return out


class PeakMemory:
    """`with PeakMemory(device) as meter: ...` then `meter.peak_bytes` and `meter.method`."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.method = CUDA_METHOD if self.cuda else CPU_METHOD
        self.peak_bytes = 0
        self._meter: _StorageMeter | None = None
        self._base = 0

    def __enter__(self) -> "PeakMemory":
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            self._meter = _StorageMeter()
            self._meter.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device) - self._base)
        else:
            self._meter.__exit__(*exc)
            self.peak_bytes = int(self._meter.peak)
