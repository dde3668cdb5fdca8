"""The pruning demo's science: a trained digits CNN, pruned by magnitude to 90%+ sparsity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ssnr_core.proxies import aggregation
from ssnr_core.studies import pruning


@pytest.fixture(scope="module")
def curve() -> pd.DataFrame:
    return pruning.prune_curve("synflow", "global", final_sparsity=0.95, steps=12, seed=0)


def test_the_trained_net_is_accurate_and_pruning_reaches_high_sparsity(curve: pd.DataFrame):
    assert curve["test_accuracy"].iloc[0] > 0.9
    assert curve["fraction_pruned"].iloc[0] == 0
    assert curve["fraction_pruned"].iloc[-1] == pytest.approx(0.95, abs=1e-3)
    assert (np.diff(curve["fraction_pruned"]) > 0).all()
    assert (np.diff(curve["remaining"]) < 0).all()
    assert curve["test_accuracy"].iloc[-1] < curve["test_accuracy"].iloc[0]


def test_the_sum_drops_long_before_accuracy_while_ssnr_holds(curve: pd.DataFrame):
    rel = pruning.relative(curve)
    s = rel["sum"].to_numpy()
    assert (np.diff(s) <= 0.02).all()  # monotone, up to 2% wiggle
    assert s[-1] < 0.1
    # Where the sum has lost a quarter, accuracy is within two points of the start and overall
    # SSNR within 10%: the sum measures size, SSNR does not.
    quarter = int(np.argmax(s < 0.75))
    assert quarter > 0
    assert curve["test_accuracy"].iloc[quarter] >= curve["test_accuracy"].iloc[0] - 0.02
    assert rel["ssnr"].iloc[quarter] > 0.9
    # Once accuracy has fallen, SSNR has fallen too.
    assert rel["ssnr"].iloc[-1] < 0.8 and rel["test_accuracy"].iloc[-1] < 0.6
    assert curve[list(aggregation.AGGREGATIONS)].notna().all().all()


def test_masks_are_nested_and_per_layer_keeps_each_layers_share():
    priority = [torch.arange(10.0), torch.arange(30.0).reshape(3, 10), torch.ones(60)]
    layer = pruning.masks_for(priority, keep=50, scope="layer")
    assert [int(m.sum()) for m in layer] == [5, 15, 30]
    assert layer[0].tolist() == [False] * 5 + [True] * 5  # the highest priority survives
    glob = pruning.masks_for(priority, keep=50, scope="global")
    assert sum(int(m.sum()) for m in glob) == 50
    fewer = pruning.masks_for(priority, keep=20, scope="global")
    assert all(not (f & ~g).any() for f, g in zip(fewer, glob))  # pruned weights stay pruned


def test_random_pruning_is_seeded_and_the_progress_is_reported():
    seen = []
    kw = {"final_sparsity": 0.9, "steps": 3, "seed": 1, "epochs": 3, "criterion": "random"}
    a = pruning.prune_curve("snip", "layer", progress=lambda d, n: seen.append((d, n)), **kw)
    b = pruning.prune_curve("snip", "layer", **kw)
    cols = ["fraction_pruned", "test_accuracy", "sum", "ssnr", "layerwise_ssnr"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert a["fraction_pruned"].iloc[-1] == pytest.approx(0.9, abs=1e-3)
    rel = pruning.relative(a)
    assert (rel.iloc[0, 1:] == 1).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"saliency_name": "grasp"},
        {"scope": "row"},
        {"final_sparsity": 1.0},
        {"steps": 0},
        {"criterion": "x"},
    ],
)
def test_bad_settings_raise(kwargs: dict):
    with pytest.raises(ValueError):
        pruning.prune_curve(**kwargs)
