"""Output paths of every command (`--out`, `--plot`, `--plot-hist`, `--plot-profiles`, `--junit`,
`--baseline` with `--update-baseline`): missing parent folders are created, as `mkdir -p` would;
a path that cannot be made is refused with one line naming the flag (a `SpecError`, exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

from resnet_scale_cli.errors import SpecError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def output_folder(path: str | os.PathLike, flag: str) -> Path:
    """The folder `path`, created with its parents when missing; refused when it cannot be
    (a regular file in the way, no permission)."""
    folder = Path(path)
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # '.' or '/' at the latest
    if not existing.is_dir():
        raise SpecError(f"{flag}: {str(existing)!r} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"{flag}: cannot create folder {str(folder)!r}: {_reason(exc)}") from None
    return folder


def output_file(path: str | os.PathLike, flag: str) -> Path:
    """The file `path`, its parent folders created when missing; refused when they cannot be,
    or when `path` itself is a folder."""
    file = Path(path)
    if file.is_dir():
        raise SpecError(f"{flag}: {str(file)!r} is a folder; give a file name")
    output_folder(file.parent, flag)
    return file
