"""The `Law` protocol: a law defined in a test file alone (test_new_law_commands.py) — a stationary
Ornstein–Uhlenbeck path across depth — once registered, is sampled, labelled, referenced (or not) and refused a limit through the
registry, `analysis` and `report`, and unregistering it leaves the registry as it was.

The OU law: entry paths x_k = X(k/L), k = 1..L, of a stationary OU process with unit variance
and autocorrelation exp(−λ|s − t|), drawn exactly as the AR(1) recursion
x_1 ~ N(0, 1), x_{k+1} = ρ x_k + √(1 − ρ²) ε_k, ρ = exp(−λ/L).
"""

import dataclasses

import numpy as np
import pytest
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.analysis import theory
from resnet_scale_cli.analysis.autocorrelation import autocovariance
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import LAWS, law_entry, law_parameters, parameter_symbol, sample_paths, setting_label
from resnet_scale_cli.report import documents, tables_limit, tables_spectrum, tables_train
from resnet_scale_cli.report.fit import Table, _key_count

Z = 4.5  # standard errors: a false alarm about once in 10^5 comparisons


#: the law of test_new_law_commands.py: no references and no limit declared; Δ = max_k |x_{k+1} − x_k|
#: ≈ √(2λ/L): δ = 1/2
from test_new_law_commands import OU  # noqa: E402


@pytest.fixture
def ou(monkeypatch):
    monkeypatch.setitem(LAWS, "ou", OU)
    return OU


def gens(n):
    return [seeding.generator(2024, (7, i), "cpu") for i in range(n)]


def test_its_paths_follow_the_theory_within_their_sampling_error(ou):
    depth, n_paths, rate = 64, 4000, 3.0
    paths = sample_paths("ou", depth, n_paths, gens(1), ou_rate=rate, dtype=torch.float64)
    assert paths.shape == (1, depth, n_paths)
    emp, se = autocovariance(paths[0].T.numpy(), 8)
    lags = np.arange(9)
    closed_form = np.exp(-rate * lags / depth)  # written here, not read from the law
    np.testing.assert_allclose(np.asarray(law_entry("ou").autocorrelation(lags, depth, {"ou_rate": rate})),
                               closed_form, rtol=1e-13)
    assert np.all(np.abs(emp - closed_form) < Z * se), (emp, closed_form, se)
    # its default rate (declared once, in its parameter) is used when none is given
    default = sample_paths("ou", depth, 8, gens(1), dtype=torch.float64)
    assert torch.equal(default, sample_paths("ou", depth, 8, gens(1), dtype=torch.float64, ou_rate=2.0))
    from resnet_scale_cli.laws import theory_autocorrelation

    np.testing.assert_allclose(theory_autocorrelation("ou", lags, depth), np.exp(-2.0 * lags / depth), rtol=1e-13)


def test_its_labels_in_every_form(ou):
    setting = {"ou_rate": 2.5}
    assert [ou.label(setting, form) for form in ("title", "name", "fixed", "spaced", "compact", "parameter",
                                                 "parameter_compact")] == \
        ["ou (λ = 2.5)", "ou (λ = 2.5)", "ou", "ou λ = 2.5", "ou λ=2.5", "λ = 2.5", "λ=2.5"]
    assert ou.label({}) == "ou (λ = 2)"  # the declared default
    assert parameter_symbol("ou_rate") == "λ" and "ou_rate" in law_parameters()
    assert setting_label({"ou_rate": 2.5, "beta": 1.0}, compact=True, lead=" ") == " λ=2.5"
    spec = {"law": "ou", "ou_rate": 2.5, "dist": "gaussian", "model": "simple", "activation": "relu", "beta": 0.5,
            "width": 8, "samples": 4, "refinement": 4}
    assert tables_limit.limit_title(spec).startswith("ou (λ = 2.5), simple, relu")
    assert tables_spectrum.spectrum_title(spec | {"width": [8]}).startswith("ou, simple, relu")
    assert "λ = 2.5" not in tables_spectrum.spectrum_title(spec | {"width": [8]})
    table = Table("λ", "L", "value")
    assert _key_count(table, None) == 2  # its symbol identifies a row, as H and ℓ do


def test_the_report_documents_carry_its_parameter(ou):
    class Spec:
        law, ou_rate = "ou", 2.5

    stats = {"lags": [0, 1], "empirical": np.zeros(2), "stderr": np.zeros(2), "theory": np.ones(2), "mean": 0.0,
             "variance_times_width": 1.0, "hurst_estimate": None}
    document = documents.sample_document(Spec(), stats)
    assert document["law"] == "ou" and document["ou_rate"] == 2.5 and list(document)[:2] == ["law", "ou_rate"]


def test_it_declares_no_reference_and_no_exact_identity(ou):
    for quantity in ("output", "gradient"):
        ref = theory.reference("ou", quantity, model="full", activation="relu", ou_rate=2.0, width=8, depths=(10, 100))
        assert (ref.value, ref.basis, ref.prediction) == (None, "none", None)
        assert ref.label == "—" and ref.basis_dict()["kind"] == "none"
    assert theory.critical_beta_reference("ou") is None
    assert theory.exact_identity_factor("ou", "full", "relu") is None
    assert "independent across depth" in theory.exact_identity_refusal("ou", "full", "relu")


def test_its_smoothness_sets_the_heun_bound(ou):
    assert theory.adjoint_bound_rate("heunnet", "ou") == 1.5  # min(1 + δ, 2), δ = 1/2
    assert theory.adjoint_bound_rate("resnet", "ou") == 1.0
    assert "Δ = O(N^-0.5) for --law ou" in theory.adjoint_bound_basis("heunnet", "ou")


def test_a_law_without_a_limit_is_refused_with_one_line(ou):
    with pytest.raises(SpecError, match=r"^--law ou has no continuous-depth limit: none is declared for it$"):
        ou.limit_of({})
    with pytest.raises(SpecError, match="--law ou has no continuous-depth limit"):
        theory.limit_rate_reference("ou", ou_rate=2.0)
    limited = dataclasses.replace(OU, limit="its paths are Hölder-1/2, neither increments to refine nor Lipschitz")
    with pytest.raises(SpecError, match="no continuous-depth limit: its paths are Hölder-1/2"):
        limited.limit_of({})


def test_registered_laws_declare_a_limit_or_a_reason():
    """Every built-in law: a limit at its critical β, or a one-line reason (never a KeyError)."""
    for name, law in LAWS.items():
        try:
            limit = law.limit_of({})
        except SpecError as refusal:
            assert "\n" not in str(refusal)
            continue
        assert limit.kind in ("sde", "young", "ode") and limit.rate_range[0] <= limit.rate <= limit.rate_range[1]


def test_unregistering_leaves_the_registry_as_before():
    before = list(LAWS.items())
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(LAWS, "ou", OU)
        assert law_entry("ou") is OU and "ou_rate" in law_parameters()
    assert list(LAWS.items()) == before
    with pytest.raises(SpecError, match="--law: unknown value 'ou'"):
        law_entry("ou")
    assert setting_label({"ou_rate": 2.5}) == "" and "ou_rate" not in law_parameters()
    assert theory.reference("ou").statement == "no reference for law 'ou'"


def test_the_train_title_reads_its_label(ou):
    train = {"law": "ou", "ou_rate": 2.5, "model": "full", "activation": "tanh", "width": 8, "beta": 1.0, "data": "teacher",
             "n_examples": 4, "optimizer": "gd", "lr": 0.05, "lr_scaling": "depth", "steps": 3, "samples": 2}
    assert ", ou λ=2.5 init," in tables_train._title({"spec": train})
