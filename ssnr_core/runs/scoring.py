"""Turn architectures into cached per-layer saliency statistics.

`score` scores many architectures, skipping what the cache has, committing each
result as it arrives (so an interrupted run resumes where it stopped), computing the
rest on a `Backend` (the local process pool or Ray; NAS-Bench-201 synflow arrives a
batch of architectures at a time, see `proxies.network`).

Several runs on one setup share the work: each claims the architectures it computes
in the cache (`Cache.claim`), so a second run computes what the first has not
claimed and then waits for the rest. A wait is bounded: a run whose claims are held
by a stopped process (Ctrl-Z) says so within `STOPPED_S` and stops, offering to take
them over (`Settings.take_over`), instead of waiting forever.

Timings: each pass that computes something is recorded beside the cache
(`timings.record`: architectures, seconds, device, workers), so that the app can say
how long a sample will take before it is started.

Progress: `progress(done, total)` after every result. A progress callback that also
has a `waiting(note)` method is told what the run waits for (None once it computes
again), so that its rate and time estimate can leave out what other runs store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.processes import process_stopped
from ssnr_core.runs.settings import Settings
from ssnr_core.runs.timings import measured
from ssnr_core.runs.timings import record as record_timing

Progress = Callable[[int, int], None]
WAIT_S = 0.5  # how often a run waiting for another run's claims looks again
STOPPED_S = 5.0  # how long claims of a stopped run are waited for before saying so


class ClaimsHeld(RuntimeError):
    """Architectures this run needs are claimed by a stopped process; finished ones are
    cached. The message says how to resume that process or take its claims over."""


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
        found = settings.backend.compute(  # on the setup the rows are stored under
            setup.stored, mine, device=settings.device, data_dir=settings.data_dir
        )
        for arch, stats in found:
            have[arch] = stats
            yield arch, stats
            report()

    report()
    stopped_since: float | None = None
    while missing:
        mine = cache.claim(setup, missing)
        if mine:
            _note(progress, None)
        began, stored = time.monotonic(), len(have)
        try:
            cache.put(setup, record(mine))
        finally:
            cache.release(setup, mine)  # what was not stored (an error, an interrupt)
            _timed(cache, setup, settings, len(have) - stored, time.monotonic() - began)
        have.update(cache.get(setup, [a for a in missing if a not in have]))
        missing = [a for a in missing if a not in have]
        if not missing or mine:
            continue
        # All held by other live runs: wait for them to store, but not for a stopped one.
        holders = cache.holders(setup)
        stopped = {pid: n for pid, n in holders.items() if process_stopped(pid)}
        if stopped and settings.take_over:
            cache.take_over(setup, stopped)
            continue
        if stopped:
            stopped_since = stopped_since or time.monotonic()
            if time.monotonic() - stopped_since >= STOPPED_S:
                raise ClaimsHeld(_stopped_text(stopped, len(have), len(archs)))
        else:
            stopped_since = None
        _note(progress, _waiting_text(holders, stopped))
        time.sleep(WAIT_S)
        report()
    return {a: have[a] for a in archs}


def _timed(cache: Cache, setup: Setup, settings: Settings, archs: int, seconds: float) -> None:
    """Record a pass's rate beside the cache (also of a pass cut short: what it stored)."""
    if archs > 0:
        timing = measured(setup, archs, seconds, device=settings.device, workers=settings.workers)
        record_timing(cache.path, timing)


def _note(progress: Progress | None, note: str | None) -> None:
    waiting = getattr(progress, "waiting", None)
    if callable(waiting):
        waiting(note)


def _waiting_text(holders: dict[int, int], stopped: dict[int, int]) -> str:
    held = sum(holders.values())
    pids = ", ".join(f"{pid}{' (stopped)' if pid in stopped else ''}" for pid in holders)
    return f"waiting for {held:,} architectures claimed by pid {pids}"


def _stopped_text(stopped: dict[int, int], done: int, total: int) -> str:
    pid = next(iter(stopped))
    more = f" (and {len(stopped) - 1} other stopped runs)" if len(stopped) > 1 else ""
    return (
        f"{sum(stopped.values()):,} architectures of this run are claimed by pid {pid}{more}, "
        f"which is stopped (Ctrl-Z or SIGSTOP) and computes nothing: resume it (`fg` in its "
        f"terminal, or `kill -CONT {pid}`), or rerun with --take-over to score them here; "
        f"{done:,} of {total:,} are cached"
    )
