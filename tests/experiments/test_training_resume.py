"""`api.train` over a grid of depths: a run killed in the middle of a depth resumes from its
checkpoint under --out and ends bit-identical (CPU) to an uninterrupted run."""

import json

import pytest
import torch

from resnet_scale_cli import api
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.training import TrainSpec, load_checkpoint

SPEC = dict(depths=(4, 8), width=8, n_examples=8, n_test=16, steps=12, samples=2, track_points=5, device="cpu")


class Killed(Exception):
    pass


def _kill_after(steps: int):
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] >= steps:
            raise Killed

    return progress


def _without_timing(rows):
    return [{k: v for k, v in row.items() if k != "info"} for row in rows]


@pytest.mark.parametrize("optimizer, batch_size, net, backprop", [
    ("gd", None, "resnet", "exact"), ("sgd", 4, "resnet", "exact"),
    ("gd", None, "heunnet", "exact"), ("sgd", 4, "heunnet", "adjoint"),
])
@pytest.mark.slow
def test_killed_run_resumes_bit_identical(tmp_path, optimizer, batch_size, net, backprop):
    spec = TrainSpec(**SPEC, optimizer=optimizer, batch_size=batch_size, net=net, backprop=backprop)
    whole = api.train(spec, out=tmp_path / "whole", checkpoint_every=3)
    # killed at step 8 of depth 8 (12 steps of depth 4, then 8 of depth 8): its last checkpoint is step 6
    with pytest.raises(Killed):
        api.train(spec, out=tmp_path / "cut", checkpoint_every=3, progress=_kill_after(12 + 8))
    cut = tmp_path / "cut"
    assert len((cut / "results.jsonl").read_text().splitlines()) == 1
    assert load_checkpoint(cut / "checkpoints" / "train-L8.pt")["step"] == 6
    with pytest.raises(SpecError, match="--resume"):
        api.train(spec, out=cut)
    resumed = api.train(spec, out=cut, resume=True, checkpoint_every=3)
    assert resumed.records[1]["info"]["resumed_from"] == 6
    assert _without_timing(resumed.document["results"]) == _without_timing(whole.document["results"])
    assert resumed.document["exponent"] == whole.document["exponent"]
    for depth in (4, 8):
        a = load_checkpoint(tmp_path / "whole" / "checkpoints" / f"train-L{depth}.pt")
        b = load_checkpoint(cut / "checkpoints" / f"train-L{depth}.pt")
        assert a["V"].shape[0] == depth + (net == "heunnet")  # θ_0..θ_N for the HeunNet
        for name in ("V", "W", "A", "B"):
            assert torch.equal(a[name], b[name]), (depth, name)
    summary = json.loads((cut / "summary.json").read_text())
    assert _without_timing(summary["results"]) == _without_timing(whole.document["results"])


def test_resnet_checkpoint_written_before_net_existed_resumes(tmp_path):
    """A checkpoint whose settings lack `net` (written before --net) is a ResNet's: it resumes
    under --net resnet and is refused under --net heunnet."""
    from resnet_scale_cli.experiments.training import measure_training_cell, save_checkpoint

    spec = TrainSpec(**{**SPEC, "steps": 4})
    whole = measure_training_cell(spec, 4, checkpoint_dir=tmp_path / "whole")
    path = tmp_path / "old" / "train-L4.pt"
    measure_training_cell(spec, 4, checkpoint_dir=tmp_path / "old")
    state = load_checkpoint(path)
    state["spec"].pop("net")
    save_checkpoint(path, state)
    again = measure_training_cell(spec, 4, checkpoint_dir=tmp_path / "old")
    assert again["values"] == whole["values"] and again["info"]["resumed_from"] == 4
    with pytest.raises(SpecError, match="net"):
        measure_training_cell(spec.replace(net="heunnet"), 4, checkpoint_dir=tmp_path / "old")


def test_run_training_matches_the_command_document():
    """`run_training` (for Python users) gives the document `api.train` builds, less the envelope."""
    from resnet_scale_cli.experiments.training import run_training

    spec = TrainSpec(**{**SPEC, "steps": 4})
    direct = run_training(spec)
    through_api = api.train(spec).document
    assert through_api["command"] == "train" and "versions" in through_api
    assert direct["spec"] == through_api["spec"] and direct["exponent"] == through_api["exponent"]
    assert _without_timing(direct["results"]) == _without_timing(through_api["results"])
