"""`rscale check`: expectations, baselines (false-alarm rate and power), JUnit, and the
scripting contract shared by every command."""

import io
import json
import math
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import MLP, TINY_CHECK, assert_one_line_error, check_toml
from resnet_scale_cli.checks import load_check, run_checks
from resnet_scale_cli.checks.runner import load_checks, total_layers
from resnet_scale_cli.errors import SpecError

SMALL = """
name = "small"
law = "iid"
depth = [30, 100]
beta = [0.25, 0.5, 1.0]
width = 12
samples = 12
device = "cpu"
{extra}
[[expect]]
type = "regime"
beta = 0.25
regime = "explosion"

[[expect]]
type = "statistic"
stat = "output_log10.median"
depth = 100
beta = 1.0
max = -0.3
"""



def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.slow
def test_passing_check_exits_0_and_junit_lists_every_expectation(capsys, tmp_path, cli):
    junit = tmp_path / "r.xml"
    code, out, _ = cli("check", write(tmp_path, SMALL.format(extra="")), "--junit", str(junit))
    assert code == 0 and "PASS" in out and "FAIL" not in out
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "0"
    assert len(root.findall("./testsuite/testcase")) == 2


@pytest.mark.slow
def test_wrong_expectation_exits_1_with_a_clear_message(capsys, tmp_path, cli):
    text = SMALL.format(extra="") + '\n[[expect]]\ntype = "regime"\nbeta = 1.0\nregime = "explosion"\nname = "wrong on purpose"\n'
    junit = tmp_path / "r.xml"
    code, out, _ = cli("check", write(tmp_path, text), "--junit", str(junit), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["passed"] is False and doc["summary"] == {"expectations": 3, "passed": 2, "failed": 1}
    failed = [e for e in doc["files"][0]["expectations"] if not e["passed"]]
    assert failed[0]["name"] == "wrong on purpose"
    assert "expected the output ratio at β = 1 to be explosion, measured identity" in failed[0]["message"]
    failure = ET.parse(junit).getroot().find(".//failure")
    assert "measured identity" in failure.get("message")


@pytest.mark.slow
def test_statistic_failure_names_value_and_bounds(capsys, tmp_path, cli):
    text = SMALL.format(extra="").replace("max = -0.3", "min = 5.0")
    code, out, _ = cli("check", write(tmp_path, text), "--json")
    assert code == 1
    message = [e for e in json.loads(out)["files"][0]["expectations"] if not e["passed"]][0]["message"]
    assert re.search(r"output_log10\.median at L = 100, β = 1 is -\d\.\d+, outside \[5, \+∞\]", message)


@pytest.mark.parametrize("text,line,fragment", [
    ('depth = 10\nwidht = 3\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n', 2, "unknown key 'widht'"),
    ('depth = 10\n[[expect]]\ntype = "regim"\nbeta = 0.5\n', 3, "'type' must be one of"),
    ('depth = 10\nbeta = [0.5]\n[[expect]]\ntype = "statistic"\nstat = "output_log10.median"\nmaxx = 3\n', 6, "unknown key 'maxx'"),
    ('depth = 10\nhurst = 1.5\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n', 2, "--hurst"),
    ('depth = [10, 20]\nbeta = [0.5]\n\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n\n'
     '[[expect]]\ntype = "statistic"\nstat = "output.median"\ndepth = 10\nbeta = 0.5\nmax = 1\n', 11, "'stat' must be"),
    ('depth = 10\nbeta = [0.5]\n[[expect]]\ntype = "regime"\nbeta = 0.7\nregime = "stable"\n', 5, "not in the β grid"),
    ('depth = 10\nbeta = [0.5]\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "calm"\n', 6, "'regime' must be"),
    ('depth = 10\nbeta = [0.5]\n[[expect]]\ntype = "critical_beta"\nmin = 0.4\n', 4, "needs at least two depths"),
    # a key on the file's first line
    ('widht = 3\ndepth = 10\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n', 1, "unknown key 'widht'"),
    # the line of the table at fault, not the first table's line of the same key
    ('depth = 10\nbeta = [0.5]\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n[[expect]]\ntype = "regim"\n',
     8, "'type' must be one of"),
    ('depth = 10\nbeta = [0.5]\nwidth = 12\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\nwidth = 9\n',
     8, "not among the widths"),
    ('depth = 10\nbeta = [0.5]\nwidth = [8, 12]\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n',
     5, "say which width"),
    ('depth = [10, 20]\nbeta = [0.5]\n[[expect]]\ntype = "statistic"\nstat = "output_log10.median"\nbeta = 0.5\nmax = 1\n',
     4, "needs 'depth'"),
    ('depth = 10\nbeta = [0.5]\n[[expect]]\ntype = "theorem"\ntheorem = "iid-output-interval"\ndelta = 1.0\n',
     6, "'delta' must be in"),
    # errors of the settings: a flag with a hyphen (key written with '_'), a block's own error
    ('depth = 10\nmemory_gb = -1\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n', 2, "--memory-gb"),
    ('depth = 10\nblock = "nocolon"\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n', 2, "BLOCK must be"),
    # an empty block (its message ends in "--config", which is no key of the file)
    ('depth = [10, 20]\nblock = ""\n[[expect]]\ntype = "critical_beta"\n', 2, "BLOCK: name the block"),
    # settings errors that name the key, not a flag: a key another command takes
    ('command = "adjoint"\ndepth = "4,8"\ngradients = true\n[[expect]]\ntype = "rate"\n', 3, "unknown key 'gradients'"),
    ('command = "spectrum"\n\nprobes = 3\n[[expect]]\ntype = "critical_beta"\n', 3, "unknown key 'probes'"),
])
def test_malformed_check_exits_2_naming_file_and_line(capsys, tmp_path, text, line, fragment, cli):
    path = write(tmp_path, text)
    code, out, err = cli("check", path)
    assert code == 2 and out == ""
    assert err.startswith(f"rscale: error: {path}:{line}: ") and fragment in err and len(err.strip().splitlines()) == 1


def test_a_check_file_gives_its_grid_names_and_defaults():
    """The depth and β grids as written, an expectation's own `name`; without `depth` the default
    of `rscale run` (L = 1000, docs/commands.md, β = 0.5), and a theorem (no `beta`, no `depth`)
    reads β = 1/2 at that only depth."""
    check = load_check("c.toml", 'depth = [10, 20]\nbeta = [0.25, 1.0]\n[[expect]]\ntype = "regime"\nbeta = 1.0\n'
                                 'regime = "identity"\nname = "mine"\n')
    assert check.sweep.depths == (10, 20) and tuple(check.sweep.base.betas) == (0.25, 1.0)
    assert check.expectations[0].name == "mine"
    default = load_check("d.toml", '[[expect]]\ntype = "theorem"\ntheorem = "iid-output-interval"\n')
    assert default.sweep.depths == (1000,) and tuple(default.sweep.base.betas) == (0.5,)
    assert default.expectations[0].options["depth"] == 1000 and default.expectations[0].options["beta"] == 0.5


def test_load_checks_reads_stdin_once_and_overrides_seed_and_device(monkeypatch):
    text = 'depth = 10\n[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    (check,) = load_checks(["-"], seed=7, device="cpu")
    assert check.path == "<stdin>" and check.sweep.base.seed == 7 and check.sweep.base.device == "cpu"
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + text))
    with pytest.raises(SpecError, match="can be given once"):
        load_checks(["-", "-"])


def test_invalid_toml_and_missing_file_exit_2(capsys, tmp_path, cli):
    assert cli("check", write(tmp_path, "depth = [10\n"))[0] == 2
    assert cli("check", str(tmp_path / "none.toml"))[0] == 2
    assert cli("check", write(tmp_path, "depth = 10\n"))[0] == 2  # no [[expect]]


# ----------------------------------------------------------------------------- baselines
BASELINE_CHECK = SMALL.format(extra="") .replace("samples = 12", "samples = 16")


@pytest.mark.slow
def test_baseline_false_alarm_rate_and_power(capsys, tmp_path, cli):
    """Against a baseline made with seed 0, 20 runs with other seeds fail at most at the rate
    the 99 % confidence allows (P(≥ 3 of 20) < 0.002 at a 1 % rate), and a run with every β
    shifted by 0.1 fails."""
    path = write(tmp_path, BASELINE_CHECK)
    baseline = str(tmp_path / "baseline.json")
    code, _, _ = cli("check", path, "--baseline", baseline, "--update-baseline", "--json")
    assert code == 0
    stored = json.loads(Path(baseline).read_text())
    assert stored["checks"]["small"]["seed"] == 0 and len(stored["checks"]["small"]["statistics"]) == 2 * 3 * 2
    assert cli("check", path, "--baseline", baseline, "--json")[0] == 0  # same seed: identical
    failures = 0
    for seed in range(1, 21):
        code, out, _ = cli("check", path, "--baseline", baseline, "--seed", str(seed), "--json")
        failures += code != 0
    assert failures <= 2


@pytest.mark.slow
def test_baseline_catches_a_shift_of_beta_by_0_1(capsys, tmp_path, cli):
    """A baseline recorded by code whose β is off by +0.1 (stored under the original settings, as
    a regression in the code under test would be) fails the comparison."""
    original = write(tmp_path, BASELINE_CHECK)
    shifted_text = BASELINE_CHECK.replace("beta = [0.25, 0.5, 1.0]", "beta = [0.35, 0.6, 1.1]") \
        .replace("beta = 0.25", "beta = 0.35").replace("beta = 1.0", "beta = 1.1")
    # the regime expectation is not what this test is about: β = 0.35 at L = 30, 100 may read
    # "undetermined" (its slope interval reaches below +τ), which would fail the recording run
    shifted_text = shifted_text.replace('[[expect]]\ntype = "regime"\nbeta = 0.35\nregime = "explosion"\n', "")
    assert 'type = "regime"' not in shifted_text
    shifted = write(tmp_path, shifted_text, "shifted.toml")
    baseline = tmp_path / "baseline.json"
    assert cli("check", shifted, "--baseline", str(baseline), "--update-baseline", "--seed", "1")[0] == 0
    reference = tmp_path / "reference.json"
    assert cli("check", original, "--baseline", str(reference), "--update-baseline")[0] == 0
    data = json.loads(baseline.read_text())
    entry = data["checks"]["small"]
    entry["settings"] = json.loads(reference.read_text())["checks"]["small"]["settings"]
    relabel = {"β=0.35 ": "β=0.25 ", "β=0.6 ": "β=0.5 ", "β=1.1 ": "β=1 "}
    for stat in entry["statistics"]:
        for old, new in relabel.items():
            stat["key"] = stat["key"].replace(old, new)
    baseline.write_text(json.dumps(data))
    code, out, _ = cli("check", original, "--baseline", str(baseline), "--json")
    assert code == 1
    (outcome,) = [e for e in json.loads(out)["files"][0]["expectations"] if e["type"] == "baseline"]
    assert not outcome["passed"] and len(outcome["moved"]) >= 6 and "moved beyond" in outcome["message"]


def test_baseline_statistics_per_draw_means_and_their_standard_error():
    """Hand-computed: two draws of two inputs [0, 2 | 4, 6] give units 1 and 5, mean 3, s.e.
    sd(1, 5)/√2 = 2√2/√2 = 2; a single draw of three inputs [1, 2, 3] gives the samples as units,
    mean 2, s.e. 1/√3. A record without a β grid (adjoint, limit) and a β with an overflowed
    sample are skipped; keys name law, compact setting, L, β and quantity (stored in baselines)."""
    from resnet_scale_cli.checks.baseline import baseline_statistics

    records = [
        {"cell": {"law": "rbf", "depth": 8}, "values": {}},  # an adjoint/limit record: no betas
        {"cell": {"law": "fbm", "hurst": 0.7, "depth": 10}, "betas": [0.5, 1.0], "inputs_per_draw": 2,
         "values": {"output_log10": [[0.0, 2.0, 4.0, 6.0], [0.0, None, 1.0, 2.0]]}},
        {"cell": {"law": "iid", "depth": 20}, "betas": [0.25], "inputs_per_draw": 3,
         "values": {"gradient_log10": [[1.0, 2.0, 3.0]]}},
    ]
    assert baseline_statistics(records) == [
        {"key": "fbm H=0.7 L=10 β=0.5 output_log10.mean", "value": 3.0, "stderr": pytest.approx(2.0), "units": 2},
        {"key": "iid L=20 β=0.25 gradient_log10.mean", "value": 2.0, "stderr": pytest.approx(1 / math.sqrt(3)),
         "units": 3},
    ]


#: what both expectations of TINY read: the median log10 output ratio at L = 8, β = 1
MEDIAN_AT_L8 = {"type": "statistic", "stat": "output_log10.median", "depth": 8, "beta": 1.0}
TINY = check_toml(TINY_CHECK, {**MEDIAN_AT_L8, "width": 4, "max": 0.0},
                  {**MEDIAN_AT_L8, "min": 0.0, "name": "fails on purpose"})


def test_a_small_check_runs_end_to_end_with_baseline_junit_and_progress(tmp_path):
    """i.i.d. full ReLU at L = 8, β = 1: E[ratio²] = (1 + L^-2/2)^L − 1 ≈ 0.064 (exact identity),
    so the median log10 ratio is below 0 (P(ratio² ≥ 1) ≤ 0.064 by Markov) and `min = 0` fails.
    The progress reaches the total of the bar; the baseline is written (2 depths × 2 β × 2
    ratios), then the same seed compares equal; JUnit lists both expectations."""
    check = load_check("tiny.toml", TINY)
    with pytest.raises(SpecError, match="--confidence"):
        run_checks([check], confidence=1.0)
    (tmp_path / "file").write_text("a regular file where a folder would go")
    with pytest.raises(SpecError, match="--junit"):
        run_checks([check], junit=str(tmp_path / "file" / "r.xml"))
    baseline, junit, steps = tmp_path / "b.json", tmp_path / "reports" / "r.xml", []  # reports/ is created
    start = time.perf_counter()
    run = run_checks([check], baseline=str(baseline), update_baseline=True, junit=str(junit), progress=steps.append)
    wall = time.perf_counter() - start
    (doc,) = run.documents
    assert [e["passed"] for e in doc["expectations"]] == [True, False] and doc["passed"] is False
    assert run.n_failed == 1 and run.baseline_updated is True
    assert 0 <= doc["elapsed_seconds"] <= wall + 0.001
    assert sum(steps) == total_layers([check]) > 0
    stored = json.loads(baseline.read_text())["checks"]["tiny"]
    assert stored["seed"] == 0 and len(stored["statistics"]) == 2 * 2 * 2
    root = ET.parse(junit).getroot()
    assert root.get("tests") == "2" and root.get("failures") == "1"
    again = run_checks([check], baseline=str(baseline))
    outcome = again.documents[0]["expectations"][-1]
    assert outcome["type"] == "baseline" and outcome["passed"] and outcome["compared"] == 8
    assert again.baseline_updated is False
    other = load_check("other.toml", TINY.replace('"tiny"', '"other"'))
    with pytest.raises(SpecError, match="no baseline for check 'other'"):
        run_checks([other], baseline=str(baseline))


def test_block_and_spectrum_checks_advance_the_bar_to_its_total_and_name_their_command():
    """The grids of `rscale inspect` (block = …) and `rscale spectrum` (command = "spectrum"):
    progress reaches the total the bar is given; the spectrum document names its command, and
    `of = "condition"` is kept."""
    block = load_check("b.toml", f'block = "{MLP}"\nwidth = 4\ndepth = [3, 6]\n'
                                 'beta = [0.5]\nsamples = 2\nprofile_points = 2\ndevice = "cpu"\n'
                                 '[[expect]]\ntype = "statistic"\nstat = "output_log10.median"\nbeta = 0.5\n'
                                 'depth = 6\nmax = 10\n')
    spectrum = load_check("s.toml", 'command = "spectrum"\nlaw = "iid"\nwidth = 3\ndepth = [4, 8]\nbeta = [0.5, 1.0]\n'
                                    'samples = 2\ndevice = "cpu"\n[[expect]]\ntype = "spectrum_critical_beta"\n'
                                    'of = "condition"\nmin = 0\nmax = 10\n')
    assert spectrum.expectations[0].options["of"] == "condition" and "condition" in spectrum.expectations[0].name
    for check in (block, spectrum):
        steps = []
        run = run_checks([check], progress=steps.append)
        assert sum(steps) == total_layers([check]) > 0
        assert len(run.documents[0]["expectations"]) == 1
    assert run.documents[0]["spec"]["command"] == "spectrum"


def test_baseline_errors(capsys, tmp_path, cli):
    path = write(tmp_path, BASELINE_CHECK)
    code, _, err = cli("check", path, "--baseline", str(tmp_path / "none.json"))
    assert code == 2 and "--update-baseline" in err and str(tmp_path / "none.json") in err
    assert_one_line_error(*cli("check", path, "--update-baseline"), "--baseline")
