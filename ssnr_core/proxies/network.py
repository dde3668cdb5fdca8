"""One network in, per-layer statistics out: build an architecture, feed it its input,
compute a saliency and reduce it to (count, sum, M2) per layer.

NAS-Bench-201 synflow with slot-seeded modules (`Setup.batched`) goes through `engine`,
which scores a batch of architectures in one forward and backward pass; every other
space and saliency builds and scores one network at a time. Both the local pool and
Ray call `many_stats`, so a unit of work gives the same bits wherever it runs.

Initialisation: every module's weights are a pure function of (seed, the module's
slot in the search space) -- see `spaces.modules`. The same seed gives the same
network whatever the order or sample, and NAS-Bench-201 reuses built modules
across architectures instead of rebuilding each network.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssnr_core import benchmarks
from ssnr_core.proxies import aggregation, batches, engine, saliency, zero_cost
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import get_space, nb201
from ssnr_core.spaces.modules import Factory, SeededModules, derive_seed

Batch = tuple[torch.Tensor, torch.Tensor]


def build_network(setup: Setup, arch: str, share: bool = False, device: str = "cpu") -> nn.Module:
    """The network `arch` of `setup`'s space and task, initialised from `setup.seed`, on
    `device` in `setup.dtype` (by default the saliency's). `share` reuses modules built
    for earlier archs (same weights, less time) where the space supports it."""
    space = get_space(setup.space)
    dtype = network_dtype(setup)
    measure = zero_cost.get(setup.saliency)
    weights = measure.protocol.init if measure else "default"
    if share and space.shared_slots and setup.init != "fresh":
        make = _shared_modules(setup.space, setup.seed, device, dtype, weights)
    else:  # "fresh" is NASLib's protocol: a new network per (seed, arch)
        seed = derive_seed(setup.seed, arch) if setup.init == "fresh" else setup.seed
        make = SeededModules(seed, share=False, device=device, dtype=dtype)
        make = make if weights == "default" else zero_cost.drawn(make, weights)
    return space.build(space.parse(arch), setup.task, make=make)


def network_dtype(setup: Setup) -> torch.dtype:
    dtype = getattr(torch, setup.dtype, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"unknown dtype {setup.dtype!r}; use float64 or float32")
    return dtype


@lru_cache(maxsize=4)
def _shared_modules(
    space: str, seed: int, device: str, dtype: torch.dtype, weights: str = "default"
) -> Factory:
    """One bank of modules per process and setting: built once, reused by every arch;
    `weights` other than "default" re-draws each module's weights as a per-network
    measure's protocol says, inside its slot's seeded construction."""
    bank = SeededModules(seed, device=device, dtype=dtype)
    return bank if weights == "default" else zero_cost.drawn(bank, weights)


def inputs(setup: Setup, device: str = "cpu", data_dir: Path | None = None) -> Batch:
    """What the saliency sees: the setup's data batch (images and labels) for a
    data-dependent saliency, else a shape-only placeholder (synflow makes its own
    all-ones input). The driver of a cluster run resolves it once and ships it. A
    per-network measure sees its protocol's batch (`zero_cost.Protocol`); a data-free
    one gets, instead of labels, one int64: the run's seed, for its own random draws."""
    measure = zero_cost.get(setup.saliency)
    if measure is not None:
        return _protocol_batch(setup, device, data_dir)
    if not saliency.get(setup.saliency).needs_data:
        shape = get_space(setup.space).input_shape(setup.task)
        return torch.zeros((1, *shape), device=device), torch.zeros(1, dtype=torch.long)
    if not benchmarks.get_task(setup.space, setup.task).classification:
        raise ValueError(
            f"{setup.saliency} needs class labels; {setup.space}/{setup.task} is not a "
            "classification task (synflow works on every task)"
        )
    return _data_batch(setup, device, data_dir)


@lru_cache(maxsize=4)
def _data_batch(setup: Setup, device: str, data_dir: Path | None) -> Batch:
    space = get_space(setup.space)
    shape = space.input_shape(setup.task)
    classes = space.tasks[setup.task]
    x, y = batches.make_batch(setup.batch, shape, classes, setup.seed, data_dir=data_dir)
    return x.to(device), y.to(device)


@lru_cache(maxsize=4)
def _protocol_batch(setup: Setup, device: str, data_dir: Path | None) -> Batch:
    measure = zero_cost.get(setup.saliency)
    assert measure is not None
    space = get_space(setup.space)
    shape = space.input_shape(setup.task)
    classes = space.tasks[setup.task]
    size = measure.protocol.batch_size * measure.protocol.batches  # all batches, stacked
    if measure.protocol.data and not benchmarks.get_task(setup.space, setup.task).classification:
        raise ValueError(f"{setup.saliency} needs class labels; {setup.task} has none")
    x, y = batches.make_batch(setup.batch, shape, classes, setup.seed, size, data_dir)
    if len(x) < size:
        raise ValueError(
            f"{setup.saliency} needs {size} images ({measure.protocol.describe()}); "
            f"{batches.describe(setup.batch, setup.seed)} has {len(x)}"
        )
    if not measure.protocol.data:
        y = torch.tensor([setup.seed], dtype=torch.int64)
    return x.to(device), y.to(device)


def saliencies(
    setup: Setup,
    arch: str,
    share: bool = False,
    device: str = "cpu",
    data_dir: Path | None = None,
    batch: Batch | None = None,
) -> tuple[list[str], list[torch.Tensor]]:
    """Layer names and per-parameter saliency tensors of one network (float64); `batch`
    overrides `inputs(setup, ...)`."""
    x, y = batch if batch is not None else inputs(setup, device, data_dir)
    measure = zero_cost.get(setup.saliency)
    if measure is not None and measure.protocol.repeats > 1:  # draws weights in place
        model = build_network(setup, arch, False, device)
        names = [name for name, _ in saliency.weight_layers(model)]
        return names, zero_cost.repeated(measure, model, x.to(device), y.to(device), setup.seed)
    model = build_network(setup, arch, share, device)  # in train mode, as built
    names = [name for name, _ in saliency.weight_layers(model)]
    return names, saliency.compute(setup.saliency, model, x.to(device), y.to(device))


def network_stats(
    setup: Setup,
    arch: str,
    share: bool = True,
    device: str = "cpu",
    data_dir: Path | None = None,
) -> np.ndarray:
    """(L, 3) statistics (count, sum, M2) of one architecture."""
    return many_stats(setup, [arch], share, device, data_dir)[0]


def many_stats(
    setup: Setup,
    archs: Sequence[str],
    share: bool = True,
    device: str = "cpu",
    data_dir: Path | None = None,
    batch: Batch | None = None,
) -> list[np.ndarray]:
    """Statistics of each arch: one batch through `engine` where it applies, else one
    network at a time (`batch`: as in `saliencies`)."""
    if setup.batched:
        parsed = [nb201.parse(a) for a in archs]
        return engine.synflow_stats(parsed, setup.task, setup.seed, device, network_dtype(setup))
    measure = zero_cost.get(setup.saliency)
    if measure and measure.live_only and setup.space == "nb201" and setup.init == "slot" and share:
        return [_live_stats(setup, a, device, data_dir, batch) for a in archs]
    return [
        aggregation.layer_stats(saliencies(setup, a, share, device, data_dir, batch)[1])
        for a in archs
    ]


_LIVE: dict[tuple[Setup, nb201.Arch, str], np.ndarray] = {}
_LIVE_MAX = 20_000  # entries (a few hundred bytes each); NB201 has 9,445 live cells


def _live_stats(
    setup: Setup, arch: str, device: str, data_dir: Path | None, batch: Batch | None
) -> np.ndarray:
    """A `live_only` measure's statistics of one arch: its components computed once per
    process for each live cell (slot-seeded modules: archs alike on their live edges run
    the same modules on the same input, so the same bits; 9,445 of NB201's 15,625 cells
    are distinct there) and its complexity counted for the arch itself."""
    parsed = nb201.parse(arch)
    key = (setup, engine.live_arch(parsed), device)
    if key not in _LIVE:
        if len(_LIVE) >= _LIVE_MAX:
            _LIVE.clear()
        live = nb201.to_str(key[1])
        _LIVE[key] = aggregation.layer_stats(
            saliencies(setup, live, True, device, data_dir, batch)[1]
        )
    stats = _LIVE[key].copy()
    measure = zero_cost.get(setup.saliency)
    if measure is not None and "complexity" in measure.components:
        hw = get_space(setup.space).input_shape(setup.task)[1:]
        model = build_network(setup, arch, share=True, device=device)
        stats[measure.components.index("complexity"), aggregation.SUM] = zero_cost.benchmark_flops(
            model, (hw[0], hw[1])
        )
    return stats


def chunks(setup: Setup, archs: Sequence[str], size: int = 1) -> list[list[str]]:
    """Units of work: an `engine` batch, or `size` archs scored one by one. Engine batches
    are always `engine.BATCH` archs, whatever the number of workers (local or Ray): float32
    results differ in the last bits with a batch's make-up, so the same archs in the same
    batches give the same bits everywhere."""
    if setup.batched:
        return list(engine.chunks(archs, engine.BATCH))
    return [list(archs[i : i + size]) for i in range(0, len(archs), size)]
