"""One architecture taken through the computation, for teaching: per-parameter saliency ->
per-layer S_n^l and sigma^l -> the three scores, and where layer-wise SSNR comes from.

Synflow's conservation law (Tanaka et al. 2020) is made visible: with absolute weights,
an all-ones input and BatchNorm bypassed, every set of layers that all paths from input
to output cross carries the same total saliency. In these spaces the first conv (stem)
and the final Linear are such cuts, so both sum to R - sum|b|, with R the summed output
and b the final Linear's bias (the bias reaches the output without a weight). Layers
inside cells are not cuts (skip connections bypass them), so their sums differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ssnr_core.proxies import aggregation, network
from ssnr_core.proxies.saliency import batchnorm_bypassed
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import get_space


@dataclass(frozen=True)
class Explanation:
    setup: Setup
    arch: str
    layers: pd.DataFrame  # per layer: group, count, sum, sigma, snr, share of S_n, of LW-SSNR
    scores: dict[str, float]  # sum, ssnr, layerwise_ssnr, and sigma (all weights)
    saliency: list[np.ndarray]  # per-parameter saliency of each layer (flattened, float64)
    conservation: dict[str, float] | None  # synflow only: R - sum|b|, stem sum, last-layer sum


def group_of(layer: str) -> str:
    """A coarse, space-independent place of a layer: 'stem', 'cell 3', 'classifier'."""
    parts = layer.removeprefix("encoder.").split(".")
    if parts[0] == "cells" and len(parts) > 1 and parts[1].isdigit():
        return f"cell {parts[1]}"
    return re.sub(r"\d+$", "", parts[0]) or parts[0]


def explain(setup: Setup, arch: str, data_dir: Path | None = None) -> Explanation:
    """Score one network live and lay out every intermediate quantity."""
    names, tensors = network.saliencies(setup, arch, data_dir=data_dir)
    values = [t.detach().reshape(-1).to(torch.float64).numpy() for t in tensors]
    stats = aggregation.layer_stats(values)
    cols = aggregation.per_layer(stats)
    scores = {k: float(v[0]) for k, v in aggregation.aggregate_all([stats]).items()}
    merged = aggregation.merge_all([stats])[0]
    scores["sigma"] = float(np.sqrt(merged[2] / merged[0])) if merged[0] else 0.0
    table = pd.DataFrame(
        {
            "layer": names,
            "group": [group_of(n) for n in names],
            "count": cols["count"].astype(int),
            "sum": cols["sum"],
            "sigma": cols["sigma"],
            "snr": cols["snr"],
        }
    )
    total, lw = scores["sum"], scores["layerwise_ssnr"]
    table["share_of_sum"] = table["sum"] / total if total else 0.0
    table["share_of_layerwise"] = table["snr"] / lw if lw else 0.0
    conservation = _conservation(setup, arch, table) if setup.saliency == "synflow" else None
    return Explanation(setup, arch, table, scores, values, conservation)


def _conservation(setup: Setup, arch: str, table: pd.DataFrame) -> dict[str, float]:
    """R - sum|b| of the network as synflow sees it, beside the stem's and the last layer's
    saliency sums (the two cuts every path crosses)."""
    model = network.build_network(setup, arch).double()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        bias = float(last.bias.sum()) if last.bias is not None else 0.0
        with batchnorm_bypassed(model):
            shape = get_space(setup.space).input_shape(setup.task)
            r = float(model(torch.ones((1, *shape), dtype=torch.float64)).sum())
    return {
        "R_minus_bias": r - bias,
        "first_layer_sum": float(table["sum"].iloc[0]),
        "last_layer_sum": float(table["sum"].iloc[-1]),
    }


def group_contributions(layer_names: Sequence[str], stats: np.ndarray) -> pd.Series:
    """Each group's part of layer-wise SSNR (sum over its layers of S_n^l / sigma^l): the
    rows of a heatmap across architectures."""
    snr = aggregation.per_layer(stats)["snr"]
    groups = [group_of(n) for n in layer_names]
    return pd.Series(snr, index=groups).groupby(level=0, sort=False).sum()
