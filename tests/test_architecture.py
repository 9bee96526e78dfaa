"""The layout's promises: imports point down the layers (`LAYERS`), nothing imports the CLI, no
import cycles (imports inside functions count), short commands that call one library function,
and `--help`/`--version`/usage errors without torch or matplotlib."""

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


def _imports(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """Package modules a file imports, anywhere in it: at import time, inside functions and
    under `if TYPE_CHECKING` (a name imported from a module maps to the module)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for n in names:
            target = _resolve(n, modules) if n.startswith(NAME) else None
            if target and target != module:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    """module → the package modules it imports. Importing a submodule runs its parents'
    `__init__` first: those edges are not dependencies."""
    modules = _modules()
    return {m: {t for t in _imports(p, m, modules) if not m.startswith(t + ".")} for m, p in modules.items()}


#: The layers, top to bottom: a module may import its own layer and those below, never above.
#: The command line is the top (nothing imports it); `api` is the Python face over the rest;
#: `report` renders and `checks` evaluates what experiments measure (report.tables shows check
#: expectations, so the two share a layer). `settings` turns flags and TOML into specs (it builds
#: `sweep.SweepSpec`) and `estimates` reads every experiment's spec for --dry-run: both above the
#: experiments, which import neither. `experiments` measure cells and hold the registry that runs
#: them on `sweep` grids, so `sweep` (grids, store, run_grid, executors) is below and knows no
#: experiment. `spec`, `fields` and `resources` (the validated spec, the spec base with the
#: settings every spec shares, whose choices come from the law and model registries, the memory
#: refusal) are read by sweep and experiments alike; `analysis` reads records and theory; `laws`
#: and `dynamics` are the engine; errors, grid syntax, output paths, seeding, the log-ratio
#: metrics, `values` (the checks and the `Setting` declaration laws declare their parameters
#: with) `lazy` (the packages' lazily loaded names) and `threads` (one thread for small products) sit at
#: the bottom.
LAYERS = (
    ("cli", "__main__"),
    ("api",),
    ("report", "checks"),
    ("settings", "estimates"),
    ("experiments",),
    ("sweep",),
    ("spec", "resources", "fields"),
    ("analysis",),
    ("laws", "dynamics"),
    ("errors", "grids", "outputs", "seeding", "metrics", "values", "lazy", "threads"),
)

def _layer(module: str) -> int:
    """The index in `LAYERS` (0 = top) of a package module."""
    top = module.split(".")[1]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def _short(module: str) -> str:
    return module.removeprefix(NAME + ".")


def test_every_module_has_a_layer():
    placed = {name for names in LAYERS for name in names}
    missing = sorted({m.split(".")[1] for m in _modules() if m != NAME} - placed)
    assert not missing, f"place these in LAYERS: {missing}"


def test_imports_point_down_the_layers():
    upward = {(_short(m), _short(t)) for m, ts in _graph().items() if m != NAME
              for t in ts if t != NAME and _layer(t) < _layer(m)}
    assert not upward, f"imports that point up a layer (importer, imported): {sorted(upward)}"


def test_nothing_outside_the_cli_imports_the_cli():
    offenders = {m: sorted(t for t in ts if t.startswith(f"{NAME}.cli"))
                 for m, ts in _graph().items() if not m.startswith(f"{NAME}.cli") and m != f"{NAME}.__main__"}
    assert not {m: t for m, t in offenders.items() if t}


def test_no_import_cycles():
    """No cycle among the package's modules, imports inside functions included (a lazy import
    still ties the two modules together)."""
    graph = _graph()
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


def test_imports_inside_functions_and_type_checking_count(tmp_path):
    files = {"a": "from resnet_scale_cli import b\n",
             "b": "def f():\n    from resnet_scale_cli.c import x\n    from . import a\n",
             "c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import resnet_scale_cli.a.y\n"}
    modules = {}
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
        modules[f"{NAME}.{name}"] = tmp_path / f"{name}.py"
    found = {m: _imports(p, m, modules) for m, p in modules.items()}
    assert found == {f"{NAME}.a": {f"{NAME}.b"}, f"{NAME}.b": {f"{NAME}.a", f"{NAME}.c"}, f"{NAME}.c": {f"{NAME}.a"}}


def test_measurements_run_no_grid():
    """experiments/* measure one cell from a spec; only the protocol and the registry run grids
    (`sweep`)."""
    graph = _graph()
    runners = {f"{NAME}.experiments.protocol", f"{NAME}.experiments.registry"}
    for m, ts in graph.items():
        if m.startswith(f"{NAME}.experiments") and m not in runners:
            assert not [t for t in ts if t.startswith(f"{NAME}.sweep")], m


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
