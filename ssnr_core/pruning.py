"""The pruning demo: how saliency sum, SSNR and accuracy respond as a trained net loses weights.

A small CNN is trained for a few seconds on scikit-learn's 8x8 digits (seeded, CPU,
no download), then its lowest-saliency weights are pruned in steps up to a high
sparsity. At each step the saliency is recomputed on the pruned network (pruned
weights are masked to zero, no retraining), the lowest-saliency remaining weights
are removed until the target fraction is reached, and the table records test
accuracy next to the saliency statistics of the weights that remain. It replays,
in miniature, the observation that the saliency sum S_n falls long before accuracy
does (synflow, global, seed 0: the sum is down a quarter at ~60% sparsity while
accuracy has not moved); the SSNR columns show how the normalised scores move.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ssnr_core import aggregation, saliency
from ssnr_core.threads import one_thread

SALIENCIES = ("synflow", "snip")
SCOPES = ("global", "layer")


@dataclass(frozen=True)
class Digits:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(seed: int = 0, test_size: float = 0.3) -> Digits:
    """scikit-learn's digits (1,797 8x8 images, bundled), scaled to [0, 1], split by seed."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    data = sk_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, data.target, test_size=test_size, random_state=seed, stratify=data.target
    )
    return Digits(
        torch.from_numpy(x_tr),
        torch.from_numpy(y_tr).long(),
        torch.from_numpy(x_te),
        torch.from_numpy(y_te).long(),
    )


class SmallCNN(nn.Sequential):
    """Two 3x3 conv layers and two linear layers: 38,160 weights, trains in seconds."""

    def __init__(self, width: int = 16) -> None:
        super().__init__(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 16, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )


def train(data: Digits, seed: int = 0, epochs: int = 12, batch_size: int = 64) -> SmallCNN:
    """Adam on the training split; seeded init and batch order, so runs repeat exactly."""
    torch.manual_seed(seed)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    with one_thread():
        for _ in range(epochs):
            for idx in torch.randperm(len(data.x_train), generator=gen).split(batch_size):
                opt.zero_grad()
                F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
                opt.step()
    model.eval()
    return model


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model(x).argmax(1) == y).float().mean())


def _scores(model: nn.Module, name: str, data: Digits) -> list[torch.Tensor]:
    """Per-weight saliency of the current (masked) network; snip sees a training batch."""
    x, y = data.x_train[:256], data.y_train[:256]
    return saliency.compute(name, model, x, y)


def _threshold_masks(
    scores: list[torch.Tensor], masks: list[torch.Tensor], keep: int, scope: str
) -> list[torch.Tensor]:
    """New masks keeping the `keep` highest-saliency surviving weights (globally), or the
    same fraction of each layer's weights (per layer). Pruned weights stay pruned."""
    if scope == "global":
        alive = torch.cat([s[m].reshape(-1) for s, m in zip(scores, masks)])
        if keep >= alive.numel():
            return masks
        # The keep-th largest surviving score; ties at the threshold are broken by order.
        order = torch.argsort(alive, descending=True, stable=True)
        chosen = torch.zeros(alive.numel(), dtype=torch.bool)
        chosen[order[:keep]] = True
        out, start = [], 0
        for m in masks:
            n = int(m.sum())
            new = torch.zeros_like(m)
            new[m] = chosen[start : start + n]
            out.append(new)
            start += n
        return out
    total = sum(m.numel() for m in masks)
    out = []
    for s, m in zip(scores, masks):
        k = min(int(m.sum()), round(keep * m.numel() / total))
        alive_idx = m.reshape(-1).nonzero().squeeze(1)
        order = torch.argsort(s.reshape(-1)[alive_idx], descending=True, stable=True)
        new = torch.zeros(m.numel(), dtype=torch.bool)
        new[alive_idx[order[:k]]] = True
        out.append(new.reshape(m.shape))
    return out


def _apply(model: nn.Module, masks: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for (_, layer), m in zip(saliency.weight_layers(model), masks):
            layer.weight.mul_(m.to(layer.weight.dtype))


def prune_curve(
    saliency_name: str = "synflow",
    scope: str = "global",
    final_sparsity: float = 0.95,
    steps: int = 12,
    seed: int = 0,
    epochs: int = 12,
) -> pd.DataFrame:
    """Train, then prune in `steps` geometric steps (equal shares of the survivors each
    time) to `final_sparsity`; one row per step, the unpruned network first.

    Columns: fraction_pruned, test_accuracy, sum, ssnr, layerwise_ssnr (aggregations of
    the surviving weights' saliency, recomputed on the pruned network), remaining, seconds.
    """
    if saliency_name not in SALIENCIES:
        raise ValueError(f"pruning supports {', '.join(SALIENCIES)}, not {saliency_name!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if not 0 < final_sparsity < 1 or steps < 1:
        raise ValueError("final_sparsity must be in (0, 1) and steps at least 1")
    start = time.perf_counter()
    data = load_digits(seed)
    model = train(data, seed, epochs)
    layers = [m for _, m in saliency.weight_layers(model)]
    masks = [torch.ones_like(m.weight, dtype=torch.bool) for m in layers]
    total = sum(m.numel() for m in masks)
    # Survivors shrink by the same factor each step: early steps remove few weights.
    targets = [0.0, *(1 - (1 - final_sparsity) ** (i / steps) for i in range(1, steps + 1))]
    rows = []
    with one_thread():
        for target in targets:
            keep = total - round(target * total)
            if keep < total:
                masks = _threshold_masks(_scores(model, saliency_name, data), masks, keep, scope)
                _apply(model, masks)
            scores = _scores(model, saliency_name, data)
            stats = aggregation.layer_stats([s[m] for s, m in zip(scores, masks)])
            remaining = int(sum(int(m.sum()) for m in masks))
            rows.append(
                {
                    "fraction_pruned": 1 - remaining / total,
                    "test_accuracy": accuracy(model, data.x_test, data.y_test),
                    **{name: fn(stats) for name, fn in aggregation.AGGREGATIONS.items()},
                    "remaining": remaining,
                    "seconds": time.perf_counter() - start,
                }
            )
    return pd.DataFrame(rows)


def relative(table: pd.DataFrame) -> pd.DataFrame:
    """Each aggregation divided by its value on the unpruned network (row 0), for one axis."""
    out = table[["fraction_pruned"]].copy()
    for name in aggregation.AGGREGATIONS:
        first = table[name].iloc[0]
        out[name] = table[name] / first if first else np.nan
    return out
