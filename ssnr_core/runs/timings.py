"""Scoring rates measured on this machine, and the time a sample will take at them.

Why: a heavy setup (TNB101, grasp, a large sample) can take many minutes, and a user
should know before clicking Compute. Every scoring pass that computes something appends
one line to `timings.jsonl` beside the cache file: which space, task, saliency and device,
how many workers, how many architectures, how many seconds. The estimate is the
architectures per second of the latest such passes for the same space, saliency and
device (the same task when one is recorded; another task of the space is only a hint,
said as such): a measured number, never a typed-in one, and "not measured" when nothing
fits.

Why a separate JSON-lines file, not a cache table: a cache with an unknown table is
refused by other versions of this code, and timings are advice, not results: a damaged
or unwritable file is skipped (one line each), never an error that stops a run.
Appending one short line with O_APPEND is atomic, so concurrent runs do not interleave.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ssnr_core.proxies.setup import Setup

FILE = "timings.jsonl"
RECENT = 5  # the estimate uses the latest this many matching passes (the machine changes)
MAX_LINES = 2000  # what `read` keeps of the file's end


@dataclass(frozen=True)
class Timing:
    """One scoring pass: `archs` computed (not read from the cache) in `seconds`."""

    space: str
    task: str
    saliency: str
    device: str
    workers: int
    archs: int
    seconds: float
    at: float  # time.time() at the end of the pass


def timings_file(cache_file: Path) -> Path:
    """The timings of the cache in `cache_file`, beside it."""
    return Path(cache_file).parent / FILE


def record(cache_file: Path, timing: Timing) -> bool:
    """Append `timing`; False (and nothing raised) where the folder cannot be written."""
    if timing.archs <= 0 or not timing.seconds > 0:
        return False
    try:
        with timings_file(cache_file).open("a") as fh:
            fh.write(json.dumps(asdict(timing)) + "\n")
    except OSError:
        return False
    return True


def read(cache_file: Path) -> list[Timing]:
    """The recorded passes, oldest first; lines that are not a timing are skipped."""
    try:
        lines = timings_file(cache_file).read_text().splitlines()[-MAX_LINES:]
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in lines:
        try:
            timing = Timing(**json.loads(line))
        except (ValueError, TypeError):
            continue
        ok = isinstance(timing.archs, int) and isinstance(timing.seconds, (int, float))
        if ok and timing.archs > 0 and math.isfinite(timing.seconds) and timing.seconds > 0:
            found.append(timing)
    return found


def measured(setup: Setup, archs: int, seconds: float, *, device: str, workers: int) -> Timing:
    """The record of a pass of `setup` that just computed `archs` in `seconds`."""
    return Timing(
        setup.space, setup.task, setup.saliency, device, workers, archs, seconds, time.time()
    )


@dataclass(frozen=True)
class Estimate:
    """How long `archs` will take: `rate` (archs/s) from `basis`; None where nothing
    was measured for this space, saliency and device. `same_task`: measured on this
    very task (otherwise a hint from another task of the space)."""

    archs: int
    rate: float | None
    passes: int  # how many recorded passes the rate comes from
    measured_archs: int  # how many architectures they computed
    task: str | None  # the task they ran
    same_task: bool

    @property
    def seconds(self) -> float | None:
        return self.archs / self.rate if self.rate else None

    def heavy(self, limit_s: float) -> bool:
        """Over `limit_s`, or not measured (unknown cost counts as heavy)."""
        return self.seconds is None or self.seconds > limit_s


def estimate(timings: list[Timing], setup: Setup, archs: int, *, device: str) -> Estimate:
    """The time `archs` new architectures of `setup` take on `device`, at the summed rate
    (architectures over seconds) of the latest RECENT passes of the same space, saliency
    and device: this task's passes, else any task of the space (a hint).

    Edge values: no matching pass gives rate None; `archs` 0 gives 0 s at any rate."""
    same = [
        t
        for t in timings
        if (t.space, t.saliency, t.device) == (setup.space, setup.saliency, device)
    ]
    chosen = [t for t in same if t.task == setup.task]
    same_task = bool(chosen)
    chosen = (chosen or same)[-RECENT:]
    if not chosen:
        return Estimate(archs, None, 0, 0, None, False)
    done = sum(t.archs for t in chosen)
    rate = done / sum(t.seconds for t in chosen)
    return Estimate(archs, rate, len(chosen), done, chosen[-1].task, same_task)
