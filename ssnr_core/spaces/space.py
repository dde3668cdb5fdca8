"""`Space`: what the rest of the code may ask of a search space.

Every space module ends with a `SPACE = Space(...)`; pages, the CLI and scoring look
spaces up in the registry (`spaces.get_space`) and never branch on a space's name.
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
    choices: tuple[str, ...] = ()  # the op names an edge chooses from (empty: see `op_names`)
    naslib: Callable[[Any], str] | None = None  # canonical arch -> NASLib's key (None: to_str)
    # groups of tasks whose networks differ only in the classifier and see inputs of one
    # shape (NB201 CIFAR-10 and CIFAR-100): a measure that reads neither the classifier
    # nor the labels gives them the same numbers (`Setup.stored`)
    same_body: tuple[tuple[str, ...], ...] = ()

    def canonical(self, arch: object) -> str:
        return self.to_str(self.parse(arch))

    def naslib_key(self, arch: object) -> str:
        """The key NASLib's zero-cost files and predictors know the architecture by."""
        return (self.naslib or self.to_str)(self.parse(arch))

    def op_names(self) -> tuple[str, ...]:
        """The ops an edge chooses from, else those the examples use: the choices for
        colouring points by op mix."""
        ops = self.choices or [op for a in self.examples for op in self.op_counts(a)]
        return tuple(dict.fromkeys(ops))

    def op_counts(self, arch: object) -> dict[str, int]:
        """How often each op occurs in an architecture (e.g. to colour points by op mix)."""
        return dict(Counter(self.ops(self.parse(arch))))
