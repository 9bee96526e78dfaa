"""The scripting contract across commands: one JSON document on stdout, progress and colour only
on a terminal, NO_COLOR and --no-color honored, results independent of the terminal."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here starts rscale in a subprocess (a terminal, pipes, stdin)

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--width", "4", "--samples", "4", "--device", "cpu"]
COMMANDS = {
    "run": ["run", "--depth", "20", *TINY],
    "sample": ["sample", "--depth", "64", "--width", "4", "--device", "cpu"],
    "sweep": ["sweep", "--depth", "10,20", "--beta", "0.5,1", *TINY],
    "phase": ["phase", "--depth", "10,20", "--beta", "0:1:3", *TINY],
}
CHECK = 'depth = [10, 20]\nbeta = [0.25, 1.0]\nwidth = 4\nsamples = 4\ndevice = "cpu"\n' \
        '[[expect]]\ntype = "regime"\nbeta = 1.0\nregime = "identity"\n'


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="160", **extra)
    return env


def _run(args, *, stdout_tty=False, stderr_tty=False, env=None, stdin=None):
    """Run rscale with stdout and/or stderr on a pseudo-terminal; returns (rc, stdout, stderr)."""
    fds = {}
    kwargs = {}
    for name, tty in (("stdout", stdout_tty), ("stderr", stderr_tty)):
        if tty:
            master, slave = pty.openpty()
            fds[name] = (master, slave)
            kwargs[name] = slave
        else:
            kwargs[name] = subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-m", "resnet_scale_cli", *args], env=env or _env(),
                            stdin=subprocess.PIPE, **kwargs)
    for _, slave in fds.values():
        os.close(slave)
    captured = {}
    for name, (master, _) in fds.items():
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        captured[name] = b"".join(chunks).decode(errors="replace")
    out, err = proc.communicate(input=stdin.encode() if stdin else None, timeout=300)
    return (proc.returncode, captured.get("stdout", out.decode() if out else ""),
            captured.get("stderr", err.decode() if err else ""))


def _strip(doc):
    doc.pop("elapsed_seconds", None)
    for f in doc.get("files", []):
        f.pop("elapsed_seconds", None)
    return doc


@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_is_one_document_and_stderr_is_silent_off_a_terminal(name):
    rc, out, err = _run([*COMMANDS[name], "--json"])
    assert rc == 0 and err == ""
    doc = json.loads(out)  # the whole of stdout is one document
    assert doc["command"] == name


@pytest.mark.parametrize("name", ["run", "sweep"])
def test_results_do_not_depend_on_a_terminal(name):
    rc1, piped, _ = _run([*COMMANDS[name], "--json"])
    rc2, with_tty, _ = _run([*COMMANDS[name], "--json"], stderr_tty=True)
    assert rc1 == rc2 == 0
    assert _strip(json.loads(piped)) == _strip(json.loads(with_tty))


def test_check_json_and_stdin(tmp_path):
    rc, out, err = _run(["check", "-", "--json"], stdin=CHECK)
    assert rc == 0 and err == "" and json.loads(out)["passed"] is True


def _has_colour(text: str) -> bool:
    """An SGR escape that sets a foreground or background colour (30–38, 40–48, 90–97, 100–107)."""
    import re

    for params in re.findall(r"\x1b\[([0-9;]*)m", text):
        for p in filter(None, params.split(";")):
            if 30 <= int(p) <= 38 or 40 <= int(p) <= 48 or 90 <= int(p) <= 107:
                return True
    return False


def test_colour_on_a_terminal_unless_no_color():
    rc, coloured, _ = _run(COMMANDS["run"], stdout_tty=True)
    assert rc == 0 and _has_colour(coloured)  # rich colours the table on a terminal …
    rc, plain, _ = _run(COMMANDS["run"], stdout_tty=True, env=_env(NO_COLOR="1"))
    assert rc == 0 and not _has_colour(plain) and "regime" in plain  # … none with NO_COLOR
    rc, plain, _ = _run([*COMMANDS["run"], "--no-color"], stdout_tty=True)
    assert rc == 0 and not _has_colour(plain)


def test_quiet_and_version():
    rc, out, err = _run([*COMMANDS["run"], "--quiet"], stderr_tty=True)
    assert rc == 0 and "layers" not in err
    rc, out, _ = _run(["--version"])
    assert rc == 0 and out.startswith("rscale ")


@pytest.mark.slow
def test_exit_codes_are_shared(tmp_path):
    wrong = CHECK.replace('regime = "identity"', 'regime = "explosion"')
    assert _run(["check", "-"], stdin=wrong)[0] == 1
    for name in COMMANDS:
        rc, out, err = _run([name, "--seed", "-1"])
        assert rc == 2 and out == "" and err.startswith("rscale: error: ") and "Traceback" not in err


def test_phase_config_from_stdin_keeps_its_values():
    rc, out, err = _run(["phase", "--config", "-", "--json"],
                        stdin='law = "iid"\ndepth = [10, 20]\nwidth = 3\nbeta = [0.5, 1]\nsamples = 4\ndevice = "cpu"\n')
    assert rc == 0 and err == ""
    spec = json.loads(out)["spec"]
    assert spec["depths"] == [10, 20] and spec["betas"] == [0.5, 1.0] and spec["samples"] == 4
