"""Search spaces: one small module each (`nb201`, `nb301`, `tnb101`), registered here.

Every module ends with a `SPACE = Space(...)` that says what the rest of the code may
ask of it; pages, the CLI and scoring look spaces up in `REGISTRY` and never branch on
a space's name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn


@dataclass(frozen=True)
class Space:
    name: str  # short name: the cache key and the CLI's --benchmark value
    label: str  # display name
    tasks: Mapping[str, int]  # task -> number of network outputs (classes)
    parse: Callable[[Any], Any]  # any accepted spelling -> canonical arch; ValueError else
    to_str: Callable[[Any], str]  # canonical arch -> the one string it is known by
    build: Callable[..., nn.Module]  # build(arch, task, make=...) -> network
    input_shape: Callable[[str], tuple[int, int, int]]  # task -> (C, H, W)
    ops: Callable[[Any], tuple[str, ...]]  # canonical arch -> the op name of every edge
    examples: tuple[str, ...]  # valid architectures, as users write them
    size: int | None  # architectures in the space; None when too many to enumerate
    indexed: bool = False  # an integer 0..size-1 names an architecture (benchmark order)
    shared_slots: bool = True  # `build` keys modules by slot: one bank serves every arch

    def canonical(self, arch: object) -> str:
        return self.to_str(self.parse(arch))

    def op_counts(self, arch: object) -> dict[str, int]:
        """How often each op occurs in an architecture (e.g. to colour points by op mix)."""
        return dict(Counter(self.ops(self.parse(arch))))


def _registry() -> dict[str, Space]:
    from ssnr_core.spaces import nb201, nb301, tnb101

    return {s.name: s for s in (nb201.SPACE, nb301.SPACE, tnb101.SPACE)}


REGISTRY: dict[str, Space] = {}


def get_space(name: str) -> Space:
    if not REGISTRY:
        REGISTRY.update(_registry())
    if name not in REGISTRY:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(REGISTRY)}")
    return REGISTRY[name]


def names() -> list[str]:
    """Every space's short name, in display order."""
    get_space("nb201")
    return list(REGISTRY)


def canonical(space: str, arch: object) -> str:
    """The one string an architecture is known by in the cache and the ground truth."""
    return get_space(space).canonical(arch)
