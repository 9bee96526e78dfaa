"""Output paths of every command: missing parent folders are created, as `mkdir -p` would; a
path whose folder cannot be made exits 2 with one line naming the flag, before any work."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import MLP, TINY_CHECK, assert_one_line_error, check_toml
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.outputs import output_file, output_folder

GRID = ["--depth", "6,12", "--width", "4", "--beta", "0.5,1", "--samples", "4", "--device", "cpu"]
#: each command with settings small enough to run in well under a second
COMMANDS = {
    "run": ["--depth", "12", "--width", "4", "--samples", "4", "--device", "cpu"],
    "sample": ["--depth", "12", "--draws", "1", "--lags", "3", "--device", "cpu"],
    "sweep": GRID,
    "phase": GRID,
    "limit": ["--depth", "8,16", "--width", "3", "--samples", "4", "--refinement", "2", "--device", "cpu"],
    "spectrum": ["--depth", "10,20", "--width", "3", "--samples", "4", "--device", "cpu"],
    "adjoint": ["--depth", "8,16", "--width", "6", "--samples", "3", "--device", "cpu"],
    "train": ["--depth", "4,8", "--width", "8", "--n-examples", "8", "--n-test", "16", "--steps", "6", "--samples", "2",
              "--track-points", "4", "--device", "cpu"],
    "inspect": [MLP, "--width", "4", "--depth", "6,12", "--beta", "0.5,1",
                "--samples", "4", "--device", "cpu", "--profile-points", "3"],
}
#: every output path flag: (command, flag, file name it writes under the folder)
FLAGS = [(c, "--plot", "fig.png") for c in COMMANDS] + [
    ("sweep", "--plot-hist", "hist.png"), ("inspect", "--plot-profiles", "profiles.png"),
] + [(c, "--out", "results") for c in ("sweep", "phase", "limit", "spectrum", "adjoint", "train", "inspect")]
CHECK = check_toml(TINY_CHECK, {"type": "statistic", "stat": "output_log10.median", "depth": 8, "beta": 1.0, "max": 10})


@pytest.fixture
def blocker(tmp_path) -> Path:
    """A regular file where a folder would have to go."""
    path = tmp_path / "blocker"
    path.write_text("a file, not a folder")
    return path


# ----------------------------------------------------------------------------- the helper
def test_output_file_creates_every_missing_parent(tmp_path):
    target = tmp_path / "a" / "b" / "c" / "r.xml"
    assert output_file(str(target), "--junit") == target
    assert target.parent.is_dir() and not target.exists()  # the folders, not the file
    assert output_file(target, "--junit") == target  # existing folders are fine
    assert output_file("r.xml", "--junit") == Path("r.xml")  # no folder part: the working directory


def test_output_folder_creates_the_folder_and_its_parents(tmp_path):
    folder = tmp_path / "runs" / "deep" / "out"
    assert output_folder(folder, "--out") == folder and folder.is_dir()


@pytest.mark.parametrize("below", [(), ("sub",), ("sub", "deeper")])
def test_a_file_in_the_way_is_refused_naming_it(blocker, below):
    message = f"{str(blocker)!r} is a file, not a folder"
    with pytest.raises(SpecError, match=f"^--plot: {message}$"):
        output_file(blocker.joinpath(*below, "fig.png"), "--plot")
    with pytest.raises(SpecError, match=f"^--out: {message}$"):
        output_folder(blocker.joinpath(*below, "results"), "--out")
    assert blocker.read_text() == "a file, not a folder"


def test_a_folder_given_for_a_file_is_refused(tmp_path):
    with pytest.raises(SpecError, match="--junit: .* is a folder"):
        output_file(tmp_path, "--junit")


def test_an_existing_file_is_refused_as_a_folder(blocker):
    with pytest.raises(SpecError, match="--out: .* is a file, not a folder"):
        output_folder(blocker, "--out")


# ----------------------------------------------------------------------------- every command
@pytest.mark.slow
@pytest.mark.parametrize("command,flag,name", FLAGS, ids=lambda x: x if isinstance(x, str) else None)
def test_every_output_flag_refuses_a_folder_it_cannot_make(cli, blocker, command, flag, name):
    """One line and exit 2 before any work (the command line's figures and folders are checked
    by the same helper), whatever the command."""
    code, out, err = cli(command, *COMMANDS[command], flag, str(blocker / "sub" / name))
    assert_one_line_error(code, out, err, flag)


@pytest.mark.parametrize("args,flag", [(["--junit", "{b}/sub/r.xml"], "--junit"),
                                       (["--baseline", "{b}/sub/b.json", "--update-baseline"], "--baseline")])
def test_check_refuses_a_report_folder_it_cannot_make(cli, tmp_path, blocker, args, flag):
    path = tmp_path / "c.toml"
    path.write_text(CHECK)
    code, out, err = cli("check", str(path), *[a.format(b=blocker) for a in args])
    assert_one_line_error(code, out, err, flag)


def test_check_creates_the_folders_of_junit_and_baseline(cli, tmp_path, monkeypatch):
    """The README's `rscale check … --junit reports/rscale.xml` in a fresh folder."""
    monkeypatch.chdir(tmp_path)
    Path("c.toml").write_text(CHECK)
    code, out, err = cli("check", "c.toml", "--junit", "reports/rscale.xml", "--baseline", "base/line/b.json",
                         "--update-baseline", "--json")
    assert code == 0 and err == "", err
    assert ET.parse("reports/rscale.xml").getroot().get("tests") == "1"
    assert json.loads(Path("base/line/b.json").read_text())["checks"]["tiny"]["seed"] == 0
    assert json.loads(out)["files"][0]["passed"] is True


@pytest.mark.slow  # a figure or a stored grid per command
@pytest.mark.parametrize("command,flag,name", FLAGS, ids=lambda x: x if isinstance(x, str) else None)
def test_every_output_flag_creates_missing_folders(cli, tmp_path, command, flag, name):
    target = tmp_path / "new" / "deeper" / name
    code, _, err = cli(command, *COMMANDS[command], flag, str(target), "--json")
    assert code == 0 and err == "", err
    if flag == "--out":
        assert (target / "summary.json").is_file()
    elif command == "train":  # <stem>_smoothness, <stem>_weights, <stem>_loss
        assert sorted(p.name for p in target.parent.iterdir()) == ["fig_loss.png", "fig_smoothness.png", "fig_weights.png"]
    else:
        assert target.stat().st_size > 0
