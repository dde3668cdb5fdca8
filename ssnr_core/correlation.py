"""Rank correlation between scores and ground truth, with bootstrap intervals.

Plain functions over two equal-length arrays, in the manner of scipy.stats.
Pairs where either value is NaN or infinite are dropped first (`finite_pairs`);
`summary` reports how many remain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

Stat = Callable[[np.ndarray, np.ndarray], float]


def finite_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"scores and truth differ in length: {x.shape} vs {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties); NaN for fewer than 3 pairs."""
    x, y = finite_pairs(x, y)
    if len(x) < 3:
        return float("nan")
    return float(st.spearmanr(x, y).statistic)


def kendall(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b; NaN for fewer than 3 pairs."""
    x, y = finite_pairs(x, y)
    if len(x) < 3:
        return float("nan")
    return float(st.kendalltau(x, y, variant="b").statistic)


def top_k_precision(x: np.ndarray, y: np.ndarray, k: float = 0.1) -> float:
    """Share of the top-k fraction by score that is also in the top-k fraction by truth."""
    x, y = finite_pairs(x, y)
    m = max(1, round(k * len(x)))
    if len(x) == 0:
        return float("nan")
    top_x = set(np.argsort(-x, kind="stable")[:m])
    top_y = set(np.argsort(-y, kind="stable")[:m])
    return len(top_x & top_y) / m


def bootstrap_ci(
    x: np.ndarray, y: np.ndarray, stat: Stat, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of `stat` over resampled pairs (seeded)."""
    x, y = finite_pairs(x, y)
    if len(x) < 3 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    if stat is spearman:  # vectorised: rank each resample, then Pearson of the ranks
        rx, ry = st.rankdata(x[idx], axis=1), st.rankdata(y[idx], axis=1)
        rx -= rx.mean(axis=1, keepdims=True)
        ry -= ry.mean(axis=1, keepdims=True)
        den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
        values = np.divide((rx * ry).sum(axis=1), den, out=np.full(n_boot, np.nan), where=den > 0)
    else:
        values = np.array([stat(x[i], y[i]) for i in idx])
    alpha = (1 - level) / 2
    lo, hi = np.nanquantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Summary:
    """How well one score tracks the truth: the record every table, card and JSON shows."""

    n: int  # pairs used
    dropped: int  # pairs dropped for a non-finite score or truth
    spearman: float
    kendall: float
    spearman_ci95: tuple[float, float]
    kendall_ci95: tuple[float, float]
    top10_precision: float

    def row(self) -> dict[str, float]:
        """Flat columns for a table (`*_lo`/`*_hi` are the 95% interval)."""
        return {
            "n": self.n,
            "dropped": self.dropped,
            "spearman": self.spearman,
            "spearman_lo": self.spearman_ci95[0],
            "spearman_hi": self.spearman_ci95[1],
            "kendall": self.kendall,
            "kendall_lo": self.kendall_ci95[0],
            "kendall_hi": self.kendall_ci95[1],
            "top10%_precision": self.top10_precision,
        }


def summary(x: np.ndarray, y: np.ndarray, n_boot: int = 1000, seed: int = 0) -> Summary:
    """Spearman, Kendall (each with a 95% interval), top-10% precision and n used."""
    fx, fy = finite_pairs(x, y)
    return Summary(
        n=len(fx),
        dropped=int(len(np.asarray(x)) - len(fx)),
        spearman=spearman(fx, fy),
        kendall=kendall(fx, fy),
        spearman_ci95=bootstrap_ci(fx, fy, spearman, n_boot, seed),
        kendall_ci95=bootstrap_ci(fx, fy, kendall, n_boot, seed),
        top10_precision=top_k_precision(fx, fy, 0.1),
    )


def top_k_curve(
    x: np.ndarray, y: np.ndarray, fractions: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """For each fraction f (default 1%, 2%, ..., 100%), with k = max(1, round(f n)): the
    precision at k (share of the top k by score that is in the top k by truth) and the best
    true rank (1 = the most accurate architecture) among the top k by score: how good a
    search that keeps the k best-scored architectures would be."""
    x, y = finite_pairs(x, y)
    fractions = np.arange(1, 101) / 100 if fractions is None else np.asarray(fractions, float)
    n = len(x)
    if n == 0:
        nan = np.full(len(fractions), np.nan)
        return {
            "fraction": fractions,
            "k": np.zeros(len(fractions), int),
            "precision": nan,
            "best_true_rank": nan,
        }
    by_score = np.argsort(-x, kind="stable")
    true_rank = np.empty(n, dtype=np.int64)
    true_rank[np.argsort(-y, kind="stable")] = np.arange(1, n + 1)
    ranks_in_score_order = true_rank[by_score]
    ks = np.maximum(1, np.round(fractions * n).astype(np.int64))
    precision = np.array([(ranks_in_score_order[:k] <= k).mean() for k in ks])
    best = np.minimum.accumulate(ranks_in_score_order)[ks - 1]
    return {"fraction": fractions, "k": ks, "precision": precision, "best_true_rank": best}
