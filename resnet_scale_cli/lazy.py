"""Package attributes loaded on first use (PEP 562), so that importing the package imports no torch."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def lazy_attributes(package: str, modules: dict[str, str]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: `name` comes from the module `modules[name]`, imported on first use."""

    def __getattr__(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(modules[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
