"""Per-layer sufficient statistics of saliency, and the scores derived from them.

A network's saliency is stored as an (L, 3) float64 array: per weight layer l the
count n_l, the sum S_n^l and M2_l = Σ (S_p - mean_l)², the sum of squared
deviations (two-pass, so the variance stays exact when sums reach 1e30). Every
aggregation is a pure function of that array; nothing is recomputed.

Documented values:
- a layer with σ_l = 0 (all saliencies equal, e.g. a dead edge whose saliency is
  all zero) or with no weights contributes 0 to layer-wise SSNR; overall SSNR is 0
  when σ = 0;
- any NaN or ±inf in a network's statistics makes every aggregation of it NaN;
  correlations drop NaN scores and report how many they dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

COUNT, SUM, M2 = 0, 1, 2


def layer_stats(saliencies: Sequence[torch.Tensor | np.ndarray]) -> np.ndarray:
    """(L, 3) float64 array of (count, sum, M2) for each layer's saliency tensor."""
    out = np.zeros((len(saliencies), 3), dtype=np.float64)
    for i, s in enumerate(saliencies):
        t = torch.as_tensor(s).detach().to(torch.float64).reshape(-1)
        n = t.numel()
        if n == 0:
            continue
        total = t.sum()
        out[i] = (n, total.item(), (t - total / n).square().sum().item())
    return out


def merge(stats: np.ndarray) -> np.ndarray:
    """One (count, sum, M2) row for all layers together (Chan et al.'s parallel update)."""
    n, s, m2 = stats[:, COUNT], stats[:, SUM], stats[:, M2]
    total_n = n.sum()
    if total_n == 0:
        return np.zeros(3)
    mean = s.sum() / total_n
    with np.errstate(invalid="ignore", divide="ignore"):
        layer_mean = np.where(n > 0, s / np.where(n > 0, n, 1), 0.0)
    return np.array([total_n, s.sum(), (m2 + n * (layer_mean - mean) ** 2).sum()])


def _sigma(n: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """Population standard deviation; 0 where a layer is empty."""
    return np.sqrt(np.divide(m2, n, out=np.zeros_like(m2), where=n > 0))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with the documented 0 where den == 0."""
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _finite_or_nan(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], float]:
    def wrapped(stats: np.ndarray) -> float:
        stats = np.asarray(stats, dtype=np.float64).reshape(-1, 3)
        return fn(stats) if np.isfinite(stats).all() else float("nan")

    wrapped.__doc__ = fn.__doc__
    wrapped.__name__ = fn.__name__
    return wrapped


@_finite_or_nan
def total(stats: np.ndarray) -> float:
    """S_n = Σ_i S_p_i, the classic zero-cost score."""
    return float(stats[:, SUM].sum())


@_finite_or_nan
def ssnr(stats: np.ndarray) -> float:
    """S_n / σ with σ the population std of all saliencies."""
    n, s, m2 = merge(stats)
    return float(_ratio(np.array([s]), _sigma(np.array([n]), np.array([m2])))[0])


@_finite_or_nan
def layerwise_ssnr(stats: np.ndarray) -> float:
    """Σ_l S_n^l / σ^l over weight layers l."""
    return float(_ratio(stats[:, SUM], _sigma(stats[:, COUNT], stats[:, M2])).sum())


AGGREGATIONS: dict[str, Callable[[np.ndarray], float]] = {
    "sum": total,
    "ssnr": ssnr,
    "layerwise_ssnr": layerwise_ssnr,
}
LABELS = {"sum": "sum (S_n)", "ssnr": "overall SSNR", "layerwise_ssnr": "layer-wise SSNR"}


def aggregate(stats: np.ndarray, name: str) -> float:
    if name not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {name!r}; choose from {', '.join(AGGREGATIONS)}")
    return AGGREGATIONS[name](stats)


def per_layer(stats: np.ndarray) -> dict[str, np.ndarray]:
    """Columns for a per-layer table: count, S_n^l, σ^l and S_n^l / σ^l."""
    stats = np.asarray(stats, dtype=np.float64).reshape(-1, 3)
    sigma = _sigma(stats[:, COUNT], stats[:, M2])
    return {
        "count": stats[:, COUNT],
        "sum": stats[:, SUM],
        "sigma": sigma,
        "snr": _ratio(stats[:, SUM], sigma),
    }
