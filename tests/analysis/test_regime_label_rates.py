"""The regime reading on real networks, where theory fixes the labels (i.i.d. weights: β < 1/2
explodes, β = 1/2 is critical, β > 1/2 tends to the identity), counted over seeds: a label is
expected from the theorem, never from the labelling function.

- `phase` reading (output ratio), depths 100/300/1000, β ∈ {1/4, 1/2, 1}, at d = 16 with 8 draws
  and d = 40 with 32 draws, 20 seeds each: β = 1/2 is labelled explosion or identity in at most
  1 of 20 seeds, β = 1/4 keeps explosion and β = 1 identity in 20 of 20
  (`python benchmarks/regime_labels.py` prints the same counts, the gradient ratio's and the
  point reading's beside them).
- `spectrum` reading (σ_max(J_L − I)): labels monotone in β from 1/4 to 3/2 at a fixed seed.
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _benchmark():
    spec = importlib.util.spec_from_file_location("rscale_benchmarks_regime_labels", ROOT / "benchmarks" / "regime_labels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("width, draws", [(16, 8), (40, 32)])
def test_critical_beta_is_never_confidently_mislabelled_over_20_seeds(width, draws):
    """Counts over seeds 0–19 of the output ratio's label per β. The point reading (slope
    against ±0.05 alone) read β = 1/2 as explosion or identity in 7 of 20 seeds at d = 16."""
    got = _benchmark().label_counts(width, draws, range(20), gradients=False)
    counts = got["counts"]["output interval"]
    false_at_half = counts["0.5"].get("explosion", 0) + counts["0.5"].get("identity", 0)
    assert false_at_half <= 1, counts
    assert counts["0.25"] == {"explosion": 20}, counts
    assert counts["1"] == {"identity": 20}, counts


ORDER = {"explosion": 0, "stable": 1, "identity": 2}


@pytest.mark.slow
def test_spectrum_labels_are_monotone_in_beta():
    """i.i.d. weights, full ReLU model, d = 4, 16 draws, L = 20, 60, 180, β = 0.25, 0.375, …, 1.5
    at seed 0: the labels read from σ_max(J_L − I), undetermined left aside, never go back
    (explosion → stable → identity only); the largest β reads identity. log σ_max, by contrast,
    tends to 0 as J_L → I and its trend reads stable again at large β."""
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec, run_spectrum

    betas = tuple(0.25 + 0.125 * i for i in range(11))
    spec = SpectrumSpec(depths=(20, 60, 180), betas=betas, width=(4,), samples=16, device="cpu", seed=0)
    (entry,) = run_spectrum(spec)["critical"]
    assert entry["quantity"] == "log10_deviation"
    labels = [r["regime"] for r in entry["regimes"]]
    ranks = [ORDER[label] for label in labels if label != "undetermined"]
    assert ranks == sorted(ranks), labels
    assert labels[-1] == "identity", labels
    assert entry["critical_beta"] is not None and 0.25 < entry["critical_beta"] < 1.0
    sigma = [r["regime"] for r in entry["sigma_max"]["regimes"]]
    assert sigma[-1] == "stable", sigma  # flat again as J_L → I: what the deviation corrects
