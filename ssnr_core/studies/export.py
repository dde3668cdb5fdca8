"""Per-architecture scores in NASLib's zero-cost JSON shape, for NASLib users' ensembles.

NAS-Bench-Suite-Zero files are `{task: {arch_key: {proxy: {"score", "time"}, ...,
"val_accuracy"}}}` with NASLib's own architecture keys (e.g. NB201 "(4, 3, 3, 3, 2, 3)");
NASLib's predictors and optimisers read `zc_api[str(arch)][proxy]["score"]` and
`["val_accuracy"]`. We write the same shape with the same keys (`Space.naslib_key`), one
proxy per aggregation named `<saliency>_<aggregation>` (`synflow_sum`, `synflow_ssnr`,
`synflow_layerwise_ssnr`; so they never collide with NASLib's own `synflow`), plus
`params` and `flops` (millions, as NASLib stores them) where `baselines.sqlite` has them.
`time` is null: scores come from the cache, which keeps no timings. `val_accuracy` is the
evaluated ground truth and is left out for an architecture that has none. A score that is
NaN (a non-finite statistic) is written as null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ssnr_core.proxies import aggregation
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.spaces import get_space
from ssnr_core.studies import baselines

Record = dict[str, object]


def proxy_name(saliency: str, aggregation_name: str) -> str:
    return f"{saliency}_{aggregation_name}"


def _value(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def records(
    setup: Setup,
    stats: Mapping[str, np.ndarray],
    truth: pd.Series | None = None,
    sizes: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Record]:
    """{NASLib key: {proxy: {"score", "time"}, "val_accuracy"}} for the archs in `stats`
    (canonical strings); `sizes` maps an arch to its (params, flops)."""
    space = get_space(setup.space)
    archs = list(stats)
    if not archs:
        return {}
    scores = aggregation.aggregate_all([stats[a] for a in archs])
    out: dict[str, Record] = {}
    for i, arch in enumerate(archs):
        rec: Record = {
            proxy_name(setup.saliency, agg): {"score": _value(scores[agg][i]), "time": None}
            for agg in aggregation.AGGREGATIONS
        }
        if sizes and arch in sizes:
            for name, v in zip(baselines.NAMES, sizes[arch], strict=True):
                if math.isfinite(v):
                    rec[name] = {"score": float(v), "time": None}
        if truth is not None and arch in truth.index and math.isfinite(truth[arch]):
            rec["val_accuracy"] = float(truth[arch])
        out[space.naslib_key(arch)] = rec
    return out


def from_cache(
    setup: Setup, cache: Cache, archs: Sequence[str], truth: pd.Series | None = None
) -> dict[str, dict[str, Record]]:
    """`{task: records}` of the cached archs among `archs` (the others are left out)."""
    stats = cache.get(setup, archs)
    base = baselines.cache_for(cache.path)
    sizes = base.get(setup.space, setup.task) if base else {}
    ordered = {a: stats[a] for a in archs if a in stats}
    return {setup.task: records(setup, ordered, truth, sizes)}


def merge(into: dict[str, dict[str, Record]], more: Mapping[str, dict[str, Record]]) -> None:
    """Add `more`'s tasks and records to `into` (records of one arch are merged)."""
    for task, recs in more.items():
        for key, rec in recs.items():
            into.setdefault(task, {}).setdefault(key, {}).update(rec)
