"""Turn architectures into cached per-layer saliency statistics.

`network_stats` scores one architecture; `score` scores many, skipping what the
cache has, committing each result as it arrives (so an interrupted run resumes
where it stopped), in worker processes (one torch thread each: these small
networks do not gain from a second thread, but two processes do double the
throughput on two cores; the command line and app jobs start one per usable core).

NAS-Bench-201 synflow goes through `engine`, which scores a batch of architectures
in one forward and backward pass; there a result arrives per batch. Every other
space and saliency builds and scores one network at a time.

Initialisation: every module's weights are a pure function of (seed, the module's
slot in the search space) -- see `spaces.modules`. The same seed gives the same
network whatever the order or sample, and NAS-Bench-201 reuses built modules
across architectures instead of rebuilding each network.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ssnr_core import aggregation, batches, benchmarks, engine, saliency
from ssnr_core.cache import Cache, Setup
from ssnr_core.spaces import get_space, nb201
from ssnr_core.spaces.modules import SeededModules

Progress = Callable[[int, int], None]


def build_network(setup: Setup, arch: str, share: bool = False, device: str = "cpu") -> nn.Module:
    """The network `arch` of `setup`'s space and task, initialised from `setup.seed`, on
    `device` in `setup.dtype` (by default the saliency's). `share` reuses modules built
    for earlier archs (same weights, less time) where the space supports it."""
    space = get_space(setup.space)
    dtype = _dtype(setup)
    if share and getattr(space, "SHARED_SLOTS", False):
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
def _batch(setup: Setup, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    space = get_space(setup.space)
    shape = space.input_shape(setup.task)
    x, y = batches.make_batch(setup.batch, shape, space.TASKS[setup.task], setup.seed)
    return x.to(device), y.to(device)


def saliencies(
    setup: Setup, arch: str, share: bool = False, device: str = "cpu"
) -> tuple[list[str], list[torch.Tensor]]:
    """Layer names and per-parameter saliency tensors of one network (float64)."""
    needs_data = saliency.get(setup.saliency).needs_data
    if needs_data and not benchmarks.get_task(setup.space, setup.task).classification:
        raise ValueError(
            f"{setup.saliency} needs class labels; {setup.space}/{setup.task} is not a "
            "classification task (synflow works on every task)"
        )
    model = build_network(setup, arch, share, device)  # in train mode, as built
    x, y = _batch(setup, device) if needs_data else _shape_only(setup, device)
    names = [name for name, _ in saliency.weight_layers(model)]
    return names, saliency.compute(setup.saliency, model, x, y)


def _shape_only(setup: Setup, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    shape = get_space(setup.space).input_shape(setup.task)
    return torch.zeros((1, *shape), device=device), torch.zeros(1, dtype=torch.long)


def network_stats(setup: Setup, arch: str, share: bool = True, device: str = "cpu") -> np.ndarray:
    """(L, 3) statistics (count, sum, M2) of one architecture."""
    return many_stats(setup, [arch], share, device)[0]


def batched(setup: Setup) -> bool:
    """Whether `engine` scores this setup (many architectures per pass)."""
    return setup.space == "nb201" and setup.saliency == "synflow"


def many_stats(
    setup: Setup, archs: Sequence[str], share: bool = True, device: str = "cpu"
) -> list[np.ndarray]:
    """Statistics of each arch: one batch through `engine` where it applies, else one
    network at a time."""
    if batched(setup):
        parsed = [nb201.parse(a) for a in archs]
        return engine.synflow_stats(parsed, setup.task, setup.seed, device, _dtype(setup))
    return [aggregation.layer_stats(saliencies(setup, a, share, device)[1]) for a in archs]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS has one): the default
    number of worker processes."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _worker_init() -> None:
    torch.set_num_threads(1)


def _worker(job: tuple[Setup, list[str], str]) -> list[tuple[str, np.ndarray]]:
    setup, archs, device = job
    return list(zip(archs, many_stats(setup, archs, device=device)))


def _chunks(setup: Setup, archs: list[str], workers: int) -> Iterator[list[str]]:
    """Units of work: one arch, or an `engine` batch. Batches are smaller on small runs,
    so that each worker gets at least four: results, commits and progress keep coming."""
    if not batched(setup):
        return ([a] for a in archs)
    return engine.chunks(archs, min(engine.BATCH, -(-len(archs) // (4 * max(1, workers)))))


def compute(
    setup: Setup, archs: Iterable[str], workers: int = 1, device: str = "cpu"
) -> Iterable[tuple[str, np.ndarray]]:
    """Yield (arch, stats) for each arch (a batch at a time where `engine` applies), in
    worker processes when workers > 1."""
    jobs = [(setup, chunk, device) for chunk in _chunks(setup, list(archs), workers)]
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            yield from _worker(job)
        return
    ctx = mp.get_context("spawn")  # fork after torch has threads can deadlock
    with ctx.Pool(min(workers, len(jobs)), initializer=_worker_init) as pool:
        for results in pool.imap_unordered(_worker, jobs):
            yield from results


def score(
    setup: Setup,
    archs: Sequence[str],
    cache: Cache | None = None,
    workers: int = 1,
    device: str = "cpu",
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Statistics of every arch, computing and caching only the missing ones; each
    result is committed as it arrives (the command line and app jobs pass
    `usable_cores()` workers)."""
    cache = cache or Cache()
    have = cache.get(setup, archs)
    missing = [a for a in archs if a not in have]
    done = len(have)
    if progress:
        progress(done, len(archs))

    def record() -> Iterable[tuple[str, np.ndarray]]:
        nonlocal done
        for arch, stats in compute(setup, missing, workers, device):
            have[arch] = stats
            done += 1
            yield arch, stats
            if progress:
                progress(done, len(archs))

    cache.put(setup, record())
    return {a: have[a] for a in archs}


def scores(stats: dict[str, np.ndarray], name: str) -> dict[str, float]:
    """One aggregation of many networks' statistics."""
    return {arch: aggregation.aggregate(s, name) for arch, s in stats.items()}
