"""Rank correlation between scores and ground truth, with bootstrap intervals.

Plain functions over two equal-length arrays, in the manner of scipy.stats.
Pairs where either value is NaN or infinite are dropped first (`finite_pairs`);
`summary` reports how many remain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r (linear, so scale-sensitive: a proxy spanning decades scores low);
    NaN for fewer than 3 pairs or a constant input."""
    x, y = finite_pairs(x, y)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(st.pearsonr(x, y).statistic)


def _top(values: np.ndarray, k: float) -> np.ndarray:
    """Indices of the top-k fraction (at least one) by value, best first; ties by position."""
    m = max(1, round(k * len(values)))
    return np.argsort(-values, kind="stable")[:m]


def top_k_kendall(x: np.ndarray, y: np.ndarray, k: float = 0.1) -> float:
    """Kendall's tau-b among the architectures in the top-k fraction by truth: does the
    score order the good ones (what a search needs), not only good from bad?"""
    x, y = finite_pairs(x, y)
    if len(x) == 0:
        return float("nan")
    top = _top(y, k)
    return kendall(x[top], y[top])


def best_true_rank(x: np.ndarray, y: np.ndarray, k: float = 0.1) -> float:
    """The best truth rank (1 = the most accurate of all) among the top-k fraction by
    score: how good the best architecture a search would keep is."""
    x, y = finite_pairs(x, y)
    if len(x) == 0:
        return float("nan")
    ranks = st.rankdata(-y, method="min")
    return float(ranks[_top(x, k)].min())


def top_k_precision(x: np.ndarray, y: np.ndarray, k: float = 0.1) -> float:
    """Share of the top-k fraction by score that is also in the top-k fraction by truth."""
    x, y = finite_pairs(x, y)
    if len(x) == 0:
        return float("nan")
    top_x, top_y = set(_top(x, k)), set(_top(y, k))
    return len(top_x & top_y) / len(top_x)


def n_boot_for(n: int) -> int:
    """Bootstrap resamples for n architectures: 1000 up to 1,000 points, then fewer so
    one correlation summary stays about a second on two cores (cost grows with
    resamples x n log n); never under 100, which is what all 15,625 NB201 cells get
    (their 95% interval is a few thousandths wide anyway)."""
    return int(min(1000, max(100, 1_000_000 // max(n, 1))))


def bootstrap_ci(
    x: np.ndarray, y: np.ndarray, stat: Stat, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of `stat` over resampled pairs (seeded)."""
    x, y = finite_pairs(x, y)
    if len(x) < 3 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    values = _resampled(x, y, idx, stat)
    alpha = (1 - level) / 2
    lo, hi = np.nanquantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _resampled(x: np.ndarray, y: np.ndarray, idx: np.ndarray, stat: Stat) -> np.ndarray:
    """`stat` on every resample (rows of `idx`); Spearman vectorised: Pearson of ranks."""
    if stat is not spearman:
        return np.array([stat(x[i], y[i]) for i in idx])
    rx, ry = st.rankdata(x[idx], axis=1), st.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    return np.divide((rx * ry).sum(axis=1), den, out=np.full(len(idx), np.nan), where=den > 0)


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    stat: Stat,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """stat(a, y) - stat(b, y) and its percentile interval, both scores evaluated on the
    same resamples: the two correlations share their noise (same architectures, same
    truth), so the paired interval is much narrower than comparing two separate ones.
    Rows where a, b or y is not finite are dropped first."""
    found = paired_bootstraps({"a": a, "b": b}, y, [("a", "b")], stat, n_boot, seed, level)
    return found["a", "b"]


def paired_bootstraps(
    scores: Mapping[str, np.ndarray],
    y: np.ndarray,
    which: Sequence[tuple[str, str]],
    stat: Stat,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """`paired_bootstrap` for several pairs at once: each score's statistic is computed
    once per resample and shared by its pairs. Rows where any score or y is not finite
    are dropped first, so every pair sees the same rows."""
    y = np.asarray(y, dtype=np.float64)
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    if any(c.shape != y.shape for c in cols.values()):
        shapes = ", ".join(str(c.shape) for c in cols.values())
        raise ValueError(f"scores and truth differ in length: {shapes} vs {y.shape}")
    keep = np.isfinite(y)
    for c in cols.values():
        keep &= np.isfinite(c)
    y = y[keep]
    cols = {k: c[keep] for k, c in cols.items()}
    point = {k: stat(c, y) for k, c in cols.items()}
    if len(y) < 3 or n_boot < 1:
        return {(a, b): (float(point[a] - point[b]), float("nan"), float("nan")) for a, b in which}
    idx = np.random.default_rng(seed).integers(0, len(y), size=(n_boot, len(y)))
    used = {k for pair in which for k in pair}
    boot = {k: _resampled(cols[k], y, idx, stat) for k in used}
    alpha = (1 - level) / 2
    out = {}
    for a, b in which:
        lo, hi = np.nanquantile(boot[a] - boot[b], [alpha, 1 - alpha])
        out[a, b] = (float(point[a] - point[b]), float(lo), float(hi))
    return out


def verdict(a: str, b: str, delta: float, lo: float, hi: float, symbol: str = "τ") -> str:
    """One sentence for a paired difference: better, worse, or no significant difference
    (the interval contains 0)."""
    figures = f"Δ{symbol} = {delta:.3f} [{lo:.3f}, {hi:.3f}]"
    if not np.isfinite(lo) or not np.isfinite(hi):
        return f"{a} vs {b}: {figures} (too few architectures for an interval)"
    if lo > 0:
        return f"{a} tracks accuracy better than {b}: {figures}"
    if hi < 0:
        return f"{a} tracks accuracy worse than {b}: {figures}"
    return f"no significant difference between {a} and {b}: {figures}"


def rank_mean(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of the columns' ranks (average ranks for ties; higher value, higher rank):
    combines scores of any scale; NaN where any column is not finite."""
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    bad = np.zeros(len(cols[0]), dtype=bool)
    for c in cols:
        bad |= ~np.isfinite(c)
    out = np.full(len(cols[0]), np.nan)
    if (~bad).any():
        out[~bad] = np.mean([st.rankdata(c[~bad]) for c in cols], axis=0)
    return out


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
    metrics: dict[str, float] = field(default_factory=dict, compare=False)  # `more_metrics`

    def row(self) -> dict[str, float]:
        """Flat columns for a table (`*_lo`/`*_hi` are the 95% interval), then `metrics`."""
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
            **self.metrics,
        }


TOP_KS = (0.01, 0.05, 0.1, 0.5)


def more_metrics(x: np.ndarray, y: np.ndarray, ks: Sequence[float] = TOP_KS) -> dict[str, float]:
    """NASLib-style figures beside the rank correlations: Pearson, and per top-k
    fraction the precision, the Kendall tau within the truly best k and the best truth
    rank among the top k by score (keys like "top5%_precision")."""
    x, y = finite_pairs(x, y)
    out = {"pearson": pearson(x, y)}
    for k in ks:
        name = f"top{k * 100:g}%"
        out[f"{name}_precision"] = top_k_precision(x, y, k)
        out[f"{name}_kendall"] = top_k_kendall(x, y, k)
        out[f"{name}_best_rank"] = best_true_rank(x, y, k)
    return out


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
        metrics=more_metrics(fx, fy),
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
