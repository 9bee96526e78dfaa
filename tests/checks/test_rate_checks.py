"""Check files for `rscale adjoint` and `rscale limit` (`command = ...`, `rate` expectations):
the verdict on synthetic fits whose numbers are written here, the refusals of malformed files
(one located line, exit 2 at the CLI), and a small real adjoint check end to end."""

import dataclasses

import pytest

from resnet_scale_cli.checks import load_check
from resnet_scale_cli.checks.expectations import EXPECTATIONS
from resnet_scale_cli.checks.rates import RATE_COMMAND_KEYS
from resnet_scale_cli.errors import SpecError


def _opts(**extra):
    return {"quantity": "output", "setting": {}, "min": None, "max": None, "reference": None,
            "rate": "activation_error", **extra}


def _fit(estimate, lo, hi, **ref):
    return [{"quantity": "activation_error", "estimate": estimate, "interval": [lo, hi], **ref}]


def _verdict(critical, **opts):
    return EXPECTATIONS["rate"].evaluate([], critical, _opts(**opts), 8)


def test_spec_keys_stay_in_step_with_the_commands_specs():
    from resnet_scale_cli.experiments.adjoint import AdjointSpec
    from resnet_scale_cli.experiments.limit import LimitSpec

    assert RATE_COMMAND_KEYS["adjoint"] == {f.name for f in dataclasses.fields(AdjointSpec)}
    assert RATE_COMMAND_KEYS["limit"] == {f.name for f in dataclasses.fields(LimitSpec)}


@pytest.mark.parametrize("hi,passed", [(2.2, True), (2.0, True), (1.99, False)])
def test_a_bound_holds_when_the_interval_reaches_it(hi, passed):
    """Bound rate 2 (reverse Heun, smooth weights): a rate may beat a bound, not fall short of it."""
    out = _verdict(_fit(1.8, 1.6, hi, bound=2.0), reference="bound")
    assert out["passed"] is passed
    assert out["measured"] == 1.8 and out["reference_value"] == 2.0


def test_a_bound_beaten_by_far_still_holds_and_a_missing_bound_fails():
    assert _verdict(_fit(3.0, 2.7, 3.2, bound=2.0), reference="bound")["passed"]
    out = _verdict(_fit(3.0, 2.7, 3.2, bound=None), reference="bound")
    assert not out["passed"] and "no bound" in out["message"]


@pytest.mark.parametrize("lo,hi,passed", [(0.4, 0.6, True), (0.5, 0.6, True), (0.51, 0.7, False), (0.3, 0.49, False)])
def test_a_theory_rate_must_lie_inside_the_interval(lo, hi, passed):
    critical = [{"quantity": "distance_max", "estimate": (lo + hi) / 2, "interval": [lo, hi], "theory": 0.5}]
    out = _verdict(critical, reference="theory", rate="distance_max")
    assert out["passed"] is passed
    assert ("theory 0.5 inside the interval" if passed else "theory 0.5 outside the interval") in out["message"]


@pytest.mark.parametrize("bounds,passed", [((1.5, None), True), ((1.81, None), False), ((None, 1.79), False),
                                           ((1.0, 2.0), True)])
def test_min_and_max_bound_the_estimate_and_combine_with_the_reference(bounds, passed):
    lo, hi = bounds
    assert _verdict(_fit(1.8, 1.6, 2.2, bound=2.0), min=lo, max=hi)["passed"] is passed
    # with the reference too: both must hold
    both = _verdict(_fit(1.8, 1.6, 1.9, bound=2.0), reference="bound", min=lo, max=hi)
    assert both["passed"] is False


def test_no_fit_fails_with_a_message():
    out = _verdict([{"quantity": "activation_error", "estimate": None, "interval": None}], reference="bound")
    assert not out["passed"] and "no rate" in out["message"]


ADJOINT = """name = "a"
command = "adjoint"
net = "heunnet"
law = "rbf"
width = 4
depth = [8, 16, 32]
samples = 4
dtype = "float64"
"""


@pytest.mark.parametrize("text,needle,line", [
    (ADJOINT + '[[expect]]\ntype = "regime"\nbeta = 0.5\nregime = "stable"\n', "does not apply to a check of command .adjoint.", 10),
    (ADJOINT + '[[expect]]\ntype = "rate"\nrate = "distance_max"\nreference = "bound"\n', "'rate' must be one of", 11),
    (ADJOINT + '[[expect]]\ntype = "rate"\nrate = "activation_error"\nreference = "theory"\n', "must be 'bound'", 12),
    (ADJOINT + '[[expect]]\ntype = "rate"\nrate = "activation_error"\n', "needs 'reference', 'min' or 'max'", 10),
    (ADJOINT.replace("[8, 16, 32]", "[8]") + '[[expect]]\ntype = "rate"\nrate = "gradient_error"\nmin = 1\n',
     "at least two depths", 10),
    ('name = "s"\nlaw = "iid"\ndepth = [10, 20]\n[[expect]]\ntype = "rate"\nrate = "activation_error"\nmin = 1\n',
     "needs command", 5),
    (ADJOINT.replace('"adjoint"', '"phase"') + '[[expect]]\ntype = "rate"\nmin = 1\n', "command must be", None),
])
def test_malformed_rate_checks_are_refused_naming_the_line(text, needle, line):
    with pytest.raises(SpecError, match=needle) as err:
        load_check("r.toml", text)
    if line is not None:
        assert str(err.value).startswith(f"r.toml:{line}:")


@pytest.mark.slow
def test_a_small_adjoint_check_runs_end_to_end_and_can_fail(tmp_path):
    """Reverse Heun with smooth weights: the activation error falls at least like the 1/N² bound
    (measured ≈ 3); the same fit cannot also be below 1.5, so that expectation fails."""
    from resnet_scale_cli.checks import run_checks

    text = (ADJOINT + '[[expect]]\ntype = "rate"\nrate = "activation_error"\nreference = "bound"\n'
            '[[expect]]\ntype = "rate"\nrate = "activation_error"\nmax = 1.5\n')
    run = run_checks([load_check("a.toml", text)])
    first, second = run.documents[0]["expectations"]
    assert first["passed"] and first["reference_value"] == 2.0, first["message"]
    assert not second["passed"] and second["measured"] > 1.5
    assert run.n_failed == 1


def test_a_small_limit_check_runs_end_to_end():
    """Euler on a smooth (RBF) weight path at β = 1: distance to the ODE limit ∝ L^-1 (as in
    sample_configs/checks/limit_rates.toml), theory rate 1 inside both fits' intervals; the
    document names its command and the progress reaches the bar's total."""
    from resnet_scale_cli.checks import run_checks
    from resnet_scale_cli.checks.runner import total_layers

    text = ('name = "l"\ncommand = "limit"\nlaw = "rbf"\nlengthscale = 0.5\nactivation = "tanh"\nbeta = 1.0\n'
            'width = 4\ndepth = [8, 16, 32]\nsamples = 4\ndtype = "float64"\n'
            '[[expect]]\ntype = "rate"\nrate = "distance_max"\nreference = "theory"\n'
            '[[expect]]\ntype = "rate"\nrate = "distance_final"\nreference = "theory"\n')
    check = load_check("l.toml", text)
    steps = []
    run = run_checks([check], progress=steps.append)
    (doc,) = run.documents
    assert doc["spec"]["command"] == "limit"
    for outcome in doc["expectations"]:
        assert outcome["passed"] and outcome["reference_value"] == 1.0, outcome["message"]
    assert sum(steps) == total_layers([check]) > 0
