"""Per-layer sufficient statistics of saliency, and the scores derived from them.

A network's saliency is stored as an (L, 3) float64 array: per weight layer l the
count n_l, the sum S_n^l and M2_l = Σ (S_p - mean_l)², the sum of squared
deviations (two-pass, so the variance stays exact when sums reach 1e30). Every
aggregation is a pure function of that array; nothing is recomputed.

Documented values:
- a layer with σ_l = 0 (all saliencies equal, e.g. a dead edge whose saliency is
  all zero) or with no weights contributes 0 to layer-wise SSNR; overall SSNR is 0
  when σ = 0; a network with no weight layers is an error;
- any NaN or ±inf in a network's statistics makes every aggregation of it NaN;
  correlations drop NaN scores and report how many they dropped;
- scores are rounded to `SIGNIFICANT` (7) significant digits, about what float32
  statistics carry: architectures that are equal in exact arithmetic (isomorphic cells,
  cells that differ only in dead edges) then tie, rather than being ordered by rounding
  noise that differs between float32 and float64, or between batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

COUNT, SUM, M2 = 0, 1, 2
SIGNIFICANT = 7


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


def _segments(stats: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All networks' layers stacked, with each network's first row and layer count."""
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 3) for s in stats]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    if (lengths == 0).any():
        raise ValueError("a network has no weight layers to aggregate")
    flat = np.concatenate(arrays) if arrays else np.zeros((0, 3))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return flat, starts[: len(arrays)], lengths


def _sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts) if len(starts) else np.zeros(0)


def merge_all(stats: Sequence[np.ndarray]) -> np.ndarray:
    """(count, sum, M2) over all layers of each network: Chan et al.'s parallel update."""
    flat, starts, lengths = _segments(stats)
    n, s, m2 = flat[:, COUNT], flat[:, SUM], flat[:, M2]
    total_n, total = _sum(n, starts), _sum(s, starts)
    mean = np.repeat(_ratio(total, total_n), lengths)
    dev = (_ratio(s, n) - mean) ** 2 * n
    return np.stack([total_n, total, _sum(m2 + dev, starts)], axis=1)


def _sigma(n: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """Population standard deviation; 0 where a layer is empty."""
    return np.sqrt(_ratio(m2, n))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with the documented 0 where den == 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def aggregate_all(stats: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Every aggregation of many networks at once (one vectorised pass; the full NB201
    space in milliseconds). NaN for a network with any non-finite statistic."""
    flat, starts, lengths = _segments(stats)
    finite = _sum(np.isfinite(flat).all(axis=1).astype(np.int64), starts) == lengths
    with np.errstate(invalid="ignore", over="ignore"):
        merged = merge_all(stats)
        snr = _ratio(flat[:, SUM], _sigma(flat[:, COUNT], flat[:, M2]))
        out = {
            "sum": merged[:, SUM],
            "ssnr": _ratio(merged[:, SUM], _sigma(merged[:, COUNT], merged[:, M2])),
            "layerwise_ssnr": _sum(snr, starts),
        }
    return {k: _significant(np.where(finite, v, np.nan)) for k, v in out.items()}


def _significant(values: np.ndarray, digits: int = SIGNIFICANT) -> np.ndarray:
    """`values` rounded to `digits` significant digits (0, NaN and ±inf kept)."""
    out = np.array(values, dtype=np.float64)
    keep = np.isfinite(out) & (out != 0)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(out[keep]))))
    out[keep] = np.round(out[keep] * scale) / scale
    return out


def total(stats: np.ndarray) -> float:
    """S_n = Σ_i S_p_i, the classic zero-cost score."""
    return float(aggregate_all([stats])["sum"][0])


def ssnr(stats: np.ndarray) -> float:
    """S_n / σ with σ the population std of all saliencies."""
    return float(aggregate_all([stats])["ssnr"][0])


def layerwise_ssnr(stats: np.ndarray) -> float:
    """Σ_l S_n^l / σ^l over weight layers l."""
    return float(aggregate_all([stats])["layerwise_ssnr"][0])


AGGREGATIONS: dict[str, Callable[[np.ndarray], float]] = {
    "sum": total,
    "ssnr": ssnr,
    "layerwise_ssnr": layerwise_ssnr,
}
LABELS = {"sum": "sum (S_n)", "ssnr": "overall SSNR", "layerwise_ssnr": "layer-wise SSNR"}


def label(name: str) -> str:
    """A score's display name: an aggregation's label, else the name itself (a
    per-network measure's score or component, e.g. az_nas, trainability)."""
    return LABELS.get(name, name)


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
