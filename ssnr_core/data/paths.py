"""Paths a user types (settings, `--batch images:DIR`, `import-nb201 PATH`): `~` expanded,
made absolute, and a `~user` that names no user turned into one clear error."""

from __future__ import annotations

import os
from pathlib import Path


def user_path(text: str | Path, what: str = "path") -> Path:
    """`text` with `~`/`~user` expanded, as an absolute path (children started in another
    working directory see the same file); ValueError when `~user` names no user."""
    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # "~nosuchuser/...": no such home directory
        raise ValueError(f"{what} {str(text)!r}: {exc} (is the user name right?)") from None
    return Path(os.path.abspath(path))
