"""Spec fields declared once (`fields.Setting`): checks with one wording, grids, shared settings,
and a law's own parameters read from the registry."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pytest

from resnet_scale_cli import fields as F
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.experiments.adjoint import AdjointSpec
from resnet_scale_cli.experiments.inspect_spec import InspectSpec
from resnet_scale_cli.experiments.limit import LimitSpec
from resnet_scale_cli.experiments.spectrum import SpectrumSpec
from resnet_scale_cli.experiments.training_spec import TrainSpec
from resnet_scale_cli.spec import RunSpec

SPECS = (RunSpec, LimitSpec, SpectrumSpec, AdjointSpec, InspectSpec, TrainSpec)


@dataclass(frozen=True)
class Toy:
    depths: tuple[int, ...] = F.DEPTHS.field((2, 4))
    ratio: float = F.Setting(F.Real(0.0, 1.0), "r in (0, 1).", 0.5).field()
    scale: float = F.Setting(F.POSITIVE, "s > 0.", 1.0).field()
    kind: str = F.Setting(F.Choice(("alpha", "beta")), "a kind.", "alpha").field()
    count: int | None = F.Setting(F.Whole(3, 9)).field()

    def __post_init__(self) -> None:
        F.check_fields(self)


@pytest.mark.parametrize("changes,message", [
    (dict(ratio=1.0), "--ratio must be in the open interval (0, 1), got 1.0"),
    (dict(ratio=math.nan), "--ratio: expected a finite number, got nan"),
    (dict(ratio="x"), "--ratio: expected a number, got 'x'"),
    (dict(scale=0), "--scale must be positive, got 0"),
    (dict(kind="alpah"), "--kind: unknown value 'alpah'; did you mean 'alpha'? (choose from alpha, beta)"),
    (dict(count=2), "--count must be at least 3, got 2"),
    (dict(count=10), "--count must be at most 9, got 10"),
    (dict(count=True), "--count: expected a whole number, got True"),
    (dict(depths=(2, 0)), "--depth values must be at least 1, got 0"),
    (dict(depths=(2, 4, 2)), "--depth: repeated depth 2 is given twice; give each value once"),
    (dict(depths=()), "--depth: no values given"),
])
def test_each_check_refuses_with_one_line_naming_the_flag(changes, message):
    with pytest.raises(SpecError) as info:
        Toy(**changes)
    assert str(info.value) == message


def test_a_grid_takes_text_a_list_or_one_value_and_none_is_kept_where_it_is_the_default():
    assert Toy(depths="10:30:3").depths == (10, 20, 30)
    assert Toy(depths=[8, 2]).depths == (8, 2)  # a list is taken in its order (grids sort text only)
    assert Toy(depths=7).depths == (7,)
    assert Toy().count is None and Toy(count=3).count == 3


def test_every_spec_field_is_a_setting_with_its_own_key_and_flag():
    for spec in SPECS:
        found = list(F.settings_of(spec))
        plain = {f.name for f in dataclasses.fields(spec)} - {f.name for f, _ in found}
        assert plain <= {"block", "input_shape"}, (spec.__name__, plain)  # the argument and a shape parser
        keys = [setting.key for _, setting in found]
        assert len(set(keys)) == len(keys), spec.__name__
        assert all(setting.flag == "--" + setting.key.replace("_", "-") for _, setting in found), spec.__name__


def test_the_law_settings_of_every_spec_are_the_laws_own_declarations():
    """hurst, lengthscale and dist are declared once, by their law: every spec's default and check
    are the law's (a grid holds the one default value)."""
    from resnet_scale_cli.laws import LAWS

    declared = {s.name: s for law in LAWS.values() for s in law.parameters}
    assert {"hurst", "lengthscale", "dist", "fbm_backend"} <= set(declared)
    for spec in SPECS:
        for f, setting in F.settings_of(spec):
            if f.name in declared:
                default = declared[f.name].default
                assert f.default == ((default,) if setting.grid else default), (spec.__name__, f.name)
                assert setting.check == declared[f.name].check


def test_each_spec_takes_the_law_fields_its_engine_draws_with_after_the_law():
    """The law's fields sit right after `law` (after `init` for inspect); only `run` and its grids
    choose the fGn sampler; `spectrum` takes a grid of each law's sweep parameter."""
    law_names = {"dist", "lengthscale", "hurst", "fbm_backend"}
    expected = {RunSpec: ["dist", "lengthscale", "hurst", "fbm_backend"], LimitSpec: ["dist", "hurst", "lengthscale"],
                SpectrumSpec: ["dist", "hurst", "lengthscale"], AdjointSpec: ["dist", "lengthscale", "hurst"],
                InspectSpec: ["dist", "lengthscale", "hurst"], TrainSpec: ["dist", "lengthscale", "hurst"]}
    for spec, names in expected.items():
        fields = [f.name for f in dataclasses.fields(spec)]
        first = fields.index("init" if spec is InspectSpec else "law") + 1
        assert fields[first:first + len(names)] == names and law_names & set(fields) == set(names), spec.__name__
    grids = {f.name for f, setting in F.settings_of(SpectrumSpec) if setting.grid}
    assert {"hurst", "lengthscale"} <= grids and "dist" not in grids
    assert SpectrumSpec(law="fbm", hurst="0.3,0.7").hurst == (0.3, 0.7)


def test_a_law_from_outside_the_package_declares_its_parameter(monkeypatch):
    """An Ornstein–Uhlenbeck law with a rate θ > 0: its declaration gives a spec field with its
    default, flag, symbol and check."""
    from resnet_scale_cli.laws import LAWS, Law

    rate = F.Setting(F.POSITIVE, "OU mean-reversion rate θ > 0.", 2.0, panel=F.LAW, name="rate", symbol="θ")
    ou = Law("ou", "Ornstein–Uhlenbeck path", ("rate",), lambda *a: None, lambda *a: None, parameters=(rate,))
    monkeypatch.setitem(LAWS, "ou", ou)

    @dataclass(frozen=True)
    @F.law_fields(exclude=("fbm_backend",))
    class WithRate:
        law: str = F.LAW_NAME.field()
        seed: int = F.SEED.field()

        def __post_init__(self) -> None:
            F.check_fields(self)

    assert WithRate(law="ou").rate == 2.0
    assert list(F.keys_of(WithRate)) == ["law", "dist", "lengthscale", "hurst", "rate", "seed"]
    with pytest.raises(SpecError, match=r"^--rate must be positive, got -1$"):
        WithRate(law="ou", rate=-1)


def test_config_keys_are_the_flag_names_and_a_typo_gets_a_did_you_mean():
    from resnet_scale_cli.settings import build_experiment_spec

    spec, _ = build_experiment_spec(AdjointSpec, None, {"depth": "16,8", "memory_gb": 1.5, "net": "heunnet"})
    assert (spec.depths, spec.memory_gb, spec.net) == ((8, 16), 1.5, "heunnet")
    with pytest.raises(SpecError, match=r"unknown key 'dpeth'; did you mean 'depth'\?"):
        build_experiment_spec(LimitSpec, None, {"dpeth": "100,300"})
