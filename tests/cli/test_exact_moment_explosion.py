"""The exact-second-moment block in the explosion regime, through every command that prints it.

The ratios pass 10^300 there; every block of the output must stay finite and exact. Expected
values come from the closed form written here with mpmath, and from Jensen's inequality:
E[ln ratio²] ≤ ln E[ratio²], so the median log10 ratio sits below ½ log10 E[ratio²] (plus the
spread of a median of a few samples)."""

import mpmath
import pytest

from helpers import finite_json


def log10_exact(c: float, L: int, beta: float, minus_one: bool = True) -> float:
    mpmath.mp.dps = 40
    x = mpmath.mpf(L) * mpmath.log1p(mpmath.mpf(c) * mpmath.mpf(L) ** (-2 * mpmath.mpf(beta)))
    return float(mpmath.log10(mpmath.expm1(x) if minus_one else mpmath.exp(x)))


@pytest.mark.slow
def test_run_in_the_explosion_regime_is_exact_and_finite(cli):
    """The acceptance line: ratios ≈ 10^74.5 with nothing overflowed; log10 E[ratio²] exact to
    1e-9; the s.e. withheld as heavy-tailed (8 draws against a spread s ≈ 7 natural-log units)."""
    code, out, err = cli("run", "--law", "iid", "--depth", "4000", "--width", "40", "--beta", "0.1", "--samples", "8",
                         "--seed", "1", "--json")
    assert code == 0 and err == ""
    doc = finite_json(out)
    row = doc["results"][0]
    exact = log10_exact(0.5, 4000, 0.1)
    assert row["overflowed"] == 0
    for q in ("output", "gradient"):
        median = row[f"{q}_log10"]["median"]
        assert 70 < median < exact / 2, (q, median)  # Jensen, with room for the median of 8 samples
        block = row["exact_mean_square"][q]
        assert block["log10_exact"] == pytest.approx(exact, rel=1e-9)
        assert 2 * median <= block["log10_mean"] <= exact + 1.0  # a mean of ratio² is at least its median
        assert block["log10_stderr"] is None and block["z"] is None
        assert block["stderr_note"].startswith("heavy tails")


def test_run_table_names_why_no_standard_error(cli):
    code, out, err = cli("run", "--law", "iid", "--depth", "2000", "--width", "4", "--beta", "0,1", "--samples", "4",
                         "--seed", "0")
    assert code == 0 and err == ""
    assert "heavy tails" in out and "inf" not in out.replace("info", "")


@pytest.mark.parametrize("args", [
    ["run", "--law", "iid", "--beta", "0", "--depth", "2000", "--width", "8", "--samples", "4"],
    ["run", "--model", "linear", "--beta", "0.1", "--depth", "5000", "--width", "8", "--samples", "4"],
    pytest.param(["run", "--law", "iid", "--dist", "rademacher", "--beta", "0.05", "--depth", "3000", "--width", "8",
                  "--samples", "4"], marks=pytest.mark.slow),
    pytest.param(["sweep", "--law", "iid", "--beta", "0,0.5", "--depth", "100,2000", "--width", "8", "--samples", "4"],
                 marks=pytest.mark.slow),
    ["phase", "--law", "iid", "--depth", "100,3000", "--beta", "0:0.2:3", "--width", "4", "--samples", "2"],
    pytest.param(["spectrum", "--law", "iid", "--depth", "100,2000", "--beta", "0,0.5", "--width", "4", "--samples", "4"],
                 marks=pytest.mark.slow),
], ids=lambda a: " ".join(a[:3]))
def test_the_commands_of_the_report_exit_0_with_finite_json(cli, args):
    """The command lines that exited 3 (math range error, inf in JSON) now print one finite
    document, and the exact side of every block matches the closed form."""
    code, out, err = cli(*args, "--seed", "0", "--json")
    assert code == 0 and err == "", err
    doc = finite_json(out)
    rows = doc.get("results") or doc.get("cells")
    linear = "linear" in args
    c = 1.0 if linear else 0.5
    checked = 0
    for row in rows:
        block = row["exact_mean_square"]
        depth = row.get("depth", doc["spec"].get("depth"))
        if args[0] == "spectrum":
            assert block["gain"]["log10_exact"] == pytest.approx(log10_exact(c, depth, row["beta"], False), rel=1e-9)
            assert block["deviation"]["log10_exact"] == pytest.approx(log10_exact(c, depth, row["beta"]), rel=1e-9)
        else:
            assert block["output"]["log10_exact"] == pytest.approx(log10_exact(c, depth, row["beta"]), rel=1e-9)
        checked += 1
    assert checked == len(rows) > 0


@pytest.mark.slow
def test_an_exact_identity_check_in_the_explosion_regime_fails_as_not_testable(cli, tmp_path):
    """A check file at β = 0, L = 2000: exit 1 (a failed check, not a crash), finite JSON, the
    outcome's message saying why the z-test cannot be made."""
    path = tmp_path / "explode.toml"
    path.write_text('name = "explode"\nlaw = "iid"\nmodel = "full"\nactivation = "relu"\nwidth = 4\ndepth = 2000\n'
                    'beta = [0.0]\nsamples = 8\nseed = 0\ndevice = "cpu"\n'
                    '[[expect]]\ntype = "exact_identity"\nquantity = "output"\nbeta = 0.0\n')
    code, out, err = cli("check", str(path), "--json")
    assert code == 1 and err == ""
    doc = finite_json(out)
    outcome = doc["files"][0]["expectations"][0]
    assert outcome["passed"] is False and "not testable" in outcome["message"]
    assert outcome["exact"] == pytest.approx(log10_exact(0.5, 2000, 0.0), rel=1e-9)
