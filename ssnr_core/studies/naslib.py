"""NASLib's stored zero-cost proxies, as read-only scores on the architectures it sampled.

The NAS-Bench-Suite-Zero files carry, per sampled architecture, NASLib's own scores:
epe_nas, fisher, flops, grad_norm, grasp, jacov, l2_norm, nwot, params, plain, snip and
synflow (NB201 and NB301; TNB101's file has all but synflow). `zen`, part of the
paper's suite, is in none of the files. They are fixed numbers from NASLib's own
initialisation and batch, so they put our figures beside NASLib's on the very same
architectures and truth, and say how closely our saliencies rank like theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ssnr_core import benchmarks
from ssnr_core.studies import correlation

PROXIES = (
    "epe_nas",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacov",
    "l2_norm",
    "nwot",
    "params",
    "plain",
    "snip",
    "synflow",
)
MISSING = ("zen",)  # in NASLib's suite, but not in the files
# Our saliency -> the NASLib proxy that computes the same quantity (their code, init and
# batch). NASLib's nwot is NASWOT on a data batch, our `naswot_data`.
SAME_AS = {
    "synflow": "synflow",
    "snip": "snip",
    "grasp": "grasp",
    "fisher": "fisher",
    "grad_norm": "grad_norm",
    "naswot_data": "nwot",
}


def proxies(space: str, task: str, data_dir: Path | None = None) -> pd.DataFrame:
    """One row per NASLib-sampled arch (canonical string), one column per stored proxy
    (those absent from the task's file are left out)."""
    entries = benchmarks.naslib_entries(space, task, data_dir)
    cols = {
        p: [float(r[p]["score"]) if p in r else np.nan for r in entries.values()] for p in PROXIES
    }
    table = pd.DataFrame(cols, index=pd.Index(list(entries), name="arch"))
    return table.dropna(axis=1, how="all")


def summaries(
    space: str,
    task: str,
    truth: pd.Series | None = None,
    archs: list[str] | None = None,
    n_boot: int = 0,
    seed: int = 0,
    data_dir: Path | None = None,
) -> dict[str, correlation.Summary]:
    """proxy -> Summary against `truth` (default NASLib's val_accuracy) on NASLib's
    archs, restricted to `archs` when given (e.g. the evaluated sample)."""
    table = proxies(space, task, data_dir)
    if archs is not None:
        table = table.loc[[a for a in archs if a in table.index]]
    if truth is None:
        truth = benchmarks.truth(space, task, "naslib", data_dir)
    y = truth.reindex(table.index).to_numpy()
    return {p: correlation.summary(table[p].to_numpy(), y, n_boot, seed) for p in table.columns}


def best(found: dict[str, correlation.Summary], by: str = "kendall") -> str | None:
    """The proxy with the highest correlation `by`, excluding the size baselines
    (params, flops: not zero-cost proxies in the sense of the comparison)."""
    usable = {
        p: getattr(s, by)
        for p, s in found.items()
        if p not in ("params", "flops") and np.isfinite(getattr(s, by))
    }
    return max(usable, key=usable.__getitem__) if usable else None


def agreement(ours: pd.Series, space: str, task: str, proxy: str) -> tuple[float, int]:
    """(Spearman, n) between our scores (indexed by canonical arch) and NASLib's stored
    `proxy` on the archs both have; (NaN, 0) when NASLib has no such proxy."""
    table = proxies(space, task)
    if proxy not in table.columns:
        return float("nan"), 0
    common = [a for a in ours.index if a in table.index]
    x, y = ours.reindex(common).to_numpy(), table.loc[common, proxy].to_numpy()
    return correlation.spearman(x, y), len(correlation.finite_pairs(x, y)[0])


@dataclass(frozen=True)
class Stored:
    """NASLib's stored `proxy` for our `saliency` on their sample of `space`/`task`,
    against their `val_accuracy`: an instant view of a setup that would take long to
    score here, with their computation, initialisation, batch and sample."""

    space: str
    task: str
    saliency: str
    proxy: str
    scores: pd.Series  # NASLib's score by canonical arch
    truth: pd.Series  # NASLib's val_accuracy, same index
    summary: correlation.Summary
    n_boot: int  # bootstrap resamples of the summary's intervals


def stored(
    space: str, task: str, saliency: str, n_boot: int = 0, data_dir: Path | None = None
) -> Stored | None:
    """NASLib's stored scores for `saliency` on `space`/`task` with their correlations,
    or None where NASLib has no file for the task or no such proxy (e.g. zen, meco,
    TNB101's synflow)."""
    proxy = SAME_AS.get(saliency)
    if proxy is None or "naslib" not in benchmarks.get_task(space, task).sources:
        return None
    try:
        scores = benchmarks.naslib_scores(space, task, proxy, data_dir)
    except KeyError:  # the file has no such task
        return None
    if scores.empty:
        return None
    scores.index.name = "arch"
    truth = benchmarks.truth(space, task, "naslib", data_dir).reindex(scores.index)
    found = correlation.summary(scores.to_numpy(), truth.to_numpy(), n_boot, 0)
    return Stored(space, task, saliency, proxy, scores, truth, found, n_boot)
