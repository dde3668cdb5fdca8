"""Where the project finds benchmark data and keeps its cache: one setting each."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """`SSNR_DATA_DIR`, else `../shared/data` beside the project when it exists, else `./data`."""
    env = os.environ.get("SSNR_DATA_DIR")
    if env:
        return Path(env).expanduser()
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else PROJECT_ROOT / "data"


def cache_dir() -> Path:
    """`SSNR_CACHE_DIR`, else `./cache` in the project."""
    env = os.environ.get("SSNR_CACHE_DIR")
    return Path(env).expanduser() if env else PROJECT_ROOT / "cache"
