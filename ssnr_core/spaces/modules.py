"""Where a network's modules come from: fresh, or seeded per slot and shared across archs.

A builder asks `make(key, constructor)` for each module, with `key` naming the
module's place in the search space. `fresh` just constructs. `SeededModules` seeds
the RNG from (seed, key) before constructing, so a module's initial weights are a
pure function of the seed and its slot, whatever the order of construction, and it
keeps each module so the next architecture reuses it instead of rebuilding (the
expensive part of scoring a small network). A network assembled from shared modules
equals one built with `SeededModules(seed, share=False)` weight for weight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn


class Factory(Protocol):
    def __call__(self, key: str, constructor: Callable[[], nn.Module]) -> nn.Module: ...


def fresh(key: str, constructor: Callable[[], nn.Module]) -> nn.Module:
    return constructor()


def derive_seed(seed: int, key: str) -> int:
    """A stable 63-bit seed for (seed, key), the same in every process."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class SeededModules:
    """Modules seeded by (seed, key), moved to `device`/`dtype` once when built."""

    def __init__(
        self,
        seed: int,
        share: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.seed = seed
        self.share = share
        self.device = device
        self.dtype = dtype
        self.built: dict[str, nn.Module] = {}

    def __call__(self, key: str, constructor: Callable[[], nn.Module]) -> nn.Module:
        if self.share and key in self.built:
            return self.built[key]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, key))
            module = constructor()
        if self.device is not None or self.dtype is not None:
            module = module.to(device=self.device, dtype=self.dtype)
        if self.share:
            self.built[key] = module
        return module
