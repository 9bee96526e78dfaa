"""The law settings of a grid measured in one pass give the same records, bit
for bit, as each setting measured alone (every draw keeps its own streams)."""

import json

import numpy as np
import pytest

from resnet_scale_cli.experiments import cell
from resnet_scale_cli.experiments.registry import run_sweep
from resnet_scale_cli.spec import RunSpec
from resnet_scale_cli.sweep import SweepSpec
from resnet_scale_cli.sweep.store import RESULTS

HURSTS = (0.3, 0.5, 0.7, 0.9)


def _records(path):
    return {json.dumps(r["cell"], sort_keys=True): r for r in map(json.loads, path.read_text().splitlines())}


def _sweep(**kw):
    base = dict(law="fbm", depth=16, width=6, betas=(0.25, 0.5, 1.0), samples=6, draws=3, seed=5)
    base.setdefault("device", "cpu")
    base.update(kw)
    return SweepSpec(RunSpec(**base), depths=(8, 16), params=HURSTS)


@pytest.mark.parametrize("kw", [dict(), dict(grad_method="tangent", probes=3), dict(model="full", gradients=False),
                                dict(law="rbf", grad_method="reverse")])
def test_sweep_records_identical_with_grouping_on_and_off(tmp_path, monkeypatch, kw, device):
    kw = dict(kw, device=device)  # on each available device: bit-identity holds per device
    law = kw.get("law", "fbm")
    sweep = _sweep(**kw) if law == "fbm" else SweepSpec(
        _sweep(**kw).base, depths=(8, 16), params=(0.05, 0.2, 1.0))
    calls = []
    real = cell._measure_settings
    monkeypatch.setattr(cell, "_measure_settings", lambda specs, *a: calls.append(len(specs)) or real(specs, *a))
    run_sweep(sweep, out=tmp_path / "on")
    assert max(calls) == len(sweep.params)  # every setting of a depth in one pass
    calls.clear()
    monkeypatch.setattr(cell, "GROUP_SETTINGS", False)
    run_sweep(sweep, out=tmp_path / "off")
    assert max(calls) == 1
    on, off = _records(tmp_path / "on" / RESULTS), _records(tmp_path / "off" / RESULTS)
    assert on.keys() == off.keys() and len(on) == len(sweep.params) * len(sweep.depths)
    for k in on:
        assert json.dumps(on[k], sort_keys=True) == json.dumps(off[k], sort_keys=True), k


def test_group_bounded_by_memory_budget(monkeypatch, device):
    """A budget of one setting's draws per pass measures settings alone; two per pass splits a
    group of four into two passes; values equal `measure` either way."""
    specs = [RunSpec(law="fbm", depth=12, width=5, betas=(0.5,), samples=4, draws=2, device=device, seed=1, hurst=h)
             for h in HURSTS]
    alone = [cell.measure(s) for s in specs]
    for per_chunk, passes in ((2, [1, 1, 1, 1]), (4, [2, 2]), (3, [1, 1, 1, 1])):
        calls = []
        real = cell._measure_settings
        monkeypatch.setattr(cell, "_budget_draws", lambda spec, n=per_chunk: n)
        monkeypatch.setattr(cell, "_measure_settings", lambda s, *a, real=real: calls.append(len(s)) or real(s, *a))
        grouped = cell.measure_group(specs)
        monkeypatch.undo()
        assert calls == passes
        for a, g in zip(alone, grouped):
            for q in a.values:
                np.testing.assert_array_equal(a.values[q], g.values[q])
            np.testing.assert_array_equal(a.overflowed, g.overflowed)


def test_group_refuses_mixed_specs():
    with pytest.raises(ValueError):
        cell.measure_group([RunSpec(law="fbm", depth=4, hurst=0.3), RunSpec(law="fbm", depth=8, hurst=0.3)])


def test_resume_after_partial_grouped_sweep(tmp_path):
    """Cells already stored are skipped; the rest are measured (grouped) to the same records."""
    sweep = _sweep()
    run_sweep(sweep, out=tmp_path / "full")
    full = (tmp_path / "full" / RESULTS).read_text().splitlines()
    (tmp_path / "part").mkdir()
    run_sweep(sweep, out=tmp_path / "part")
    lines = (tmp_path / "part" / RESULTS).read_text().splitlines(keepends=True)
    (tmp_path / "part" / RESULTS).write_text("".join(lines[:3]))
    run_sweep(sweep, out=tmp_path / "part", resume=True)
    assert sorted((tmp_path / "part" / RESULTS).read_text().splitlines()) == sorted(full)


def test_group_at_the_figure_7_width_is_bit_identical_to_each_setting_alone(device):
    """d = 40 (the products' K = 40 spans several of a GPU kernel's k-tiles, unlike the d ≤ 8 above):
    three Hurst indices' 5 draws in one pass against each alone, every record equal bit for bit."""
    specs = [RunSpec(law="fbm", hurst=h, depth=40, width=40, betas=(0.25, 0.75, 1.25), samples=10, draws=5,
                     model="full", activation="relu", device=device, seed=3) for h in (0.2, 0.5, 0.8)]
    grouped = cell.measure_group(specs)
    for spec, g in zip(specs, grouped):
        a = cell.measure(spec)
        for q in a.values:
            np.testing.assert_array_equal(a.values[q], g.values[q])
        np.testing.assert_array_equal(a.overflowed, g.overflowed)
