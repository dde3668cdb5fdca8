"""The local process pool: one backend that computes units of work in worker processes.

One torch thread per worker: these small networks do not gain from a second thread,
but two processes do double the throughput on two cores (the command line and app jobs
start one per usable core). Workers are supervised: a worker that dies (killed, out of
memory) breaks its pool; the unfinished work goes to a fresh pool, and after `RETRIES`
such deaths the run stops with an error naming what is left, keeping everything
finished. Workers also die with their run (Linux: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssnr_core.proxies import network
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.threads import set_threads

Work = tuple[Setup, list[str], str, Path | None]  # a unit: setup, archs, device, data folder
RETRIES = 2  # fresh pools after a worker died, before the run gives up


class WorkerDied(ChildProcessError):
    """Worker processes kept dying (killed, out of memory); finished work is cached."""


@dataclass(frozen=True)
class LocalPool:
    """`workers` processes on this machine (1: in this process, no pool)."""

    workers: int = 1

    def compute(
        self, setup: Setup, archs: Sequence[str], *, device: str, data_dir: Path | None
    ) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (arch, stats) for each arch, a unit of work (`network.chunks`) at a time."""
        units = [(setup, chunk, device, data_dir) for chunk in network.chunks(setup, archs)]
        if self.workers <= 1 or len(units) < 2:
            for unit in units:
                yield from _worker(unit)
            return
        yield from _supervised(units, self.workers)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start workers with SIGINT ignored (they inherit it, before their first import):
    Ctrl-C, which the terminal sends to every process of the run, is then handled by the
    run alone (one line, and it stops the pool), not by a traceback from each worker."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_init(parent: int | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_threads(1)
    if parent is not None:
        _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """Linux: end this worker when the run that started it dies (kill -9, OOM killer),
    instead of lingering; elsewhere the pool's closed pipe ends it at its next task. A run
    that died while this worker was still starting is caught by the parent-pid check."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # died before the line above: no signal will come
        os._exit(1)


def _worker(work: Work) -> list[tuple[str, np.ndarray]]:
    setup, archs, device, data_dir = work
    return list(zip(archs, network.many_stats(setup, archs, device=device, data_dir=data_dir)))


def _supervised(units: list[Work], workers: int) -> Iterator[tuple[str, np.ndarray]]:
    """Run units in a pool of spawned workers; when one dies, the pool breaks and the
    unfinished units go to a fresh pool (at most `RETRIES` times)."""
    pending = list(units)
    for _ in range(RETRIES + 1):
        pool = ProcessPoolExecutor(
            min(workers, len(pending)),
            mp_context=mp.get_context("spawn"),  # fork after torch has threads can deadlock
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        try:
            with _sigint_ignored():  # the pool starts its workers as units are submitted
                running = {pool.submit(_worker, unit): unit for unit in pending}
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    results = future.result()  # a worker's own error propagates as itself
                    pending.remove(running.pop(future))
                    yield from results
            return
        except BrokenProcessPool:
            continue  # a worker died: what finished was yielded, the rest goes again
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    left = [arch for unit in pending for arch in unit[1]]
    raise WorkerDied(
        f"worker processes died {RETRIES + 1} times (killed? out of memory?); "
        f"{len(left)} architectures not scored, e.g. {left[0]}; finished ones are cached, "
        "rerun to resume (fewer --workers uses less memory)"
    )
