"""Every `rscale …` command line of README.md and docs/*.md runs as written.

A documented line is a line of a code block (fenced, or indented by four spaces) that begins with
`rscale` once a leading `$ ` is stripped, or the `rscale …` part of `A && rscale …` (the part
before `&&` is setup such as `pip install`); lines ending in `\\` are joined with the next. Lines
marked `# illustration: …` in the docs name a reader's own files or stand for a family of
commands (`...`, `[--flag]`, placeholders such as NET): they are listed but not run, and
`test_unrunnable_lines_are_marked` makes sure no such line goes unmarked.

Each line runs through bash (`set -o pipefail`), so globs, `\\` continuations, `> file`
redirections and `| jq` pipes act as in a reader's shell; `rscale` there is this interpreter's
`python -m resnet_scale_cli`, its stdout also copied to a capture file. It runs in a temporary
folder per document that holds copies of sample_configs/ and examples/, so the files a line writes
(runs/, reports/, *.png) never land in the repository. Asserted: exit 0, nothing on stderr (stdout
and stderr are not terminals, so progress bars stay off), and with `--json` one JSON document on
stdout with no NaN or Infinity. Without jq installed, `| jq …` tails are dropped.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import CHILD_WARNINGS

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: copied into each document's working folder (the files documented lines read)
COPIED = ("sample_configs", "examples")
#: lines of code blocks that begin with `rscale` but are not command lines, with the reason
NOT_COMMANDS = {
    "rscale benchmarks (quick), device cpu": "the title of a benchmark table (output, not a command)",
}
#: seconds one documented line may take (a reader waits for it too)
TIMEOUT = 1800
ILLUSTRATION = re.compile(r"#[^\n]*\billustration\b")
#: fenced blocks that hold shell lines
SHELL_FENCES = ("", "sh", "bash", "shell", "console")
#: syntax a shell cannot run as written: elisions, optional flags, placeholders, variables
UNRUNNABLE = re.compile(r"\.\.\.|\[--|(?<![\w.-])[A-Z][A-Z_]{2,}(?![\w.-])|\$\w|\$\{")


@dataclass(frozen=True)
class Line:
    """One documented command line: where it is, the shell text, whether it only illustrates."""

    document: Path
    number: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.number}"

    @property
    def illustration(self) -> bool:
        return bool(ILLUSTRATION.search(self.text))

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    @property
    def fast(self) -> bool:
        """`--version` and `--help` lines: under a second, run in the fast tier."""
        return self.words in (["rscale", "--version"], ["rscale", "--help"]) or self.words[-1:] == ["--help"]


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the shell lines in code blocks: fenced (no language, sh, bash,
    console, shell), or indented by 4 spaces after a blank line. The lines of a `\\` continuation
    and of a `for … do … done` loop are joined (the number is the first line's)."""
    out: list[tuple[int, str]] = []
    fence: str | None = None  # the language of the open fence
    indented, previous_blank = False, True
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        if raw.lstrip().startswith("```"):
            fence = raw.lstrip()[3:].strip() if fence is None else None
            indented, previous_blank, pending = False, False, None
            continue
        if fence is None:
            if not raw.strip():
                previous_blank = True
                continue
            indented = raw.startswith(("    ", "\t")) and (indented or previous_blank)
            previous_blank = False
            if not indented:
                pending = None
                continue
        elif fence not in SHELL_FENCES:
            continue
        text = raw.strip()
        if pending is not None:
            loop = pending[1].startswith("for ")
            number, text = pending[0], pending[1] + ("\n" if loop else " ") + text
            pending = None
            if loop and not re.match(r"done\b", raw.strip()):
                pending = (number, text)
                continue
        if text.endswith("\\"):
            pending = (number, text[:-1].rstrip())
            continue
        if re.match(r"for .*;\s*do$", text):
            pending = (number, text)
            continue
        out.append((number, text))
    return out


def _command(text: str) -> str | None:
    """The `rscale …` command of a code line, or None: the line itself when it begins with
    `rscale` or feeds it a pipe (`printf … | rscale …`), the `rscale …` part of `A && rscale …`."""
    text = text.removeprefix("$ ")
    head, sep, tail = text.partition("&& rscale ")
    if sep:
        return "rscale " + tail
    if re.match(r"rscale(\s|$)", text) or re.search(r"\|\s*rscale\s", text) or re.match(r"for .*\brscale\s", text, re.S):
        return text
    return None


def candidates() -> list[Line]:
    """Every code line that begins with `rscale` (or pipes into it, or runs it after `&&`)."""
    return [Line(doc, number, command) for doc in DOCUMENTS for number, text in _code_lines(doc)
            if (command := _command(text)) is not None]


def _commands() -> set[str]:
    """The command names: functions of resnet_scale_cli/cli/ decorated with `@app.command()`
    (read from the source, so that collecting this module imports nothing of the package)."""
    names = set()
    for path in (ROOT / "resnet_scale_cli" / "cli").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any("app.command" in ast.unparse(d) for d in node.decorator_list):
                names.add(node.name)
    return names


def documented_lines() -> list[Line]:
    """The candidates that are command lines: `rscale` followed by an option or a command."""
    commands = _commands()

    def is_command(line: Line) -> bool:
        words = line.words
        after = words[words.index("rscale") + 1] if "rscale" in words[:-1] else ""
        return after.startswith("-") or after in commands

    return [line for line in candidates() if line.text not in NOT_COMMANDS and is_command(line)]


LINES = documented_lines()


# ----------------------------------------------------------------------------- the extractor
def test_the_extractor_finds_the_documented_lines():
    """A broken extractor cannot pass vacuously: the docs hold dozens of command lines, in
    README.md and in several docs, across most commands."""
    runnable = [line for line in LINES if not line.illustration]
    assert len(LINES) >= 50 and len(runnable) >= 40, len(LINES)
    assert {"README.md", "commands.md", "training.md", "scripting.md"} <= {line.document.name for line in LINES}
    assert {line.words[1] for line in runnable} >= {"run", "sample", "sweep", "phase", "check", "limit", "inspect",
                                                   "spectrum", "adjoint", "train", "--version"}
    quick = next(line for line in LINES if line.document.name == "README.md" and line.words[1:3] == ["check", "sample_configs/checks/*.toml"])
    assert quick.words[-2:] == ["--junit", "reports/rscale.xml"]


def test_code_lines_that_begin_with_rscale_are_commands_or_known_text():
    """A mistyped command (`rscale phaes`) is not silently left out: every other `rscale` code
    line is listed in NOT_COMMANDS with its reason."""
    kept = {(line.document, line.number) for line in LINES}
    others = {line.text for line in candidates() if (line.document, line.number) not in kept}
    assert others <= set(NOT_COMMANDS), others - set(NOT_COMMANDS)


def test_unrunnable_lines_are_marked():
    """Lines a shell cannot run as written (`...`, `[--flag]`, NET, "$h") say so to the reader
    with `# illustration: …`; marked lines are not run."""
    def unrunnable(line: Line) -> bool:
        text = " ".join(shlex.split(line.text, comments=True))
        return bool(UNRUNNABLE.search(re.sub(r"\$\w+", "", text) if line.text.startswith("for ") else text))

    unmarked = [line.id for line in LINES if not line.illustration and unrunnable(line)]
    assert not unmarked, unmarked


# ----------------------------------------------------------------------------- running them
@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    """One working folder per document (lines of a document may use what an earlier one wrote)."""
    made: dict[Path, Path] = {}

    def get(document: Path) -> Path:
        if document not in made:
            folder = tmp_path_factory.mktemp(document.stem)
            for name in COPIED:
                shutil.copytree(ROOT / name, folder / name)
            made[document] = folder
        return made[document]

    return get


def _strict(constant: str) -> float:
    raise ValueError(f"{constant} in a --json document")


def _shell_text(line: Line) -> str:
    text = line.text
    if shutil.which("jq") is None:
        text = re.sub(r"\s*\|\s*jq\b.*$", "", text)
    return text


def _run(line: Line, cwd: Path) -> tuple[subprocess.CompletedProcess, list[str], float]:
    """Run the line in bash at `cwd`: (the process, the stdout of each rscale call, seconds). Each
    call is `python -W error -m resnet_scale_cli` (warnings are errors, as in the suite) writing a
    capture file of its own, so a loop's calls are checked one by one."""
    capture = cwd / ".rscale-stdout"
    capture.mkdir(exist_ok=True)
    for old in capture.iterdir():
        old.unlink()
    warn = " ".join(shlex.quote(w) for w in CHILD_WARNINGS)
    prelude = ('set -o pipefail\n'
               f'rscale() {{ "$RSCALE_PYTHON" {warn} -m resnet_scale_cli "$@" | tee "$(mktemp "$RSCALE_CAPTURE/call.XXXXXX")"; '
               'return "${PIPESTATUS[0]}"; }\n')
    env = dict(os.environ, NO_COLOR="1", RSCALE_PYTHON=sys.executable, RSCALE_CAPTURE=str(capture))
    env.pop("RSCALE_DEBUG", None)
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", prelude + _shell_text(line)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    return proc, [f.read_text() for f in sorted(capture.iterdir())], time.perf_counter() - start


def _prerequisites(line: Line, cwd: Path) -> list[Line]:
    """Earlier lines of the same document whose `> file` this line reads, when the file is missing."""
    needed = []
    for earlier in LINES:
        if earlier.document != line.document or earlier.number >= line.number or earlier.illustration:
            continue
        written = re.findall(r">\s*([^\s|&;]+)", earlier.text.split("#")[0])
        if any(name in line.words and not (cwd / name).exists() for name in written):
            needed.append(earlier)
    return needed


def _params():
    for line in LINES:
        marks = [] if line.fast else [pytest.mark.slow]
        if line.illustration:
            marks = [pytest.mark.skip(reason="marked `# illustration` in the docs")]
        yield pytest.param(line, id=line.id, marks=marks)


@pytest.mark.parametrize("line", list(_params()))
def test_documented_line_runs_as_written(line: Line, workdirs):
    cwd = workdirs(line.document)
    for earlier in _prerequisites(line, cwd):
        proc, _, _ = _run(earlier, cwd)
        assert proc.returncode == 0, f"{earlier.id} (needed by this line) exited {proc.returncode}: {proc.stderr}"
    proc, stdouts, seconds = _run(line, cwd)
    where = f"{line.text}\n(exit {proc.returncode} after {seconds:.0f} s)"
    assert proc.returncode == 0, f"{where}\nstderr: {proc.stderr}"
    assert proc.stderr == "", f"{where}\nstderr: {proc.stderr}"
    if "--json" in line.words:
        assert stdouts, where
        for stdout in stdouts:  # each call: one document (trailing text raises)
            document = json.loads(stdout, parse_constant=_strict)
            assert isinstance(document, dict) and document, where
