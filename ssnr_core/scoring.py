"""Turn architectures into cached per-layer saliency statistics.

`network_stats` scores one architecture; `score` scores many, skipping what the
cache has, committing each result as it arrives (so an interrupted run resumes
where it stopped), optionally in worker processes (one torch thread each: these
small networks do not gain from a second thread, but two processes do double the
throughput on two cores).

Initialisation: every module's weights are a pure function of (seed, the module's
slot in the search space) -- see `spaces.modules`. The same seed gives the same
network whatever the order or sample, and NAS-Bench-201 reuses built modules
across architectures instead of rebuilding each network.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssnr_core import aggregation, batches, benchmarks, saliency
from ssnr_core.cache import Cache
from ssnr_core.setup import Setup
from ssnr_core.spaces import get_space
from ssnr_core.spaces.modules import SeededModules, derive_seed
from ssnr_core.threads import set_threads

Progress = Callable[[int, int], None]


def build_network(setup: Setup, arch: str, share: bool = False, device: str = "cpu") -> nn.Module:
    """The network `arch` of `setup`'s space and task, initialised from `setup.seed`, on
    `device` in `setup.dtype` (by default the saliency's). `share` reuses modules built
    for earlier archs (same weights, less time) where the space supports it."""
    space = get_space(setup.space)
    dtype = getattr(torch, setup.dtype, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"unknown dtype {setup.dtype!r}; use float64 or float32")
    if setup.init == "fresh":  # NASLib's protocol: a new network per (seed, arch)
        make = SeededModules(derive_seed(setup.seed, arch), share=False, device=device, dtype=dtype)
    elif share and space.shared_slots:
        make = _shared_modules(setup.space, setup.seed, device, dtype)
    else:
        make = SeededModules(setup.seed, share=False, device=device, dtype=dtype)
    return space.build(space.parse(arch), setup.task, make=make)


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
    return aggregation.layer_stats(saliencies(setup, arch, share, device, data_dir)[1])


def _worker_init() -> None:
    set_threads(1)


def _worker(job: tuple[Setup, str, str, Path | None]) -> tuple[str, np.ndarray]:
    setup, arch, device, data_dir = job
    return arch, network_stats(setup, arch, device=device, data_dir=data_dir)


def compute(
    setup: Setup,
    archs: Iterable[str],
    workers: int = 1,
    device: str = "cpu",
    data_dir: Path | None = None,
) -> Iterable[tuple[str, np.ndarray]]:
    """Yield (arch, stats) for each arch, in worker processes when workers > 1."""
    archs = list(archs)
    if workers <= 1 or len(archs) < 2:
        for arch in archs:
            yield arch, network_stats(setup, arch, device=device, data_dir=data_dir)
        return
    ctx = mp.get_context("spawn")  # fork after torch has threads can deadlock
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        yield from pool.imap_unordered(_worker, [(setup, a, device, data_dir) for a in archs])


def score(
    setup: Setup,
    archs: Sequence[str],
    cache: Cache,
    workers: int = 1,
    device: str = "cpu",
    progress: Progress | None = None,
    data_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """Statistics of every arch, computing and caching only the missing ones."""
    have = cache.get(setup, archs)
    missing = [a for a in archs if a not in have]
    done = len(have)
    if progress:
        progress(done, len(archs))

    def record() -> Iterable[tuple[str, np.ndarray]]:
        nonlocal done
        for arch, stats in compute(setup, missing, workers, device, data_dir):
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
