"""Every file under sample_configs/ (recursively) loads and validates for the command it names,
and a broken copy of each is refused with exit 2 naming the file and the line.

A settings file names its command in a comment, `# rscale <command> --config sample_configs/…`;
files under sample_configs/checks/ are check files. A new command's configs need a validator
below (the test fails, naming the file, until there is one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "sample_configs").rglob("*.toml"))
USAGE = re.compile(r"^#\s*rscale\s+([a-z]+)\s+--config\s+sample_configs/", re.M)


def _command(path: Path) -> str:
    if path.parent.name == "checks":
        return "check"
    found = USAGE.search(path.read_text())
    assert found, f"{path.name}: no '# rscale <command> --config sample_configs/…' line names its command"
    return found.group(1)


def _validate_grid(command: str):
    def validate(path: Path) -> None:
        from resnet_scale_cli.api import GRID_DEFAULTS
        from resnet_scale_cli.settings import build_sweep

        depths, betas, defaults = GRID_DEFAULTS[command]
        sweep, _ = build_sweep(str(path), {}, depths=depths, betas=betas, defaults=defaults)
        assert sweep.depths and sweep.base.betas and list(sweep.cells())

    return validate


def _validate_sample(path: Path) -> None:
    from resnet_scale_cli.settings import sample_sweep

    assert list(sample_sweep(str(path), {}).cells())


def _validate_check(path: Path) -> None:
    from resnet_scale_cli.checks.files import load_check

    check = load_check(str(path))
    assert check.expectations


def _validate_train(path: Path) -> None:
    from resnet_scale_cli.experiments.training_spec import TrainSpec
    from resnet_scale_cli.settings import build_experiment_spec

    spec, _ = build_experiment_spec(TrainSpec, str(path), {}, aliases={"depth": "depths"})
    assert len(spec.depths) >= 2


def _validate_adjoint(path: Path) -> None:
    from resnet_scale_cli.experiments.adjoint import AdjointSpec
    from resnet_scale_cli.settings import build_experiment_spec

    spec, _ = build_experiment_spec(AdjointSpec, str(path), {}, aliases={"depth": "depths"})
    assert len(spec.depths) >= 2


def _validate_limit(path: Path) -> None:
    from resnet_scale_cli.experiments.limit import LimitSpec
    from resnet_scale_cli.settings import build_experiment_spec

    spec, _ = build_experiment_spec(LimitSpec, str(path), {}, aliases={"depth": "depths"})
    assert len(spec.depths) >= 2


def _validate_spectrum(path: Path) -> None:
    from resnet_scale_cli.experiments.spectrum import SpectrumSpec, spectrum_cells
    from resnet_scale_cli.settings import build_experiment_spec

    spec, _ = build_experiment_spec(SpectrumSpec, str(path), {}, aliases={"depth": "depths", "beta": "betas"})
    assert spec.depths and spec.betas and spectrum_cells(spec)


VALIDATORS = {"sweep": _validate_grid("sweep"), "phase": _validate_grid("phase"), "sample": _validate_sample,
              "check": _validate_check, "train": _validate_train, "adjoint": _validate_adjoint,
              "limit": _validate_limit, "spectrum": _validate_spectrum}


def test_there_are_sample_configs_and_checks():
    assert any(p.parent.name == "checks" for p in CONFIGS) and any(p.parent.name != "checks" for p in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "sample_configs")))
def test_sample_config_validates_for_its_command(path):
    command = _command(path)
    assert command in VALIDATORS, f"{path.name}: add a validator for `rscale {command}` configs to this test"
    VALIDATORS[command](path)


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "sample_configs")))
def test_a_broken_copy_exits_2_naming_file_and_line(path, tmp_path, cli):
    """A misspelt key appended as the file's last line: exit 2, one line, FILE:LINE."""
    command = _command(path)
    if command not in VALIDATORS:
        pytest.skip(f"no validator for {command}")
    text = path.read_text().rstrip("\n")
    # a top-level key must come before the first [[table]] of a check file
    head, sep, tail = text.partition("\n[[")
    broken_text = head + "\nsampels = 3" + (sep + tail if sep else "") + "\n"
    line = head.count("\n") + 2
    broken = tmp_path / path.name
    broken.write_text(broken_text)
    args = [command, str(broken)] if command == "check" else [command, "--config", str(broken)]
    code, out, err = cli(*args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"{broken}:{line}: " in err and "sampels" in err
