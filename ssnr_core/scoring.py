"""Turn architectures into cached per-layer saliency statistics.

`network_stats` scores one architecture; `score` scores many, skipping what the
cache has, committing each result as it arrives (so an interrupted run resumes
where it stopped), in worker processes (one torch thread each: these small
networks do not gain from a second thread, but two processes do double the
throughput on two cores; the command line and app jobs start one per usable core).

NAS-Bench-201 synflow goes through `engine`, which scores a batch of architectures
in one forward and backward pass; there a result arrives per batch. Every other
space and saliency builds and scores one network at a time.

Several runs on one setup share the work: each claims the architectures it computes
in the cache (`Cache.claim`), so a second run computes what the first has not
claimed and then waits for the rest. Worker processes are supervised: a worker that
dies (killed, out of memory) breaks its pool; the unfinished work goes to a fresh
pool, and after `RETRIES` such deaths the run stops with an error naming what is left,
keeping everything finished.

Initialisation: every module's weights are a pure function of (seed, the module's
slot in the search space) -- see `spaces.modules`. The same seed gives the same
network whatever the order or sample, and NAS-Bench-201 reuses built modules
across architectures instead of rebuilding each network.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ssnr_core import aggregation, batches, benchmarks, engine, saliency
from ssnr_core.cache import Cache
from ssnr_core.setup import Setup
from ssnr_core.spaces import get_space, nb201
from ssnr_core.spaces.modules import SeededModules, derive_seed
from ssnr_core.threads import set_threads

if TYPE_CHECKING:
    from ssnr_core.ray_backend import RayBackend

Progress = Callable[[int, int], None]
Job = tuple[Setup, list[str], str, Path | None]  # setup, archs, device, data folder
RETRIES = 2  # fresh pools after a worker died, before the run gives up
WAIT_S = 0.5  # how often a run waiting for another run's claims looks again


class WorkerDied(ChildProcessError):
    """Worker processes kept dying (killed, out of memory); finished work is cached."""


def build_network(setup: Setup, arch: str, share: bool = False, device: str = "cpu") -> nn.Module:
    """The network `arch` of `setup`'s space and task, initialised from `setup.seed`, on
    `device` in `setup.dtype` (by default the saliency's). `share` reuses modules built
    for earlier archs (same weights, less time) where the space supports it."""
    space = get_space(setup.space)
    dtype = _dtype(setup)
    if setup.init == "fresh":  # NASLib's protocol: a new network per (seed, arch)
        make = SeededModules(derive_seed(setup.seed, arch), share=False, device=device, dtype=dtype)
    elif share and space.shared_slots:
        make = _shared_modules(setup.space, setup.seed, device, dtype)
    else:
        make = SeededModules(setup.seed, share=False, device=device, dtype=dtype)
    return space.build(space.parse(arch), setup.task, make=make)


def _dtype(setup: Setup) -> torch.dtype:
    dtype = getattr(torch, setup.dtype, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"unknown dtype {setup.dtype!r}; use float64 or float32")
    return dtype


@lru_cache(maxsize=4)
def _shared_modules(space: str, seed: int, device: str, dtype: torch.dtype) -> SeededModules:
    """One bank of modules per process and setting: built once, reused by every arch."""
    return SeededModules(seed, device=device, dtype=dtype)


@lru_cache(maxsize=4)
def _batch(setup: Setup, device: str, data_dir: Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    space = get_space(setup.space)
    shape = space.input_shape(setup.task)
    classes = space.tasks[setup.task]
    x, y = batches.make_batch(setup.batch, shape, classes, setup.seed, data_dir=data_dir)
    return x.to(device), y.to(device)


def saliencies(
    setup: Setup,
    arch: str,
    share: bool = False,
    device: str = "cpu",
    data_dir: Path | None = None,
) -> tuple[list[str], list[torch.Tensor]]:
    """Layer names and per-parameter saliency tensors of one network (float64)."""
    needs_data = saliency.get(setup.saliency).needs_data
    if needs_data and not benchmarks.get_task(setup.space, setup.task).classification:
        raise ValueError(
            f"{setup.saliency} needs class labels; {setup.space}/{setup.task} is not a "
            "classification task (synflow works on every task)"
        )
    model = build_network(setup, arch, share, device)  # in train mode, as built
    x, y = _batch(setup, device, data_dir) if needs_data else _shape_only(setup, device)
    names = [name for name, _ in saliency.weight_layers(model)]
    return names, saliency.compute(setup.saliency, model, x, y)


def _shape_only(setup: Setup, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    shape = get_space(setup.space).input_shape(setup.task)
    return torch.zeros((1, *shape), device=device), torch.zeros(1, dtype=torch.long)


def network_stats(
    setup: Setup,
    arch: str,
    share: bool = True,
    device: str = "cpu",
    data_dir: Path | None = None,
) -> np.ndarray:
    """(L, 3) statistics (count, sum, M2) of one architecture."""
    return many_stats(setup, [arch], share, device, data_dir)[0]


def batched(setup: Setup) -> bool:
    """Whether `engine` scores this setup (many architectures per pass): NB201 synflow
    with shared slot-seeded modules (a fresh network per architecture is built alone)."""
    return setup.space == "nb201" and setup.saliency == "synflow" and setup.init == "slot"


def many_stats(
    setup: Setup,
    archs: Sequence[str],
    share: bool = True,
    device: str = "cpu",
    data_dir: Path | None = None,
) -> list[np.ndarray]:
    """Statistics of each arch: one batch through `engine` where it applies, else one
    network at a time."""
    if batched(setup):
        parsed = [nb201.parse(a) for a in archs]
        return engine.synflow_stats(parsed, setup.task, setup.seed, device, _dtype(setup))
    return [
        aggregation.layer_stats(saliencies(setup, a, share, device, data_dir)[1]) for a in archs
    ]


def _worker_init(parent: int | None = None) -> None:
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


def _worker(job: Job) -> list[tuple[str, np.ndarray]]:
    setup, archs, device, data_dir = job
    return list(zip(archs, many_stats(setup, archs, device=device, data_dir=data_dir)))


def chunks(setup: Setup, archs: Sequence[str], size: int = 1) -> list[list[str]]:
    """Units of work: an `engine` batch, or `size` archs scored one by one. Engine batches
    are always `engine.BATCH` archs, whatever the number of workers (local or Ray): float32
    results differ in the last bits with a batch's make-up, so the same archs in the same
    batches give the same bits everywhere."""
    if batched(setup):
        return list(engine.chunks(archs, engine.BATCH))
    return [list(archs[i : i + size]) for i in range(0, len(archs), size)]


def compute(
    setup: Setup,
    archs: Iterable[str],
    workers: int = 1,
    device: str = "cpu",
    data_dir: Path | None = None,
    backend: RayBackend | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (arch, stats) for each arch (a batch at a time where `engine` applies), in
    worker processes when workers > 1, as Ray tasks when a backend is given."""
    archs = list(archs)
    if backend is not None:
        yield from backend.compute(setup, archs, device, data_dir)
        return
    jobs = [(setup, chunk, device, data_dir) for chunk in chunks(setup, archs)]
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            yield from _worker(job)
        return
    yield from _supervised(jobs, workers)


def _supervised(jobs: list[Job], workers: int) -> Iterator[tuple[str, np.ndarray]]:
    """Run jobs in a pool of spawned workers; when one dies, the pool breaks and the
    unfinished jobs go to a fresh pool (at most `RETRIES` times)."""
    pending = list(jobs)
    for _ in range(RETRIES + 1):
        pool = ProcessPoolExecutor(
            min(workers, len(pending)),
            mp_context=mp.get_context("spawn"),  # fork after torch has threads can deadlock
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        try:
            running = {pool.submit(_worker, job): job for job in pending}
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
    left = [arch for job in pending for arch in job[1]]
    raise WorkerDied(
        f"worker processes died {RETRIES + 1} times (killed? out of memory?); "
        f"{len(left)} architectures not scored, e.g. {left[0]}; finished ones are cached, "
        "rerun to resume (fewer --workers uses less memory)"
    )


def score(
    setup: Setup,
    archs: Sequence[str],
    cache: Cache,
    workers: int = 1,
    device: str = "cpu",
    progress: Progress | None = None,
    data_dir: Path | None = None,
    backend: RayBackend | None = None,
) -> dict[str, np.ndarray]:
    """Statistics of every arch, computing and caching only the missing ones; each
    result is committed as it arrives. Architectures another live run has claimed are
    left to it and read from the cache once it stores them."""
    have = cache.get(setup, archs)
    missing = [a for a in archs if a not in have]

    def report() -> None:
        if progress:
            progress(len(have), len(archs))

    def record(mine: list[str]) -> Iterator[tuple[str, np.ndarray]]:
        for arch, stats in compute(setup, mine, workers, device, data_dir, backend):
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
