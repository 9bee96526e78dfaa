"""What several test modules share: the repository's paths, a command's JSON document, the
contract of a usage error (exit 2, one line), check files written from their settings, and
`rscale` in a fresh interpreter (what `--help` imports)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
#: the MLP example block of examples/blocks.py (V first, W second, N(0, 1/d) moments)
MLP = f"{ROOT / 'examples' / 'blocks.py'}:mlp"


def document(cli: Callable[..., tuple[int, str, str]], *argv: str) -> dict:
    """`rscale ARGV --json` in process: it exits 0; returns its one JSON document."""
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"non-finite JSON constant {token}")


def _assert_finite(node: Any, where: str = "$") -> None:
    """Every number of a parsed JSON document is finite (Python's parser reads 1e400 as inf)."""
    if isinstance(node, dict):
        for key, value in node.items():
            _assert_finite(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _assert_finite(value, f"{where}[{i}]")
    elif isinstance(node, float):
        assert math.isfinite(node), f"non-finite number at {where}: {node}"


def finite_json(text: str) -> Any:
    """One JSON document that a strict parser accepts (ValueError on NaN or Infinity), every
    number in it finite (AssertionError naming the path otherwise)."""
    doc = json.loads(text, parse_constant=_refuse_constant)
    _assert_finite(doc)
    return doc


def assert_one_line_error(code: int, out: str, err: str, needle: str) -> None:
    """A usage error: exit 2, nothing on stdout, one line `rscale: error: …` on stderr naming `needle`."""
    assert code == 2 and out == "", (code, out, err)
    assert len(err.splitlines()) == 1 and err.endswith("\n") and err.startswith("rscale: error: "), err
    assert needle in err and "Traceback" not in err, err


def toml_value(value: Any) -> str:
    """A TOML literal: strings quoted, booleans lower case, lists bracketed, numbers as Python writes them."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return repr(value)


def check_toml(settings: dict[str, Any], *expectations: dict[str, Any]) -> str:
    """A check file: one `key = value` line per setting, then one `[[expect]]` table per expectation."""
    lines = "".join(f"{key} = {toml_value(value)}\n" for key, value in settings.items())
    for expectation in expectations:
        lines += "\n[[expect]]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in expectation.items())
    return lines


#: the grid of a tiny check: i.i.d. weights, L ∈ {4, 8}, β ∈ {1/2, 1}, d = 4, 4 samples on the CPU
TINY_CHECK = {"name": "tiny", "law": "iid", "depth": [4, 8], "beta": [0.5, 1.0], "width": 4, "samples": 4,
              "device": "cpu"}


def main_in_fresh_interpreter(*argvs: list[str], **run: Any) -> tuple[list[int], set[str], str]:
    """`main(argv)` for each argv in a new Python process (`run`: subprocess.run's cwd, env):
    returns the exit codes, which of torch, matplotlib and numpy got imported, and stdout."""
    script = ("import json, sys\nfrom resnet_scale_cli.cli import main\ncodes = []\n"
              f"for argv in {[list(a) for a in argvs]!r}:\n"
              "    try:\n        main(argv)\n    except SystemExit as e:\n        codes.append(e.code)\n"
              "heavy = [m for m in ('torch', 'matplotlib', 'numpy') if m in sys.modules]\n"
              "print(json.dumps({'codes': codes, 'imported': heavy}), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, **run)
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    return result["codes"], set(result["imported"]), proc.stdout
