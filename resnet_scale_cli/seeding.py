"""Reproducible random streams: every (cell, draw, purpose) gets its own generator.

A stream is a pure function of the root seed and coordinates, in the manner of numpy's
`SeedSequence(seed, spawn_key=...)`, so the random numbers never depend on batching, chunking,
execution order or resume (nor do results on the CPU; on CUDA, a batched product may round
differently at another batch count — docs/performance.md, "On CUDA").
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

#: purposes of the sub-streams of one weight draw
WEIGHTS_V, WEIGHTS_W, INPUTS, READOUT, PROBES = range(5)


def name_key(text: str) -> int:
    """A stable 32-bit integer for a name (Python's `hash` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def stream_seed(root_seed: int, key: tuple[int, ...]) -> int:
    """A 63-bit seed derived from the root seed and a tuple of non-negative coordinates."""
    sequence = np.random.SeedSequence(int(root_seed), spawn_key=tuple(int(k) for k in key))
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def generator(root_seed: int, key: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on `device` seeded from `stream_seed(root_seed, key)`."""
    gen = torch.Generator(device=device)
    gen.manual_seed(stream_seed(root_seed, key))
    return gen
