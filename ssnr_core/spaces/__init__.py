"""Search spaces by name. Each module offers `parse`, `to_str`, `build`, `input_shape`, `TASKS`."""

from __future__ import annotations

import importlib
from types import ModuleType

SPACES = {
    "nb201": "NAS-Bench-201",
    "nb301": "NAS-Bench-301 (DARTS)",
    "tnb101": "TransNAS-Bench-101 micro",
}


def get_space(name: str) -> ModuleType:
    if name not in SPACES:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(SPACES)}")
    return importlib.import_module(f"ssnr_core.spaces.{name}")


def canonical(space: str, arch: object) -> str:
    """The one string an architecture is known by in the cache and the ground truth."""
    mod = get_space(space)
    return mod.to_str(mod.parse(arch))
