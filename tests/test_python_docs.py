"""docs/python.md runs as written: every ```python block, in order, in a fresh folder that sees the
repository's examples/ and sample_configs/ (the blocks name them relative to the repository root)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "python.md").read_text(), flags=re.S)


def test_the_page_has_one_example_per_command():
    text = "\n".join(BLOCKS)
    for command in ("run", "sample", "sweep", "phase", "limit", "spectrum", "adjoint", "train", "inspect", "check"):
        assert f"api.{command}(" in text, command


@pytest.mark.slow  # every command, small: about a minute on 2 cores
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_docs_block_runs(index, tmp_path, monkeypatch):
    import matplotlib.figure

    monkeypatch.chdir(tmp_path)
    for folder in ("examples", "sample_configs"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"docs/python.md block {index + 1}", "exec"), namespace)
    figures = [v for v in namespace.values() if isinstance(v, matplotlib.figure.Figure)]
    tables = [v for k, v in namespace.items() if type(v).__name__ == "DataFrame"]
    assert figures or tables or "to_pandas()" in BLOCKS[index].strip().splitlines()[-1]
