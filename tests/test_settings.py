"""Settings: the precedence of defaults, config file and flags; spec validation naming the flag."""

import re

import pytest

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.settings import SETTINGS, build_spec, build_sweep, merge_settings
from resnet_scale_cli.spec import RunSpec, spec_from_mapping


def test_flags_override_the_config_which_overrides_the_defaults(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("width = 7\nsamples = 9\n")
    values = merge_settings(str(config), {"width": 3, "samples": None}, defaults={"samples": 24, "depth": 5})
    assert values == {"samples": 9, "depth": 5, "width": 3}


@pytest.mark.parametrize("flag,law", [("hurst", "fbm"), ("lengthscale", "rbf")])
def test_a_law_parameter_alone_implies_its_law(flag, law):
    assert merge_settings(None, {flag: 0.3})["law"] == law


def test_a_law_parameter_for_another_law_is_refused():
    with pytest.raises(SpecError, match="--hurst applies to --law fbm, not --law rbf"):
        merge_settings(None, {"hurst": 0.3, "law": "rbf"})


@pytest.mark.parametrize("field,value,flag", [
    ("depth", 0, "--depth"), ("width", 1.5, "--width"), ("hurst", 1.0, "--hurst"), ("lengthscale", -1.0, "--lengthscale"),
    ("samples", 0, "--samples"), ("law", "nope", "--law"), ("model", "x", "--model"), ("dtype", "float16", "--dtype"),
    ("memory_gb", 0, "--memory-gb"), ("seed", -1, "--seed"), ("betas", (-0.1,), "--beta"),
    # every flag is named exactly (the message starts with it), also for values of the wrong type
    ("dist", "cauchy", "--dist"), ("fbm_backend", "numpy", "--fbm-backend"), ("activation", "softplus", "--activation"),
    ("grad_method", "x", "--grad-method"), ("device", "tpu", "--device"), ("width", 0, "--width"),
    ("lengthscale", "wide", "--lengthscale"), ("hurst", "half", "--hurst"), ("memory_gb", "lots", "--memory-gb"),
    ("betas", ("x",), "--beta"), ("probes", 0, "--probes"), ("probes", 2.5, "--probes"), ("draws", 0, "--draws"),
    ("gradients", "yes", "--gradients"),
])
def test_every_bad_value_names_its_flag(field, value, flag):
    with pytest.raises(SpecError, match=f"^{re.escape(flag)}[: ]"):
        RunSpec(**{field: value})


def test_a_bad_beta_grid_in_a_mapping_names_the_beta_flag():
    with pytest.raises(SpecError, match="^--beta: "):
        spec_from_mapping({"beta": "0.5,abc"})


def test_the_smallest_valid_whole_numbers_are_accepted():
    """d = 1 (scalar networks), one probe, L = 1, one sample, seed 0 are valid; one below each is not."""
    spec = RunSpec(width=1, depth=1, samples=1, draws=1, probes=1, seed=0, grad_method="tangent")
    assert (spec.width, spec.depth, spec.samples, spec.draws, spec.probes, spec.seed) == (1, 1, 1, 1, 1, 0)
    for field, flag in [("width", "--width"), ("depth", "--depth"), ("samples", "--samples"), ("probes", "--probes"),
                        ("draws", "--draws")]:
        with pytest.raises(SpecError, match=f"^{flag} must be at least 1, got 0"):
            RunSpec(**{field: 0})


def test_law_settings_carry_every_law_setting_under_its_name():
    """The sampler, the theory curve and the label read the spec's own lengthscale, not the law's default 0.1."""
    import numpy as np

    from resnet_scale_cli.laws import LAWS
    from resnet_scale_cli.laws.registry import theory_autocorrelation

    spec = RunSpec(law="rbf", lengthscale=0.3, depth=20, dist="rademacher", hurst=0.7, fbm_backend="fbm")
    settings = spec.law_settings()
    assert settings == {"dist": "rademacher", "lengthscale": 0.3, "hurst": 0.7, "fbm_backend": "fbm"}
    lags = np.arange(5.0)
    expected = np.exp(-((lags / 20) ** 2) / (2 * 0.3**2))  # the RBF autocorrelation exp(-(k/L)^2 / (2 l^2))
    np.testing.assert_allclose(theory_autocorrelation("rbf", lags, 20, **settings), expected, rtol=1e-12)
    assert "0.3" in LAWS["rbf"].label(settings)


def test_draws_must_divide_samples_and_probes_need_tangents():
    with pytest.raises(SpecError, match="--draws"):
        RunSpec(samples=10, draws=3)
    with pytest.raises(SpecError, match="--probes"):
        RunSpec(probes=4, grad_method="reverse")


def test_config_keys_use_the_flag_names_and_unknown_keys_are_refused():
    spec = spec_from_mapping({"beta": "0.5,1", "grad-method": "tangent", "memory-gb": 1.0})
    assert spec.betas == (0.5, 1.0) and spec.grad_method == "tangent" and spec.memory_gb == 1.0
    with pytest.raises(SpecError, match="unknown key 'betta'"):
        spec_from_mapping({"betta": 1})


def test_every_spec_field_has_one_flag_in_the_settings_table():
    import dataclasses

    fields = {f.name for f in dataclasses.fields(RunSpec)} - {"betas"} | {"beta"}
    assert fields == set(SETTINGS)


def test_build_sweep_reads_grids_and_keeps_outputs_apart(tmp_path):
    sweep, outputs = build_sweep(None, {"hurst": "0.2,0.4", "depth": "10,20", "out": "somewhere"}, depths="5", betas="0.5")
    assert sweep.base.law == "fbm" and sweep.params == (0.2, 0.4) and sweep.depths == (10, 20)
    assert outputs == {"out": "somewhere"}
    config = tmp_path / "c.toml"
    config.write_text('law = "iid"\nlengthscale = "0.1,0.2"\n')
    with pytest.raises(SpecError, match="--lengthscale takes several values only with --law rbf"):
        build_sweep(str(config), {}, depths="5", betas="0.5")


def test_build_spec_names_the_config_file_in_errors(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("law = \"fbm\"\ncolour = 1\nhurst = 2.0\n")
    with pytest.raises(SpecError, match=f"--config {config}:2: unknown key 'colour'"):
        build_spec(str(config), {})
    config.write_text("law = \"fbm\"\n\nhurst = 2.0\n")
    with pytest.raises(SpecError, match=f"--config {config}:3: --hurst must be in"):
        build_spec(str(config), {})
    with pytest.raises(SpecError, match="^--hurst must be in"):  # a flag's error names the flag, not the file
        build_spec(str(config), {"hurst": 1.5})


def test_device_auto_picks_cuda_exactly_when_it_is_present(monkeypatch):
    import torch

    from resnet_scale_cli.spec import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # torch.device("cuda") needs no GPU to be built
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(SpecError, match="^--device cuda: CUDA is not available"):
        resolve_device("cuda")


def test_building_the_command_line_imports_neither_torch_nor_numpy():
    """Every command's options come from its spec's fields: the spec modules stay torch-free, so
    `--help` and value errors answer at once."""
    import subprocess
    import sys

    script = "import sys, resnet_scale_cli.cli; print('torch' in sys.modules or 'numpy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr


def test_a_key_typo_names_the_closest_key():
    from resnet_scale_cli.errors import did_you_mean

    with pytest.raises(SpecError, match=r"unknown key 'widht'; did you mean 'width'\?"):
        spec_from_mapping({"widht": 3})
    with pytest.raises(SpecError, match=r"unknown key 'zzz'$"):
        spec_from_mapping({"zzz": 3})
    assert did_you_mean("memory-gbs", ["memory_gb", "seed"]) == "; did you mean 'memory_gb'?"
