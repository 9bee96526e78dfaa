"""`rscale phase` at a single depth: regimes from the ±1 log-ratio thresholds (as `run` reads
them), labelled "single depth" in the table, `regime_basis: "threshold"` in the JSON, a figure."""

import json

import numpy as np
import pytest

from resnet_scale_cli.cli import main

SMALL = ["--samples", "4", "--width", "8", "--beta", "0,0.5,0.7,1.3", "--device", "cpu"]


def call(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.mark.slow
def test_single_depth_phase_reads_regimes_from_thresholds(capsys, tmp_path):
    """`rscale phase --hurst 0.7 --depth 1000` (smaller samples and width here): exit 0, JSON
    `regime_basis: "threshold"` for both ratios, regimes equal to the documented reading of each
    median's interval against ±1, no critical β, a figure written."""
    figure = tmp_path / "single.png"
    code, out, err = call(capsys, "phase", "--hurst", "0.7", "--depth", "1000", *SMALL, "--json", "--plot", str(figure))
    assert code == 0, err
    doc = json.loads(out)
    (entry,) = doc["critical"]
    assert entry["regime_basis"] == "threshold" and entry["gradient"]["regime_basis"] == "threshold"
    assert entry["critical_beta"] is None and entry["pairwise"] == [] and entry["depths"] == [1000]
    assert entry["theory_reference"] == 0.7 and entry["theory_basis"]["kind"] == "first-order"
    for info, quantity in ((entry, "output_log10"), (entry["gradient"], "gradient_log10")):
        for reg, cell in zip(info["regimes"], doc["cells"]):
            lo, hi = (float("inf") if v is None else v for v in reg["median_interval"])
            assert lo <= cell[quantity]["median"] <= hi  # no overflow here: the median of the samples
            expected = ("explosion" if lo > 1 else "identity" if hi < -1 else "stable" if -1 <= lo and hi <= 1
                        else "undetermined")
            assert (reg["beta"], reg["regime"]) == (cell["beta"], expected)
    # one reading: the phase entry's output regimes are the cells' (what `rscale run` prints)
    assert [(r["regime"], r["median_interval"]) for r in entry["regimes"]] == [
        (c["regime"], c["median_interval"]) for c in doc["cells"]]
    assert [r["regime"] for r in entry["regimes"]][0] == "explosion"  # β = 0 at L = 1000
    assert figure.stat().st_size > 0


def test_single_depth_phase_table_says_single_depth(capsys):
    code, out, err = call(capsys, "phase", "--hurst", "0.7", "--depth", "300", *SMALL, "--quiet")
    assert code == 0, err
    assert "single depth" in out and "thresholds" in out.replace("\n", " ") or "< −1 identity" in out


def test_trend_phase_says_trend_and_reports_pairwise_crossings(capsys):
    code, out, err = call(capsys, "phase", "--law", "iid", "--depth", "20,40,80", *SMALL, "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["critical"]
    assert entry["regime_basis"] == "trend"
    assert [p["depths"] for p in entry["pairwise"]] == [[20, 40], [40, 80]]
    for p in entry["pairwise"] + entry["gradient"]["pairwise"]:
        assert set(p) == {"depths", "critical_beta", "interval", "bound"}
        lo, hi = p["interval"]
        if p["critical_beta"] is not None and lo is not None and hi is not None:
            assert lo <= p["critical_beta"] <= hi
    assert entry["theory_basis"]["kind"] == "theorem" and "Marion" in entry["theory_basis"]["source"]
    assert entry["width"] == 8 and np.isclose(entry["theory_reference"], 0.5)
