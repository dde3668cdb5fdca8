"""The numbers the lecture shows, found in the whole space rather than typed in.

Each function picks or summarises real architectures from a score table (one row per
cell: sum, ssnr, layerwise_ssnr) and their accuracy, and says how it picked them, so the
page can state the rule beside the example: the widest vertical band of the sum-only
scatter, the pair with nearly equal S_n and the largest accuracy gap, how often each
aggregation orders such pairs correctly, and, for one network, how saliency per weight
falls with a layer's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssnr_core.proxies import aggregation
from ssnr_core.studies import correlation, evaluation

BAND_DECADES = 0.1  # a vertical band of the sum-only scatter: archs whose log10 S_n is this close
PAIR_TOLERANCE = 0.01  # a pair has "near-equal S_n" when the sums differ by at most 1%


def _usable(table: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    """Rows with a positive sum and a finite accuracy, with the accuracy as a column."""
    acc = truth.reindex(table.index)
    ok = np.isfinite(acc.to_numpy(float)) & (table["sum"].to_numpy(float) > 0)
    return table.loc[ok].assign(accuracy=acc[ok])


@dataclass(frozen=True)
class Band:
    """The band lo <= log10 S_n < hi: n architectures, accuracies from acc_min to acc_max."""

    lo: float
    hi: float
    n: int
    acc_min: float
    acc_max: float


def widest_band(
    table: pd.DataFrame, truth: pd.Series, width: float = BAND_DECADES, min_n: int = 20
) -> Band:
    """The band of `width` decades of S_n (of those holding at least `min_n` archs) whose
    accuracies span the widest range."""
    rows = _usable(table, truth)
    logs = np.log10(rows["sum"].to_numpy(float))
    bins = np.floor(logs / width).astype(np.int64)
    acc = rows["accuracy"].to_numpy(float)
    frame = pd.DataFrame({"bin": bins, "acc": acc})
    grouped = frame.groupby("bin")["acc"].agg(["count", "min", "max"])
    grouped = grouped[grouped["count"] >= min_n]
    if grouped.empty:
        raise ValueError(f"no band of {width} decades holds {min_n} architectures")
    spread = grouped["max"] - grouped["min"]
    best = spread.idxmax()
    row = grouped.loc[best]
    return Band(
        float(best * width),
        float((best + 1) * width),
        int(row["count"]),
        float(row["min"]),
        float(row["max"]),
    )


def within_bands(
    table: pd.DataFrame, truth: pd.Series, width: float = 1.0, min_n: int = 100
) -> pd.DataFrame:
    """Spearman of each aggregation with accuracy inside each band of `width` decades of
    S_n holding at least `min_n` archs: where the sum cannot tell archs apart (they all
    have about the same S_n), does dividing by sigma still rank them? One row per band:
    lo (log10 S_n), n, accuracy spread (points) and one column per aggregation."""
    rows = _usable(table, truth)
    bins = np.floor(np.log10(rows["sum"].to_numpy(float)) / width)
    out = []
    for value, idx in rows.groupby(bins).groups.items():
        if len(idx) < min_n:
            continue
        band = rows.loc[idx]
        y = band["accuracy"].to_numpy(float)
        out.append(
            {
                "lo": float(value * width),
                "n": len(idx),
                "spread": float(y.max() - y.min()),
                **{
                    agg: correlation.spearman(band[agg].to_numpy(float), y)
                    for agg in aggregation.AGGREGATIONS
                },
            }
        )
    return pd.DataFrame(out, columns=["lo", "n", "spread", *aggregation.AGGREGATIONS])


@dataclass(frozen=True)
class Pair:
    """Two architectures with near-equal S_n and very different accuracy; `better` is
    the more accurate. `rule` says how they were picked."""

    better: str
    worse: str
    rule: str


def contrast_pair(table: pd.DataFrame, truth: pd.Series, tolerance: float = PAIR_TOLERANCE) -> Pair:
    """Of all pairs of architectures whose sums differ by at most `tolerance` of the
    larger, the one with the largest accuracy gap (ties: the first in sum order)."""
    rows = _usable(table, truth).sort_values("sum", kind="stable")
    s, acc = rows["sum"].to_numpy(float), rows["accuracy"].to_numpy(float)
    best, where, count = -1.0, (0, 0), 0
    for k in range(1, len(s)):  # pairs (i, i + k); sorted, so a wider k is never closer
        i = np.flatnonzero(s[:-k] >= (1 - tolerance) * s[k:])
        if not i.size:
            break
        count += i.size
        gaps = np.abs(acc[i] - acc[i + k])
        top = int(np.argmax(gaps))
        if gaps[top] > best:
            best, where = float(gaps[top]), (int(i[top]), int(i[top]) + k)
    if count == 0:
        raise ValueError(f"no two architectures have sums within {tolerance:.0%}")
    a, b = where
    better, worse = (a, b) if acc[a] > acc[b] else (b, a)
    rule = (
        f"of the {count:,} pairs whose S_n differ by at most {tolerance:.0%}, the one with "
        "the largest accuracy gap"
    )
    return Pair(str(rows.index[better]), str(rows.index[worse]), rule)


def standing(table: pd.DataFrame, truth: pd.Series, archs: Sequence[str]) -> pd.DataFrame:
    """Where `archs` rank in the whole table under each aggregation and by accuracy
    (1 = highest; ties share the best rank), one row per arch."""
    ranks = {
        agg: table[agg].rank(ascending=False, method="min") for agg in aggregation.AGGREGATIONS
    }
    ranks["accuracy"] = truth.reindex(table.index).rank(ascending=False, method="min")
    return pd.DataFrame(ranks).loc[list(archs)].astype(int)


def per_weight(layers: pd.DataFrame) -> pd.DataFrame:
    """Per live layer of one network (`explain.Explanation.layers`): weights, S_n^l, and
    the saliency per weight S_n^l / n_l, which falls as layers grow when a conserved
    flow is shared among more weights."""
    live = layers[layers["sum"] > 0]
    return pd.DataFrame(
        {
            "layer": live["layer"].to_numpy(),
            "count": live["count"].to_numpy(int),
            "sum": live["sum"].to_numpy(float),
            "per_weight": (live["sum"] / live["count"]).to_numpy(float),
        }
    )


def size_rho(table: pd.DataFrame) -> float:
    """Spearman of a layer's weight count and its saliency per weight (`per_weight`)."""
    return correlation.spearman(table["count"].to_numpy(float), table["per_weight"].to_numpy())


@dataclass(frozen=True)
class Facts:
    """Everything the lecture says about the whole space, computed at once."""

    n: int
    band: Band
    pair: Pair
    bands: pd.DataFrame  # `within_bands`
    standing: pd.DataFrame  # `standing` of the pair (better first)
    summaries: dict[str, correlation.Summary]  # every aggregation over the whole table


def facts(
    table: pd.DataFrame,
    truth: pd.Series,
    *,
    n_boot: int = 100,
    seed: int = 0,
    summaries: dict[str, correlation.Summary] | None = None,
) -> Facts:
    """The lecture's numbers for one score table (e.g. the pack's, one task); the
    correlations are computed unless given (the pack stores them)."""
    pair = contrast_pair(table, truth)
    scores = table[list(aggregation.AGGREGATIONS)]
    return Facts(
        n=len(table),
        band=widest_band(table, truth),
        pair=pair,
        bands=within_bands(table, truth),
        standing=standing(table, truth, [pair.better, pair.worse]),
        summaries=summaries or evaluation.correlate(scores, truth, n_boot, seed),
    )


@dataclass(frozen=True)
class Pruned:
    """The furthest pruning step at which accuracy is still within `drop` points of the
    unpruned network, and each aggregation there relative to its unpruned value."""

    drop: float
    fraction: float
    accuracy: float  # test accuracy there, %
    start: float  # test accuracy unpruned, %
    relative: dict[str, float]


def still_accurate(curve: pd.DataFrame, drop: float = 1.0) -> Pruned:
    """From `pruning.prune_curve`'s table: how far S_n has fallen while accuracy has not."""
    acc = 100 * curve["test_accuracy"].to_numpy(float)
    ok = np.flatnonzero(acc >= acc[0] - drop)
    last = int(ok.max())
    relative = {
        agg: float(curve[agg].iloc[last] / curve[agg].iloc[0]) if curve[agg].iloc[0] else np.nan
        for agg in aggregation.AGGREGATIONS
    }
    return Pruned(
        drop, float(curve["fraction_pruned"].iloc[last]), float(acc[last]), float(acc[0]), relative
    )
