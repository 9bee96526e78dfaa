"""critical_beta outcomes name the reference of their (law, model, activation, ratio) and its
basis; the verdict stays on [min, max]. Expected references are written from SCIENCE.md here:
full model with an odd σ max(1/2, 2H − 1), i.i.d. full ReLU 1/2 (theorem), fBm gradient of the
full ReLU model none (no asymptotic line at finite (L, d))."""

import pytest

from resnet_scale_cli.checks import load_check
from resnet_scale_cli.checks.expectations import EXPECTATIONS

HEAD = """
law = "{law}"
model = "full"
activation = "{activation}"
{parameter}
width = 8
depth = [20, 40]
beta = [0.4, 0.6, 0.8]
samples = 4
device = "cpu"

[[expect]]
type = "critical_beta"
quantity = "{quantity}"
min = 0.0
max = 0.7
"""


@pytest.mark.parametrize("law,activation,parameter,quantity,value,basis", [
    ("fbm", "tanh", "hurst = 0.9", "output", max(0.5, 2 * 0.9 - 1), "first-order"),
    ("fbm", "relu", "hurst = 0.9", "output", 0.9, "first-order"),
    ("fbm", "relu", "hurst = 0.9", "gradient", None, "none"),
    ("iid", "relu", "", "gradient", 0.5, "theorem"),
])
def test_critical_beta_outcome_names_the_reference_and_its_basis(law, activation, parameter, quantity, value, basis):
    check = load_check("c.toml", HEAD.format(law=law, activation=activation, parameter=parameter, quantity=quantity))
    (exp,) = check.expectations
    setting = {"law": law, **({"hurst": 0.9} if law == "fbm" else {})}
    info = {"critical_beta": 0.75, "interval": [0.7, 0.8], "bound": None}
    critical = [{**setting, **info, "gradient": dict(info)}]
    got = EXPECTATIONS["critical_beta"].evaluate([], critical, exp.options, 8)
    assert got["reference"] == {"value": value, "basis": basis}
    assert not got["passed"]  # 0.75 > max = 0.7 whatever the reference says
    assert ("no reference holds here" if value is None else f"reference {value:g} ({basis})") in got["message"]


def test_a_block_check_has_no_reference_and_refuses_the_exact_identity(monkeypatch):
    """A check of a user's block (`block = …`) has no model or σ of the engine: its critical_beta
    outcome carries no reference, and an exact_identity expectation is refused (one line)."""
    from pathlib import Path

    from resnet_scale_cli.errors import SpecError

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    text = (root / "examples" / "check_mlp_block.toml").read_text()
    check = load_check("block.toml", text)
    assert all("reference" not in e.options for e in check.expectations)
    with pytest.raises(SpecError, match="not a user's block"):
        load_check("block.toml", text + '\n[[expect]]\ntype = "exact_identity"\nbeta = 0.5\ndepth = 100\n')


def test_with_several_hursts_the_reference_is_that_of_the_expectation_s_hurst():
    """fBm, full ReLU model, output ratio: reference H (as above); H = 0.9 of a grid [0.7, 0.9]."""
    text = HEAD.format(law="fbm", activation="relu", parameter="hurst = [0.7, 0.9]", quantity="output")
    check = load_check("c.toml", text.replace("max = 0.7\n", "max = 0.7\nhurst = 0.9\n"))
    (exp,) = check.expectations
    assert exp.options["setting"] == {"hurst": 0.9}
    assert exp.options["reference"] == {"value": 0.9, "basis": "first-order"}
