"""Search spaces: one small module each (`nb201`, `nb301`, `tnb101`, `nb101`,
`tnb101_macro`), registered here.

Every module ends with a `SPACE = Space(...)` that says what the rest of the code may
ask of it; pages, the CLI and scoring look spaces up in `REGISTRY` and never branch on
a space's name.
"""

from __future__ import annotations

from ssnr_core.spaces import nb101, nb201, nb301, tnb101, tnb101_macro
from ssnr_core.spaces.space import Space

__all__ = ["REGISTRY", "Space", "canonical", "get_space", "names", "register"]


REGISTRY: dict[str, Space] = {}


def register(space: Space) -> Space:
    """Add a space to the registry; a second space of the same name is refused."""
    if space.name in REGISTRY:
        raise ValueError(f"a search space named {space.name!r} is already registered")
    REGISTRY[space.name] = space
    return space


for _module in (nb201, nb301, tnb101, nb101, tnb101_macro):  # display order
    register(_module.SPACE)


def get_space(name: str) -> Space:
    if name not in REGISTRY:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(REGISTRY)}")
    return REGISTRY[name]


def names() -> list[str]:
    """Every space's short name, in display order."""
    return list(REGISTRY)


def canonical(space: str, arch: object) -> str:
    """The one string an architecture is known by in the cache and the ground truth."""
    return get_space(space).canonical(arch)
