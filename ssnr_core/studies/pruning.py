"""The pruning demo: how saliency sum, SSNR and accuracy respond as a trained net loses weights.

Protocol (the experiment is the pruning, the saliency is only measured): a small CNN
is trained for a few seconds on scikit-learn's 8x8 digits (seeded, CPU, no download).
For each target sparsity, the trained weights are masked one-shot, without retraining,
by a criterion that does not look at the saliency being measured: smallest magnitude
first (the classic pruning baseline) or a seeded random order. The masks are nested
(a weight pruned at 50% stays pruned at 60%). On each masked network the table records
test accuracy and the saliency statistics of the *full* network: every weight, the
pruned ones included (their saliency is 0), so the aggregations compare networks of
the same size, as a zero-cost proxy compares architectures.

What it shows (synflow, magnitude, global, seed 0, measured): at 60% sparsity the sum
S_n has lost a third while accuracy is unchanged (97.4% vs 97.8%) and overall SSNR,
S_n/sigma, has moved by 5%; it falls with accuracy, beyond 80%. S_n is a size: it
shrinks with every removed weight whether or not the network got worse. SSNR is a
ratio, blind to a common scale of the saliencies. Layer-wise SSNR falls in between
(each layer's sum loses its smallest terms while its spread barely moves). Random
pruning hurts accuracy at once, and every score falls with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ssnr_core.proxies import aggregation, saliency
from ssnr_core.runs.threads import one_thread

SALIENCIES = ("synflow", "snip")
SCOPES = ("global", "layer")
CRITERIA = ("magnitude", "random")
Progress = Callable[[int, int], None]  # (steps done, steps in all)


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


def priorities(weights: list[torch.Tensor], criterion: str, seed: int) -> list[torch.Tensor]:
    """Each weight's claim to survive: |w| (magnitude) or a seeded uniform draw (random)."""
    if criterion == "magnitude":
        return [w.detach().abs() for w in weights]
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(w.shape, generator=gen) for w in weights]


def masks_for(priority: list[torch.Tensor], keep: int, scope: str) -> list[torch.Tensor]:
    """Keep the `keep` highest-priority weights (globally), or the same fraction of each
    layer's (per layer). Ties are broken by position, so masks of a growing sparsity are
    nested: each keeps a prefix of one fixed order."""
    if scope == "global":
        flat = torch.cat([p.reshape(-1) for p in priority])
        chosen = torch.zeros(flat.numel(), dtype=torch.bool)
        chosen[torch.argsort(flat, descending=True, stable=True)[:keep]] = True
        return [
            m.reshape(p.shape)
            for m, p in zip(chosen.split([p.numel() for p in priority]), priority)
        ]
    total = sum(p.numel() for p in priority)
    out = []
    for p in priority:
        k = round(keep * p.numel() / total)
        new = torch.zeros(p.numel(), dtype=torch.bool)
        new[torch.argsort(p.reshape(-1), descending=True, stable=True)[:k]] = True
        out.append(new.reshape(p.shape))
    return out


def targets(final_sparsity: float, steps: int) -> list[float]:
    """0, then `steps` sparsities whose survivors shrink by the same factor each step."""
    return [0.0, *(1 - (1 - final_sparsity) ** (i / steps) for i in range(1, steps + 1))]


def prune_curve(
    saliency_name: str = "synflow",
    scope: str = "global",
    final_sparsity: float = 0.95,
    steps: int = 12,
    seed: int = 0,
    epochs: int = 12,
    criterion: str = "magnitude",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Train, then mask the trained weights at each of `targets(final_sparsity, steps)`;
    one row per sparsity, the unpruned network first.

    Columns: fraction_pruned, test_accuracy, sum, ssnr, layerwise_ssnr (aggregations of
    the saliency of every weight of the masked network), remaining, seconds."""
    if saliency_name not in SALIENCIES:
        raise ValueError(f"pruning supports {', '.join(SALIENCIES)}, not {saliency_name!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, not {criterion!r}")
    if not 0 < final_sparsity < 1 or steps < 1:
        raise ValueError("final_sparsity must be in (0, 1) and steps at least 1")
    start = time.perf_counter()
    data = load_digits(seed)
    model = train(data, seed, epochs)
    layers = [m for _, m in saliency.weight_layers(model)]
    trained = [m.weight.detach().clone() for m in layers]
    priority = priorities(trained, criterion, seed)
    total = sum(w.numel() for w in trained)
    sparsities = targets(final_sparsity, steps)
    rows = []
    with one_thread():
        for done, target in enumerate(sparsities):
            masks = masks_for(priority, total - round(target * total), scope)
            with torch.no_grad():
                for layer, w, m in zip(layers, trained, masks):
                    layer.weight.copy_(w * m)
            scores = saliency.compute(saliency_name, model, data.x_train[:256], data.y_train[:256])
            stats = aggregation.layer_stats(scores)
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
            if progress:
                progress(done + 1, len(sparsities))
    return pd.DataFrame(rows)


def relative(table: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and each aggregation divided by its value on the unpruned network (row 0):
    one linear axis where 1 means "as before pruning"."""
    out = table[["fraction_pruned"]].copy()
    for name in ["test_accuracy", *aggregation.AGGREGATIONS]:
        first = table[name].iloc[0]
        out[name] = table[name] / first if first else np.nan
    return out
