"""Property-based fuzzing of every parser of user input: grid strings, settings files and check
files. Whatever the input — wrong types at any key, not only wrong values — the result is a
valid value or a `SpecError` (the CLI's one-line exit 2), never another exception (exit 3).

Derandomized (a fixed seed) so that CI sees the same 200 inputs per parser every run."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_scale_cli.errors import SpecError

FUZZ = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ----------------------------------------------------------------------------- TOML writer
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
SCALARS = st.one_of(
    st.integers(-10**40, 10**40), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), TEXT,
    st.sampled_from(["iid", "fbm", "rbf", "tied", "full", "relu", "0:1:3", "10,20", "1:100:3:log", "auto",
                     "cpu", "float32", "-1", "0", "1e9", "0.5", "nan", "", "regime", "statistic"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(["a", "b", "beta"]), inner,
                                                                       max_size=2)), max_leaves=6)


def toml_value(value) -> str:
    """A Python value as TOML (inline arrays and tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_table(mapping: dict) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in mapping.items())


SETTING_KEYS = ["law", "dist", "hurst", "lengthscale", "model", "activation", "width", "depth", "beta", "samples",
                "draws", "seed", "device", "dtype", "gradients", "grad_method", "probes", "memory_gb", "fbm_backend",
                "out", "plot", "resume", "widht"]
VALID = {"law": "fbm", "hurst": 0.7, "depth": [10, 20], "beta": [0.5, 1.0], "width": 3, "samples": 2}
SETTINGS_FILES = st.dictionaries(st.sampled_from(SETTING_KEYS), VALUES, max_size=5).map(lambda d: {**VALID, **d})


# ----------------------------------------------------------------------------- grids
GRID_TEXT = st.one_of(
    TEXT,
    st.lists(st.one_of(st.floats(-1e3, 1e3).map(repr), st.integers(-5, 10**6).map(str),
                       st.sampled_from(["", "log", ":", "nan", "inf", "1e400", " "])), min_size=1, max_size=5)
    .map(":".join),
    st.lists(st.floats(-10, 10).map(repr), max_size=4).map(",".join),
)


@pytest.mark.slow
@FUZZ
@given(GRID_TEXT)
def test_float_grids_give_sorted_finite_values_or_a_spec_error(text):
    from resnet_scale_cli.grids import parse_float_grid

    try:
        values = parse_float_grid(text, "--beta")
    except SpecError as exc:
        assert str(exc).startswith("--beta") and "\n" not in str(exc)
        return
    assert values and all(math.isfinite(v) for v in values) and list(values) == sorted(set(values))


@FUZZ
@given(st.one_of(GRID_TEXT, st.integers(-10**30, 10**30), st.floats(), st.lists(SCALARS, max_size=4)))
def test_depth_grids_give_positive_integers_or_a_spec_error(value):
    from resnet_scale_cli.grids import parse_int_grid

    try:
        depths = parse_int_grid(value, "--depth")
    except SpecError as exc:
        assert "--depth" in str(exc) and "\n" not in str(exc)
        return
    assert depths and all(isinstance(d, int) and d >= 1 for d in depths)


# ----------------------------------------------------------------------------- settings files
@pytest.mark.slow
@FUZZ
@given(SETTINGS_FILES)
def test_settings_files_of_any_types_build_a_sweep_or_a_spec_error(tmp_path_factory, mapping):
    from resnet_scale_cli.settings import build_sweep

    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(toml_table(mapping))
    try:
        sweep, _ = build_sweep(str(path), {}, depths="10", betas="0.5")
    except SpecError as exc:
        assert "\n" not in str(exc)
        return
    assert sweep.depths and all(d >= 1 for d in sweep.depths)


# ----------------------------------------------------------------------------- check files
EXPECT_KEYS = ["type", "name", "quantity", "beta", "regime", "depth", "stat", "min", "max", "theorem", "delta",
               "hurst", "lengthscale", "typo"]
EXPECT_VALUES = st.one_of(VALUES, st.sampled_from(["regime", "statistic", "critical_beta", "theorem", "explosion",
                                                   "output_log10.median", "iid-output-interval", "gradient"]))
EXPECTS = st.lists(st.dictionaries(st.sampled_from(EXPECT_KEYS), EXPECT_VALUES, min_size=1, max_size=5),
                   min_size=0, max_size=3)


@pytest.mark.slow
@FUZZ
@given(SETTINGS_FILES, EXPECTS)
def test_check_files_of_any_types_load_or_give_a_located_spec_error(mapping, expects):
    from resnet_scale_cli.checks.files import load_check

    text = toml_table(mapping) + "".join("\n[[expect]]\n" + toml_table(e) for e in expects)
    try:
        check = load_check("fuzz.toml", text)
    except SpecError as exc:
        assert str(exc).startswith("fuzz.toml") and "\n" not in str(exc), str(exc)
        return
    assert check.expectations


@pytest.mark.parametrize("text", ["depth = [10\n", "\x00", "[[expect]]\n[[expect]]\n", "law = {a = 1}\n"])
def test_cli_answers_malformed_settings_with_one_line_and_exit_2(tmp_path, cli, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    for args in (["sweep", "--config", str(path)], ["check", str(path)]):
        code, out, err = cli(*args)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (args, err)
