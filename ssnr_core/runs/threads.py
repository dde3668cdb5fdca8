"""How many torch threads: one, by default, everywhere.

These networks are small: a second intra-op thread gains nothing, and on a busy
machine (worker processes, other jobs) OpenMP threads of oversubscribed processes
spin: NB301 scoring ran 20x slower with two threads beside other jobs (measured).
Parallelism comes from worker processes instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def set_threads(n: int = 1) -> None:
    torch.set_num_threads(max(1, n))


@contextmanager
def one_thread() -> Iterator[None]:
    """One thread while inside; the previous setting after."""
    before = torch.get_num_threads()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)
