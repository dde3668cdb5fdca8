"""What a run needs from wherever it computes: the `Backend` interface.

`scoring.score` keeps the cache (what is missing, claims, commits); a backend only turns
architectures into per-layer statistics. Two implement it: `pool.LocalPool` (worker
processes here) and `ray_backend.RayBackend` (tasks on a Ray cluster). Both compute
the same units of work with `proxies.network`, so they give the same bits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ssnr_core.proxies.setup import Setup


class Backend(Protocol):
    def compute(
        self, setup: Setup, archs: Sequence[str], *, device: str, data_dir: Path | None
    ) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (arch, stats) for every arch, in any order, as results arrive."""
        ...
