"""Size baselines: parameter count and FLOPs of every architecture, as scores.

A zero-cost proxy is only interesting if it beats "bigger is better"; these two
numbers are that bar, computed by the project from the built network (not read
from a benchmark file), so they exist for every architecture of every space:

- `params`: parameters of the network's Conv/Linear/BatchNorm modules (the only
  parametrised modules in the three spaces, so this equals NASLib's stored `params`
  for every NASLib entry), in millions;
- `flops`: multiply-accumulates (MACs, the convention NAS-Bench-201 and NASLib call
  "FLOPs") of the Conv and Linear layers for one input of the task's shape, counted
  with forward hooks, in millions. Ops that the network skips (an op whose input node
  is all-zero because every edge into it is `none`) run no MACs and count none; NASLib
  counts them, and adds BatchNorm/pooling terms, so its stored `flops` differ from ours
  in value but rank alike (Spearman > 0.95 on NB201/NB301).

Both ignore the weights, so they do not depend on the seed or the init protocol. They
are cached in `baselines.sqlite` beside the statistics cache (one row per space, task,
version, arch; each committed as it is computed), so the full NB201 space is counted
once (~10 min) and then read in milliseconds. A separate file keeps them out of the
statistics table's schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ssnr_core.runs.threads import one_thread
from ssnr_core.spaces import get_space
from ssnr_core.spaces.modules import SeededModules

NAMES = ("params", "flops")
VERSION = "1"  # bump when the counting changes
_PARAM_MODULES = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._BatchNorm)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS baselines (
    space TEXT, task TEXT, version TEXT, arch TEXT, params REAL, flops REAL,
    PRIMARY KEY (space, task, version, arch)
)
"""


@lru_cache(maxsize=2)
def _bank(space: str) -> SeededModules:
    """Modules reused across archs (weights are irrelevant to a count; building is not)."""
    return SeededModules(0, dtype=torch.float32)


def count(space: str, task: str, arch: str, flops: bool = True) -> tuple[float, float]:
    """(params, MACs) of one architecture, both in millions (MACs NaN when not `flops`:
    counting parameters needs no forward pass)."""
    sp = get_space(space)
    make = _bank(space) if sp.shared_slots else SeededModules(0, share=False)
    with one_thread():  # a second thread only spins on a busy machine
        model = sp.build(sp.parse(arch), task, make=make)
    params = sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, _PARAM_MODULES)
        for p in m.parameters(recurse=False)
    )
    if not flops:
        return params / 1e6, float("nan")
    macs = [0]

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        macs[0] += _macs(module, inputs[0], out)

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))
    ]
    try:
        with torch.no_grad(), one_thread():
            model.eval()(torch.zeros((1, *sp.input_shape(task))))
    finally:
        for h in handles:
            h.remove()
    return params / 1e6, macs[0] / 1e6


def _macs(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-accumulates of one call: each output (input, for a transposed conv)
    element of a conv costs in_channels/groups x kernel; a Linear in x out per row."""
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    assert isinstance(module, nn.modules.conv._ConvNd)  # only Linear and convs are hooked
    k = int(torch.tensor(module.kernel_size).prod())
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return x.numel() * module.out_channels // module.groups * k
    return out.numel() * module.in_channels // module.groups * k


class BaselineCache:
    """params/flops per (space, task, arch) in one small SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:
                yield con
        finally:
            con.close()

    def get(self, space: str, task: str) -> dict[str, tuple[float, float]]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT arch, params, flops FROM baselines WHERE space=? AND task=? AND version=?",
                (space, task, VERSION),
            ).fetchall()
        return {a: (p, f) for a, p, f in rows}

    def put(self, space: str, task: str, arch: str, params: float, flops: float) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?, ?, ?)",
                (space, task, VERSION, arch, params, flops),
            )


def cache_for(stats_cache_path: Path) -> BaselineCache | None:
    """The baseline cache that sits beside a statistics cache file; None when it cannot
    be opened for writing (a read-only cache folder): counts are then made, not kept."""
    try:
        return BaselineCache(Path(stats_cache_path).with_name("baselines.sqlite"))
    except (OSError, sqlite3.Error):
        return None


def table(
    space: str,
    task: str,
    archs: Sequence[str],
    cache: BaselineCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """params and flops (millions) of every arch, counting only what the cache lacks."""
    have = cache.get(space, task) if cache else {}
    missing = [a for a in archs if a not in have]
    for i, arch in enumerate(missing):
        have[arch] = count(space, task, arch)
        if cache:
            cache.put(space, task, arch, *have[arch])
        if progress:
            progress(len(archs) - len(missing) + i + 1, len(archs))
    return pd.DataFrame(
        [have[a] for a in archs], index=pd.Index(list(archs), name="arch"), columns=list(NAMES)
    )
