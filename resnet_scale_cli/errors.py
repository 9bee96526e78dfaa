"""Errors the command line turns into a one-line message and exit code 2."""

from __future__ import annotations

import difflib
from typing import Iterable


class SpecError(ValueError):
    """An invalid setting or input: the message names the flag or file at fault."""


class DryRun(Exception):
    """Raised by the spec builders under `--dry-run` once the spec is valid: `document` is the
    resolved spec (under the flags' names), printed instead of measuring; `spec` the spec itself
    (its cells, memory and time are added by the command line, `estimates.plan`)."""

    def __init__(self, document: dict, spec: object = None) -> None:
        super().__init__("dry run")
        self.document = document
        self.spec = spec


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`"; did you mean 'x'?"` for the closest candidate (difflib ratio ≥ 0.6), else ''.
    Keys are compared with `-` and `_` as one character, as TOML keys and flags spell them."""
    names = {c.replace("-", "_"): c for c in candidates}
    close = difflib.get_close_matches(str(word).replace("-", "_"), list(names), n=1)
    return f"; did you mean {names[close[0]]!r}?" if close else ""
