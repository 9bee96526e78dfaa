"""The layout's promises: nothing imports the CLI, no import cycles, short commands that call one
library function, and `--help`/`--version`/usage errors without torch or matplotlib."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "resnet_scale_cli"
NAME = "resnet_scale_cli"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module an import names (a name imported from a module maps to the module)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path, module: str, modules: dict[str, Path], top_level_only: bool) -> set[str]:
    """Package modules imported by a file; with `top_level_only`, only those run at import time
    (not inside functions, nor under `if TYPE_CHECKING`)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True
            if isinstance(child, ast.Import) and not (top_level_only and nested):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and not (top_level_only and nested):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in child.names] + [base]
            else:
                names = []
            for n in names:
                target = _resolve(n, modules) if n.startswith(NAME) else None
                if target and target != module:
                    found.add(target)
            visit(child, inner)

    visit(tree, False)
    return found


def test_nothing_outside_the_cli_imports_the_cli():
    modules = _modules()
    offenders = {m: sorted(t for t in _imports(p, m, modules, False) if t.startswith(f"{NAME}.cli"))
                 for m, p in modules.items() if not m.startswith(f"{NAME}.cli") and m != f"{NAME}.__main__"}
    assert not {m: t for m, t in offenders.items() if t}


@pytest.mark.slow
def test_no_import_cycles_at_import_time():
    modules = _modules()
    graph = {m: _imports(p, m, modules, True) for m, p in modules.items()}
    # importing a submodule runs its parents' __init__ first: those edges are not cycles
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt, stack + [nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m, [m])
    assert not cycles, cycles


def test_experiments_import_only_the_engine():
    """experiments/* measure: they may use laws, dynamics, metrics, seeding, errors, spec, grids
    and analysis readers, never the sweep, report, checks or the CLI."""
    modules = _modules()
    allowed = ("laws", "dynamics", "metrics", "seeding", "errors", "spec", "grids", "analysis", "experiments", "resources")
    for m, p in modules.items():
        if m.startswith(f"{NAME}.experiments"):
            bad = [t for t in _imports(p, m, modules, False) if t != NAME and t.split(".")[1] not in allowed]
            assert not bad, (m, bad)


def _command_functions():
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any("app.command" in ast.unparse(d) for d in node.decorator_list):
                yield path.name, node


@pytest.mark.parametrize("where,node", list(_command_functions()), ids=lambda x: getattr(x, "name", x))
def test_commands_are_short_and_hold_no_math(where, node):
    body_lines = node.end_lineno - node.body[0].lineno + 1
    assert body_lines <= 40, f"{where}:{node.name} has {body_lines} lines"
    source = ast.unparse(node)
    for marker in ("torch.", "np.", "numpy", "math."):
        assert marker not in source, f"{where}:{node.name} does math ({marker})"


def test_every_command_is_registered_and_calls_the_library():
    names = {node.name for _, node in _command_functions()}
    assert {"run", "sample", "sweep", "phase", "check"} <= names


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"], ["phase", "--help"],
                                  ["run", "--law", "nope"], ["run", "--depth", "abc"]])
@pytest.mark.slow  # starts a fresh interpreter (the slow tier holds the subprocess tests)
def test_startup_imports_neither_torch_nor_matplotlib(args):
    code = ("import sys, json\nfrom resnet_scale_cli.cli import main\n"
            "try:\n    main(%r)\nexcept SystemExit as e:\n    code = e.code\n"
            "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules, 'mpl': 'matplotlib' in sys.modules}),"
            " file=sys.stderr)" % (args,))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    assert result["code"] in (0, 2)
    assert not result["torch"] and not result["mpl"], result


def test_help_lists_every_choice_in_full(cli):
    from resnet_scale_cli.dynamics import ACTIVATIONS
    from resnet_scale_cli.laws import LAWS

    code, out, _ = cli("run", "--help")
    assert code == 0
    words = set(out.replace("│", " ").replace(".", " ").split())  # at 80 columns: wrapped, never cut
    assert set(LAWS) <= words and set(ACTIVATIONS) <= words


def test_a_choice_outside_the_registry_is_refused_by_the_parser(cli):
    code, _, err = cli("run", "--activation", "softplus")
    assert code == 2 and err.count("\n") == 1 and "softplus" in err and "relu" in err


def test_shell_completion_is_offered(cli):
    code, out, _ = cli("--help")
    assert code == 0 and "--install-completion" in out
