"""`rscale adjoint`'s measurement (experiments.adjoint): the spec's validation, the record and the
document, the rates against the paper's bounds and its qualitative claim (smooth weights help
Heun, not Euler), the measured memory, and --out/--resume through api.run_experiment."""

from __future__ import annotations

import json
import math

import pytest
import torch

from resnet_scale_cli import api
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.adjoint import AdjointSpec, measure_adjoint_cell, run_adjoint, summarize_adjoint
from resnet_scale_cli.experiments.memory import PeakMemory

SMALL = dict(width=8, samples=4, depths=(8, 16), device="cpu")


@pytest.mark.parametrize("changes,flag", [
    (dict(net="odenet"), "--net"), (dict(law="gp"), "--law"), (dict(model="deep"), "--model"),
    (dict(activation="softplus"), "--activation"), (dict(depths=()), "--depth"), (dict(depths=(0, 8)), "--depth"),
    (dict(depths=(8, 8)), "--depth"), (dict(width=0), "--width"), (dict(samples=0), "--samples"), (dict(batch=0), "--batch"),
    (dict(beta=-1.0), "--beta"), (dict(beta=math.inf), "--beta"), (dict(hurst=1.0), "--hurst"),
    (dict(lengthscale=0.0), "--lengthscale"), (dict(dtype="float16"), "--dtype"), (dict(seed=-1), "--seed"),
    (dict(width="8"), "--width"),
])
def test_bad_settings_name_their_flag(changes, flag):
    with pytest.raises(SpecError, match=flag):
        AdjointSpec(**changes)


def test_spec_to_dict_is_json_ready_and_takes_lists():
    spec = AdjointSpec(depths=[16, 32])
    assert spec.depths == (16, 32)
    assert json.loads(json.dumps(spec.to_dict()))["depths"] == [16, 32]


def test_record_is_json_ready_reproducible_and_independent_across_depths():
    spec = AdjointSpec(net="heunnet", law="rbf", lengthscale=0.3, **SMALL)
    record = measure_adjoint_cell(spec, 16)
    json.dumps(record, allow_nan=False)
    assert record["cell"] == {"depth": 16}
    assert record["info"]["weight_layers"] == 17 and record["info"]["step"] == pytest.approx(1 / 16)
    for q in ("activation_error", "gradient_error", "input_gradient_error", "smoothness_delta"):
        assert len(record["values"][q]) == 4
        assert set(record[q]) == {"median", "q05", "q95", "mean"}
    assert measure_adjoint_cell(spec, 16)["values"] == record["values"]
    assert measure_adjoint_cell(spec, 8)["values"]["smoothness_delta"] != record["values"]["smoothness_delta"]


def test_memory_free_backward_stays_flat_while_the_exact_one_stores_every_state():
    """Measured peak bytes: the exact backward holds the N + 1 states (samples × batch × d each),
    so its growth from N to N' is exactly (N' − N) states; the memory-free one does not grow."""
    spec = AdjointSpec(net="resnet", batch=2, **SMALL)
    low, high = (measure_adjoint_cell(spec, n)["memory_bytes"] for n in (8, 40))
    state = spec.samples * spec.batch * spec.width * 8
    assert high["exact"] - low["exact"] == 32 * state
    assert high["adjoint"] == low["adjoint"] < 9 * state


def test_peak_memory_meter_counts_live_storages_only():
    """8000 bytes kept; 20 temporaries of 8000 bytes, each made before the last is dropped (at
    most two alive); a view and an in-place update add nothing: peak 24000, not 168000."""
    before = torch.ones(10_000, dtype=torch.float64)  # held before the block: not counted
    with PeakMemory("cpu") as meter:
        kept = torch.zeros(1000, dtype=torch.float64)
        for _ in range(20):
            temporary = kept + 1.0
        view = kept[:10]
        kept.add_(1.0)
        before.mul_(2.0)
    assert meter.peak_bytes == 24000
    assert meter.method.startswith("tensor storage") and view.shape == (10,) and temporary.shape == (1000,)


@pytest.fixture(scope="module")
def documents():
    """Documents of five (net, law) settings at N = 16, 32, 64 (d = 12, 8 draws, ℓ = 0.3)."""
    out = {}
    for net, law in (("resnet", "iid"), ("resnet", "tied"), ("heunnet", "iid"), ("heunnet", "rbf"), ("heunnet", "tied")):
        spec = AdjointSpec(net=net, law=law, lengthscale=0.3, depths=(16, 32, 64), width=12, samples=8, device="cpu")
        out[net, law] = run_adjoint(spec)
    return out


@pytest.mark.slow
def test_every_measured_rate_is_at_least_the_bound(documents):
    """The paper's propositions are upper bounds: each measured rate's interval reaches the
    bound's rate (1 for reverse Euler and for Heun with i.i.d. weights, 2 for Heun with smooth
    or tied weights)."""
    bounds = {("resnet", "iid"): 1, ("resnet", "tied"): 1, ("heunnet", "iid"): 1, ("heunnet", "rbf"): 2, ("heunnet", "tied"): 2}
    for key, doc in documents.items():
        for q in ("activation_error", "gradient_error", "input_gradient_error"):
            rate = doc["rates"][q]
            assert rate["bound"] == bounds[key], (key, q)
            assert rate["interval"][0] <= rate["estimate"] <= rate["interval"][1]
            assert rate["consistent_with_bound"] and rate["interval"][1] >= rate["bound"], (key, q, rate)


@pytest.mark.slow
def test_smooth_weights_help_heun_not_euler(documents):
    """The paper's qualitative claim: with smooth or tied weights, reverse Heun recovers the
    activations faster in N than reverse Euler does, and faster than Heun with i.i.d. weights
    (disjoint 95 % intervals)."""
    def interval(net, law):
        return documents[net, law]["rates"]["activation_error"]["interval"]

    for law in ("rbf", "tied"):
        assert interval("heunnet", law)[0] > interval("heunnet", "iid")[1]
        assert interval("heunnet", law)[0] > interval("resnet", "tied")[1]
        assert interval("heunnet", law)[0] > interval("resnet", "iid")[1]
    assert documents["heunnet", "rbf"]["rates"]["smoothness_delta"]["interval"][0] > 0.8  # Δ ∝ 1/N
    assert documents["heunnet", "tied"]["rates"]["smoothness_delta"]["note"] == "Δ = 0: tied weights"


def test_summary_from_records_alone_and_its_notes():
    spec = AdjointSpec(net="resnet", law="iid", model="linear", dtype="float32", **SMALL)
    doc = run_adjoint(spec)
    again = summarize_adjoint(spec, list(reversed(doc["records"])))
    assert again["results"] == doc["results"] and again["rates"] == doc["rates"]
    assert [r["depth"] for r in doc["results"]] == [8, 16]
    assert doc["rates"]["input_gradient_error"]["estimate"] is None
    assert any("exactly zero" in n and "linear" in n for n in doc["notes"])
    assert doc["memory_exponent"]["adjoint"] == pytest.approx(0.0, abs=1e-9)
    relu = run_adjoint(AdjointSpec(activation="relu", beta=1.5, **{**SMALL, "depths": (8,)}))
    assert any("σ' jumps" in n for n in relu["notes"])
    assert relu["rates"]["activation_error"]["bound"] is None and relu["rates"]["activation_error"]["estimate"] is None


@pytest.mark.slow
def test_errors_near_the_dtype_resolution_are_flagged():
    spec = AdjointSpec(net="heunnet", law="tied", dtype="float32", width=8, samples=4, depths=(64, 128), device="cpu")
    doc = run_adjoint(spec)
    assert any("float32 resolution" in n and "--dtype float64" in n for n in doc["notes"])


def test_run_experiment_streams_and_resumes(tmp_path):
    spec = AdjointSpec(net="heunnet", law="iid", **SMALL)
    first = api.adjoint(spec, out=tmp_path / "run")
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["command"] == "adjoint" and summary["spec"]["depths"] == [8, 16]
    (tmp_path / "run" / "results.jsonl").write_text(lines[0] + "\n" + lines[1][:20])  # killed while writing
    resumed = api.adjoint(spec, out=tmp_path / "run", resume=True)
    for key in ("results", "rates", "memory_exponent", "notes"):
        assert resumed.document[key] == first.document[key]
    with pytest.raises(SpecError, match="--resume"):
        api.adjoint(spec.__class__(**{**spec.to_dict(), "depths": (8, 16), "width": 9}), out=tmp_path / "run", resume=True)
