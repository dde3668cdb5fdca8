"""Turn architectures into cached per-layer saliency statistics.

`score` scores many architectures, skipping what the cache has, committing each
result as it arrives (so an interrupted run resumes where it stopped), computing the
rest on a `Backend` (the local process pool or Ray; NAS-Bench-201 synflow arrives a
batch of architectures at a time, see `proxies.network`).

Several runs on one setup share the work: each claims the architectures it computes
in the cache (`Cache.claim`), so a second run computes what the first has not
claimed and then waits for the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings

Progress = Callable[[int, int], None]
WAIT_S = 0.5  # how often a run waiting for another run's claims looks again


def score(
    setup: Setup,
    archs: Sequence[str],
    cache: Cache,
    *,
    settings: Settings,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Statistics of every arch, computing the missing ones on `settings.backend` and
    caching each as it arrives. Architectures another live run has claimed are left to
    it and read from the cache once it stores them."""
    have = cache.get(setup, archs)
    missing = [a for a in archs if a not in have]

    def report() -> None:
        if progress:
            progress(len(have), len(archs))

    def record(mine: list[str]) -> Iterator[tuple[str, np.ndarray]]:
        found = settings.backend.compute(
            setup, mine, device=settings.device, data_dir=settings.data_dir
        )
        for arch, stats in found:
            have[arch] = stats
            yield arch, stats
            report()

    report()
    while missing:
        mine = cache.claim(setup, missing)
        try:
            cache.put(setup, record(mine))
        finally:
            cache.release(setup, mine)  # what was not stored (an error, an interrupt)
        have.update(cache.get(setup, [a for a in missing if a not in have]))
        missing = [a for a in missing if a not in have]
        if missing and not mine:  # all held by live runs: wait for them to store
            time.sleep(WAIT_S)
            report()
    return {a: have[a] for a in archs}
