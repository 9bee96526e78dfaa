"""Issue 10 (CPU): a CPU pass split over worker threads by draws, and memory kept from pass to
pass, give the same values bit for bit as one pass on one thread; torch's thread count is
restored afterwards."""

import numpy as np
import pytest
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.experiments import cell
from resnet_scale_cli.laws import sample_weights
from resnet_scale_cli.spec import RunSpec

BASE = dict(law="fbm", depth=24, width=6, betas=(0.0, 0.5, 1.0, 1.3), samples=6, draws=3, device="cpu", seed=3)


def _values(specs):
    return [(m.values, m.overflowed) for m in cell.measure_group(specs)]


def _assert_same(a, b):
    assert len(a) == len(b)
    for (va, oa), (vb, ob) in zip(a, b):
        assert va.keys() == vb.keys()
        for q in va:
            np.testing.assert_array_equal(va[q], vb[q])
        np.testing.assert_array_equal(oa, ob)


@pytest.mark.parametrize("kw", [dict(), dict(grad_method="tangent"), dict(grad_method="tangent", probes=2),
                                dict(gradients=False), dict(dtype="float64"), dict(activation="tanh"),
                                dict(model="simple", activation="leaky_relu"), dict(memory_gb=1e-5),
                                dict(law="iid", grad_method="autograd")])
@pytest.mark.slow
def test_worker_split_is_bit_identical(monkeypatch, kw):
    specs = [RunSpec(**{**BASE, **kw, "hurst": h}) for h in (0.3, 0.6, 0.9)]
    monkeypatch.setattr(cell, "ROWS_PER_PART", 10**9)  # one part, on the calling thread
    alone = _values(specs)
    threads = torch.get_num_threads()
    parts = []
    real = cell._measure_pairs
    monkeypatch.setattr(cell, "_measure_pairs", lambda pairs, *a: parts.append(len(pairs)) or real(pairs, *a))
    monkeypatch.setattr(cell, "ROWS_PER_PART", 1)
    monkeypatch.setattr(cell, "MIN_ROWS_PER_WORKER", 1)
    for workers, sizes in ((1, [1] * 9), (2, [4, 5]), (4, [2, 2, 2, 3])):
        parts.clear()
        monkeypatch.setattr(cell, "CPU_WORKERS", workers)
        _assert_same(alone, _values(specs))
        # the stack of 3 settings × 3 draws, split (a tiny budget: one draw per pass already)
        assert sorted(parts) == ([1] * 9 if "memory_gb" in kw else sizes)
        assert torch.get_num_threads() == threads


def test_split_reports_every_layer_once(monkeypatch):
    """Only the calling thread reports progress, for the whole stack: the total is unchanged."""
    specs = [RunSpec(**{**BASE, "hurst": h}) for h in (0.3, 0.6)]
    monkeypatch.setattr(cell, "ROWS_PER_PART", 15)  # one worker: parts of 2 or 1 draws
    monkeypatch.setattr(cell, "MIN_ROWS_PER_WORKER", 1)
    for workers in (1, 2, 4):
        monkeypatch.setattr(cell, "CPU_WORKERS", workers)
        steps = []
        cell.measure_group(specs, steps.append)
        assert sum(steps) == sum(cell.progress_total(s) for s in specs)


def test_kept_memory_across_passes_is_bit_identical(monkeypatch):
    """A budget of one setting per pass: later passes write into the blocks (weights, σ') of the
    first; values equal each setting measured on its own."""
    specs = [RunSpec(**{**BASE, "hurst": h}) for h in (0.3, 0.6, 0.9)]
    alone = [(m.values, m.overflowed) for m in (cell.measure(s) for s in specs)]
    handed = []
    real = cell._Reuse.tensor

    def tensor(self, name, *args):
        t = real(self, name, *args)
        handed.append((name, t.data_ptr()))
        return t

    monkeypatch.setattr(cell._Reuse, "tensor", tensor)
    monkeypatch.setattr(cell, "_budget_draws", lambda spec: spec.n_draws)
    monkeypatch.setattr(cell, "CPU_WORKERS", 1)
    _assert_same(alone, _values(specs))
    assert sorted({name for name, _ in handed}) == ["V", "W", "masks"]
    for name in ("V", "W", "masks"):
        pointers = [ptr for n, ptr in handed if n == name]
        assert len(pointers) == 3 and len(set(pointers)) == 1, name  # one block, reused by passes 2 and 3


def test_sample_weights_into_a_slice():
    gens = lambda: [seeding.generator(1, (i,)) for i in range(3)]  # noqa: E731
    alone = sample_weights("fbm", 30, 4, gens(), layer_major=True, hurst=0.7)
    stack = torch.full((30, 5, 4, 4), 7.0)
    out = sample_weights("fbm", 30, 4, gens(), layer_major=True, hurst=0.7, out=stack[:, 1:4])
    assert torch.equal(out, alone) and torch.equal(stack[:, 1:4], alone)
    assert (stack[:, 0] == 7).all() and (stack[:, 4] == 7).all()
    with pytest.raises(ValueError):
        sample_weights("fbm", 30, 4, gens(), layer_major=True, hurst=0.7, out=stack[:, :2])
